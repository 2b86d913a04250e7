// End to end through the README's main job: `ironlb lab up`, both scenarios, `lab down`; the real
// controller and speakers against a real API server, FRR, real ARP and real TCP from the clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.getuid?.() === 0;
const stateDir = mkdtempSync(join(tmpdir(), 'ironlb-lab-state-'));
const registryDir = mkdtempSync(join(tmpdir(), 'ironlb-lab-registry-'));
const env = { ...process.env, IRONLB_LAB_DIR: stateDir, IRONLB_LAB_REGISTRY: registryDir };

function lab(args: string[], timeoutMs = 180_000) {
  const r = spawnSync(process.execPath, ['bin/ironlb.js', 'lab', ...args], { encoding: 'utf8', env, timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function supervisorPid(): number | undefined {
  const f = join(stateDir, 'lab.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { supervisorPid: number }).supervisorPid : undefined;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Run ids this test's labs have used (from its own registry), so other tests' labs are never counted. */
const seenIds = new Set<string>();

function labNamespaces(): string[] {
  for (const f of readdirSync(registryDir)) if (f.endsWith('.json')) seenIds.add(f.slice(0, -5));
  if (seenIds.size === 0) return [];
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => [...seenIds].some((id) => ns.startsWith(`ilb-${id}-`)));
}

describe('ironlb lab (end to end)', { skip: root ? false : 'needs root (network namespaces)' }, () => {
  let namespacesSeen: string[] = [];

  before(() => {
    // Nothing of ours may be left over from an earlier, killed run.
    lab(['down'], 60_000);
  });

  after(() => {
    const pid = supervisorPid();
    lab(['down'], 90_000);
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(registryDir, { recursive: true, force: true });
  });

  it('lab up builds the network and shows a Service answering the client', () => {
    const t0 = Date.now();
    const r = lab(['up', '--nodes', '3']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /lab up in [\d.]+ s: 3 nodes, router frr/);
    assert.match(r.out, /✔ hello answered: http:\/\/10\.99\.0\.240\/ answered by node\d/);
    assert.match(r.out, /kubeconfig: .*kubeconfig/);
    namespacesSeen = labNamespaces();
    assert.ok(namespacesSeen.length >= 6, `namespaces: ${namespacesSeen.join(' ')}`);
    console.log(`lab up (incl. the hello check) took ${Date.now() - t0} ms`);
  });

  it('lab up a second time says it is already up and breaks nothing', () => {
    const r = lab(['up']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /already up/);
    assert.deepEqual(labNamespaces(), namespacesSeen);
  });

  it('lab status shows the lab and its service', () => {
    const r = lab(['status']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /router frr, nodes node1, node2, node3/);
    assert.match(r.out, /service lab\/hello: 10\.99\.0\.240/);
  });

  it('demo layer2: IP assigned, curl answered by the elected node, failover to another node', () => {
    const r = lab(['demo', 'layer2']);
    assert.equal(r.status, 0, r.out);
    for (const check of ['IP assigned', 'curl answered', 'failover happened']) assert.match(r.out, new RegExp(`✔ ${check}`));
    const m = /failover happened: (node\d) → (node\d), downtime (\d+) ms/.exec(r.out);
    assert.ok(m && m[1] !== m[2], r.out);
    console.log(`layer2 failover downtime: ${m?.[3]} ms`);
  });

  it('demo bgp: sessions from every node, ECMP in the router, curls spread over the nodes', () => {
    const r = lab(['demo', 'bgp']);
    assert.equal(r.status, 0, r.out);
    for (const check of ['sessions established: 3 of 3', 'IP assigned', 'ECMP: 3 paths', 'curls answered: 30 of 30', 'spread over nodes']) {
      assert.match(r.out, new RegExp(`✔ ${check}`));
    }
  });

  it('lab down removes every namespace, process and file it made', () => {
    const pid = supervisorPid();
    const r = lab(['down']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /the lab is down/);
    assert.deepEqual(labNamespaces(), []);
    assert.ok(pid && !alive(pid), 'supervisor gone');
    assert.deepEqual(readdirSync(registryDir), [], 'no run record left');
    assert.ok(!existsSync(join(stateDir, 'lab.json')));
  });

  it('lab down also cleans up after a lab whose supervisor was killed while starting', async () => {
    const child = spawnSync('sh', ['-c', `${process.execPath} bin/ironlb.js lab up --nodes 2 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8', env });
    assert.ok(Number(child.stdout.trim()) > 0);
    // Wait until the supervisor has built some of the lab, then kill it outright.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && labNamespaces().length === 0) await new Promise((r) => setTimeout(r, 100));
    const pid = supervisorPid();
    assert.ok(pid, 'a supervisor started');
    process.kill(pid!, 'SIGKILL');
    try {
      process.kill(Number(child.stdout.trim()), 'SIGKILL');
    } catch {
      // the `lab up` client may have exited already
    }
    const r = lab(['down']);
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(labNamespaces(), []);
    assert.deepEqual(readdirSync(registryDir), [], 'no run record left');
  });

  it('answers a newcomer\'s mistakes with what to do', () => {
    const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/ironlb.js', 'lab', 'up'], { encoding: 'utf8', env });
    assert.notEqual(asNobody.status, 0);
    assert.match(asNobody.stderr, /run it as root/);
    const badRouter = lab(['up', '--router', 'cisco']);
    assert.notEqual(badRouter.status, 0);
    assert.match(badRouter.out, /--router: "cisco" must be frr, bird or gobgp/);
    const badNodes = lab(['up', '--nodes', '12']);
    assert.match(badNodes.out, /--nodes: "12" must be a whole number from 1 to 9/);
    const noLab = lab(['demo', 'layer2']);
    assert.notEqual(noLab.status, 0);
    assert.match(noLab.out, /no lab is running: ironlb lab up/);
    const unknown = lab(['demo', 'nope']);
    assert.match(unknown.out, /unknown scenario "nope"; available: layer2/);
  });
});
