// Real namespaces: the standard lab is built, hosts reach each other on a segment and through the
// router (IPv4 and IPv6), a switch port goes down and up, and teardown leaves nothing behind, also
// after the creating process was SIGKILLed (registry-based cleanup).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listNamespaces, namespacePids } from '../../../src/lab/network/namespace.ts';
import { pidStartTime } from '../../../src/lab/network/pid.ts';
import { readRecord } from '../../../src/lab/network/registry.ts';
import { labUnavailable } from '../../../src/lab/network/requirements.ts';
import { FAR, nodeIPv4, nodeIPv6, standardLabSpec } from '../../../src/lab/network/standard-lab.ts';
import { destroyRun, destroyStaleRuns, listRuns } from '../../../src/lab/network/teardown.ts';
import { createTopology, type Topology } from '../../../src/lab/network/topology.ts';
import { waitFor } from '../../../src/lab/network/wait-for.ts';

const skip = labUnavailable(['ping']);

/** Every run this file creates is recorded here, so the after hook can remove all of them. */
const registryDir = mkdtempSync(join(tmpdir(), 'ironlb-lab-registry-test-'));
after(() => {
  for (const run of listRuns({ registryDir })) destroyRun(run.id, { registryDir });
  rmSync(registryDir, { recursive: true, force: true });
});

const nothingLeft = (prefix: string): void => {
  assert.deepEqual(listNamespaces().filter((n) => n.startsWith(`${prefix}-`)), [], `namespaces of ${prefix} are gone`);
};

describe('lab topology', { skip }, () => {
  let lab: Topology;
  before(() => {
    lab = createTopology(standardLabSpec({ nodes: 2 }), { registryDir });
  });
  after(() => lab?.destroy());

  const ping = (from: string, to: string, timeoutS = 1) => lab.execAsync(from, ['ping', '-c', '1', '-W', String(timeoutS), to]);
  const pings = async (from: string, to: string): Promise<string> => {
    const r = await ping(from, to);
    assert.equal(r.status, 0, `${from} → ${to}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  it('puts every host in its own namespace with lo up and DAD off', () => {
    assert.deepEqual(
      listNamespaces().filter((n) => n.startsWith(`${lab.prefix}-`)).sort(),
      ['client', 'far', 'node1', 'node2', 'router', 'sw'].map((h) => `${lab.prefix}-${h}`),
    );
    assert.match(lab.prefix, /^ilb-[0-9a-f]{6}$/);
    assert.match(lab.mustExec('node1', ['ip', 'link', 'show', 'lo']), /UP/);
    assert.equal(lab.mustExec('node1', ['sysctl', '-n', 'net.ipv6.conf.eth0.accept_dad']).trim(), '0');
    assert.match(lab.mustExec('node1', ['ip', 'link', 'show', 'eth0']), /link\/ether 02:49:4c:00:02:00/);
    assert.equal(lab.mustExec('router', ['sysctl', '-n', 'net.ipv4.fib_multipath_hash_policy']).trim(), '1');
    assert.equal(lab.mustExec('router', ['sysctl', '-n', 'net.ipv4.ip_forward']).trim(), '1');
    // IPv6 addresses are usable at once (not "tentative").
    assert.doesNotMatch(lab.mustExec('node1', ['ip', '-6', 'addr', 'show', 'dev', 'eth0']), /tentative/);
  });

  it('hosts on one segment reach each other (IPv4 and IPv6)', async () => {
    await pings('node1', nodeIPv4(2));
    await pings('node1', nodeIPv6(2));
    await pings('client', nodeIPv4(1));
  });

  it('the far client is reached only through the router (IPv4 and IPv6)', async () => {
    assert.match(await pings('node1', '10.98.0.2'), /ttl=63/); // one hop: forwarded by the router
    assert.match(await pings('node1', 'fd98::2'), /ttl=63/);
    assert.match(await pings('far', nodeIPv4(2)), /ttl=63/);
    assert.equal(lab.host('far').gateway4, FAR.router4);
  });

  it('a switch port down is a pulled cable; up again restores the host', async () => {
    lab.linkDown('node2');
    try {
      assert.match(lab.mustExec('node2', ['ip', 'link', 'show', 'eth0']), /NO-CARRIER|LOWERLAYERDOWN/);
      const r = await ping('node1', nodeIPv4(2));
      assert.notEqual(r.status, 0, 'no reply while the port is down');
    } finally {
      lab.linkUp('node2');
    }
    await waitFor(async () => (await ping('node1', nodeIPv4(2))).status === 0, { timeoutMs: 5_000, what: 'node2 reachable again' });
    await pings('node1', nodeIPv6(2));
  });

  it('tracks spawned processes by PID in the registry', async () => {
    const p = lab.spawn('node1', ['sleep', '300']);
    assert.ok(lab.record().processes.some((r) => r.pid === p.pid && r.ns === lab.ns('node1')));
    // For a few ms the child is still `ip` in the root namespace; then it is the command itself, inside.
    await waitFor(() => namespacePids(lab.ns('node1')).includes(p.pid), { timeoutMs: 2_000, what: 'the PID inside the namespace' });
    assert.match(readFileSync(`/proc/${p.pid}/cmdline`, 'utf8'), /^sleep\x00300\x00$/);
    assert.equal(readRecord(registryDir, lab.id)?.processes.some((r) => r.pid === p.pid), true);
    await p.stop();
    assert.equal(pidStartTime(p.pid), undefined);
    await waitFor(() => !readRecord(registryDir, lab.id)?.processes.some((r) => r.pid === p.pid), { timeoutMs: 2_000, what: 'record updated' });
  });
});

describe('lab teardown', { skip }, () => {
  const small = {
    segments: [{ name: 'lan', ipv4: '10.99.0.0/24', ipv6: 'fd99::/64' }],
    hosts: [
      { name: 'a', interfaces: [{ segment: 'lan', ipv4: '10.99.0.1' }] },
      { name: 'b', interfaces: [{ segment: 'lan', ipv4: '10.99.0.2' }] },
    ],
  };

  it('destroy() kills tracked and untracked processes, deletes namespaces, dirs and the record; twice is fine', async () => {
    const t = createTopology(small, { registryDir });
    const tracked = t.spawn('a', ['sleep', '300']);
    // A process the topology does not know about (started with ip netns exec directly).
    const stray: ChildProcess = spawn('ip', ['netns', 'exec', t.ns('b'), 'sleep', '300'], { stdio: 'ignore' });
    await waitFor(() => namespacePids(t.ns('b')).includes(stray.pid!), { timeoutMs: 2_000, what: 'stray process inside b' });
    const strayGone = new Promise((resolve) => stray.once('exit', resolve));
    assert.ok(existsSync(t.dir));

    const report = t.destroy();
    assert.deepEqual(report.problems, []);
    assert.ok(report.killed.includes(tracked.pid), 'the tracked process was killed');
    assert.ok(report.killed.includes(stray.pid!), 'the untracked one too, found by ip netns pids');
    nothingLeft(t.prefix);
    assert.equal(pidStartTime(tracked.pid), undefined);
    await strayGone;
    assert.equal(existsSync(t.dir), false);
    assert.equal(readRecord(registryDir, t.id), undefined);
    assert.equal(t.destroy(), report, 'idempotent');
    assert.equal(destroyRun(t.id, { registryDir }), undefined);
    assert.throws(() => t.spawn('a', ['true']), /destroyed/);
  });

  it('a failed create removes what it had made', () => {
    const before = listNamespaces();
    // The gateway is not on the segment: the last step fails after the namespaces exist.
    assert.throws(() =>
      createTopology({ ...small, hosts: [{ name: 'a', interfaces: [{ segment: 'lan', ipv4: '10.99.0.1' }], gateway4: '192.0.2.1' }] }, { registryDir }),
    );
    assert.deepEqual(listNamespaces().filter((n) => !before.includes(n) && n.startsWith('ilb-')), []);
  });

  type Made = { id: string; prefix: string; dir: string; namespaces: string[]; pid: number };
  type Runs = { ordinary: Made; persistent: Made };
  const script = fileURLToPath(new URL('./topology.test-crashing-run.ts', import.meta.url));

  /** Starts the child; resolves with what it built and a promise of its exit. */
  const startChild = async (t: TestContext, mode: 'idle' | 'exit') => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, registryDir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      void exited.then(({ code }) => reject(new Error(`child exited ${code} before reporting: ${stderr}`)));
    });
    return { child, made: JSON.parse(line) as Runs, exited };
  };
  const stillThere = (m: Made): void => {
    assert.ok(pidStartTime(m.pid) !== undefined, `${m.prefix}: its process outlived the creator`);
    for (const ns of m.namespaces) assert.ok(listNamespaces().includes(ns), `${ns} still there`);
  };
  const gone = (m: Made): void => {
    nothingLeft(m.prefix);
    assert.equal(pidStartTime(m.pid), undefined, `${m.prefix}: process ${m.pid} gone`);
    assert.equal(existsSync(m.dir), false, `${m.dir} removed`);
    assert.equal(readRecord(registryDir, m.id), undefined, `${m.id} record removed`);
  };

  it('after a crash (SIGKILL), destroyStaleRuns cleans up the ordinary run and leaves a persistent one to destroyRun', async (t) => {
    const { child, made, exited } = await startChild(t, 'idle');
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    stillThere(made.ordinary);
    stillThere(made.persistent);

    const reports = destroyStaleRuns({ registryDir });
    assert.deepEqual(reports.map((r) => r.id), [made.ordinary.id], 'only the ordinary run is stale (the persistent one and runs of live owners are kept)');
    assert.deepEqual(reports[0]!.problems, []);
    assert.ok(reports[0]!.killed.includes(made.ordinary.pid));
    gone(made.ordinary);
    stillThere(made.persistent);

    assert.deepEqual(destroyRun(made.persistent.id, { registryDir })?.problems, []);
    gone(made.persistent);
    assert.deepEqual(destroyStaleRuns({ registryDir }), []);
  });

  it('a normal exit and a SIGTERM clean up the ordinary run by themselves; persistent runs stay', async (t) => {
    for (const how of ['exit', 'SIGTERM'] as const) {
      const { child, made, exited } = await startChild(t, how === 'exit' ? 'exit' : 'idle');
      if (how === 'SIGTERM') process.kill(child.pid!, 'SIGTERM');
      const status = await exited;
      if (how === 'SIGTERM') assert.equal(status.signal, 'SIGTERM', 'it still dies of the signal');
      else assert.equal(status.code, 0);
      gone(made.ordinary);
      stillThere(made.persistent);
      destroyRun(made.persistent.id, { registryDir });
      gone(made.persistent);
    }
  });
});
