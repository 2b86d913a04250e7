// Interop with a real BFD peer: FRR's bfdd in namespace a (10.99.0.1, fd99::1), our UdpBfdFactory in a
// child process in namespace b (10.99.0.2, fd99::2), joined by a veth. Sessions over IPv4 and IPv6 with
// 100 ms timers. FRR drops single-hop packets whose TTL / hop limit is not 255 ("invalid TTL" in its log),
// so FRR coming Up also proves the TTL we send.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createNetnsPair, type NetnsPair, type ScriptProcess } from '../net/netns.test-support.ts';
import type { BFDProfile } from '../../src/config/model.ts';

const BFDD = '/usr/lib/frr/bfdd';
const CHILD = 'test/bfd/bfd-peer.ts';
const DETECTION_MS = 3 * 100;
/** Process start-up, `ip link` and stdout latency on a busy 2-core machine. */
const MARGIN_MS = 400;

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and FRR need root';
  if (!existsSync(BFDD)) return `${BFDD} is not installed (apt-get install frr)`;
  for (const tool of ['ip', 'vtysh']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (spawnSync('id', ['frr']).status !== 0) return 'user frr does not exist';
  return undefined;
}

interface FrrPeer {
  peer: string;
  status: string;
  diagnostic: string;
  'remote-diagnostic': string;
  'remote-id': number;
  'remote-receive-interval': number;
  'remote-transmit-interval': number;
  'remote-detect-multiplier': number;
}

const profile: BFDProfile = {
  name: 'fast',
  receiveIntervalMs: 100,
  transmitIntervalMs: 100,
  detectMultiplier: 3,
  echoIntervalMs: 50,
  echoMode: false,
  passiveMode: false,
  minimumTtl: 254,
};

describe('BFD interop with FRR bfdd', { skip: skipReason() }, () => {
  let pair: NetnsPair;
  let dir: string;
  let child: ScriptProcess;
  let peers: { v4: string; v6: string };

  const frrPeers = (): Map<string, FrrPeer> => {
    const r = pair.exec(pair.a.ns, ['vtysh', '--vty_socket', join(dir, 'run'), '-c', 'show bfd peers json']);
    if (r.status !== 0) throw new Error(`vtysh failed: ${r.stderr}`);
    return new Map((JSON.parse(r.stdout) as FrrPeer[]).map((p) => [p.peer, p]));
  };
  const frrStatus = async (want: string, timeoutMs: number): Promise<Map<string, FrrPeer>> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const all = frrPeers();
      if ([pair.b.ipv4, pair.b.ipv6].every((p) => all.get(p)?.status === want)) return all;
      if (Date.now() > end) throw new Error(`FRR peers not ${want} after ${timeoutMs} ms: ${JSON.stringify([...all.values()])}`);
      await sleep(50);
    }
  };
  const stats = async (): Promise<{ stats: { received: number; accepted: number; dropped: Record<string, number> } }> => {
    child.send('stats');
    return (await child.next('stats')) as never;
  };
  const linkB = (state: 'up' | 'down'): void => {
    const r = pair.exec(pair.b.ns, ['ip', 'link', 'set', pair.b.ifname, state]);
    assert.equal(r.status, 0, r.stderr);
  };

  before(async () => {
    pair = createNetnsPair('bfd');
    peers = { v4: pair.a.ipv4, v6: pair.a.ipv6 };
    // Keep the IPv6 addresses when a link goes down (the default flushes them, and nothing would re-add them).
    for (const end of [pair.a, pair.b]) {
      assert.equal(pair.exec(end.ns, ['sysctl', '-qw', `net.ipv6.conf.${end.ifname}.keep_addr_on_down=1`]).status, 0);
    }
    dir = mkdtempSync(join(tmpdir(), 'ironlb-bfdd-'));
    // Interrupted: remove it before the netns support's signal handler (which cleans the namespaces) re-raises.
    const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
    process.once('exit', removeDir);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.prependOnceListener(signal, removeDir);
    const run = join(dir, 'run');
    spawnSync('mkdir', ['-p', run]);
    writeFileSync(
      join(dir, 'bfdd.conf'),
      [
        `log file ${join(dir, 'bfdd.log')} debugging`,
        'debug bfd peer',
        'debug bfd network',
        'bfd',
        ` peer ${pair.b.ipv4} local-address ${pair.a.ipv4}`,
        '  receive-interval 100',
        '  transmit-interval 100',
        '  detect-multiplier 3',
        ' !',
        ` peer ${pair.b.ipv6} local-address ${pair.a.ipv6}`,
        '  receive-interval 100',
        '  transmit-interval 100',
        '  detect-multiplier 3',
        ' !',
        '!',
        '',
      ].join('\n'),
    );
    const frr = spawnSync('id', ['-u', 'frr'], { encoding: 'utf8' });
    const frrGid = spawnSync('id', ['-g', 'frr'], { encoding: 'utf8' });
    for (const p of [dir, run, join(dir, 'bfdd.conf')]) chownSync(p, Number(frr.stdout), Number(frrGid.stdout));
    // -d forks: bfdd stays in namespace a, and pair.cleanup() kills whatever `ip netns pids` lists there.
    const started = pair.exec(pair.a.ns, [
      BFDD, '-d', '-u', 'frr', '-g', 'frr', '-f', join(dir, 'bfdd.conf'), '-i', join(run, 'bfdd.pid'),
      '--vty_socket', run, '-z', join(run, 'zserv.api'), '-P', '0', '--bfdctl', join(run, 'bfdd.sock'),
    ]);
    assert.equal(started.status, 0, `bfdd: ${started.stderr}`);
    const end = Date.now() + 5000;
    while (!existsSync(join(run, 'bfdd.vty'))) {
      if (Date.now() > end) throw new Error('bfdd did not open its vty socket');
      await sleep(20);
    }
    child = pair.spawnScript(pair.b.ns, CHILD, [
      JSON.stringify([
        { peer: pair.a.ipv4, local: pair.b.ipv4 },
        { peer: pair.a.ipv6, local: pair.b.ipv6 },
      ]),
      JSON.stringify(profile),
    ]);
    await child.next('ready', 15_000);
  });

  after(() => {
    pair?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('comes Up on both sides over IPv4 and IPv6, and FRR learns our 100 ms timers by Poll/Final', async () => {
    const t0 = Date.now();
    const [up4, up6] = await Promise.all([child.next(`Up:${peers.v4}`, 10_000), child.next(`Up:${peers.v6}`, 10_000)]);
    assert.equal(up4.diagnostic, 'No Diagnostic');
    assert.equal(up6.diagnostic, 'No Diagnostic');
    const frr = await frrStatus('up', 5000);
    console.error(`  Up after ${Math.max(up4.at as number, up6.at as number) - t0} ms`);
    // The Final for our Poll (1 s → 100 ms once Up) may come a moment later than Up itself.
    const end = Date.now() + 2000;
    let view = frr;
    while ([...view.values()].some((p) => p['remote-transmit-interval'] !== 100) && Date.now() < end) {
      await sleep(50);
      view = frrPeers();
    }
    for (const ip of [pair.b.ipv4, pair.b.ipv6]) {
      const p = view.get(ip)!;
      assert.equal(p['remote-transmit-interval'], 100, `${ip}: ${JSON.stringify(p)}`);
      assert.equal(p['remote-receive-interval'], 100);
      assert.equal(p['remote-detect-multiplier'], 3);
      assert.notEqual(p['remote-id'], 0);
    }
    assert.doesNotMatch(readFileSync(join(dir, 'bfdd.log'), 'utf8'), /invalid TTL/);
  });

  it('counts and drops garbage sent to port 3784; the sessions stay Up', async () => {
    const before = await stats();
    // From namespace a (FRR's side): junk, a short datagram, a wrong version, an unknown discriminator.
    const script = `
      const dgram = require('node:dgram');
      const junk = [Buffer.from('not bfd at all'), Buffer.from([0x20, 0x40]), Buffer.alloc(24, 0xe0),
        Buffer.from('20c0031800000001deadbeef000186a0000186a000000000', 'hex')];
      let left = 2;
      for (const [type, to] of [['udp4', '${pair.b.ipv4}'], ['udp6', '${pair.b.ipv6}']]) {
        const s = dgram.createSocket(type);
        let n = junk.length;
        for (const j of junk) s.send(j, 3784, to, () => { if (--n === 0) { s.close(); if (--left === 0) process.exit(0); } });
      }`;
    const r = pair.exec(pair.a.ns, [process.execPath, '-e', script]);
    assert.equal(r.status, 0, r.stderr);
    await sleep(500);
    const afterStats = (await stats()).stats;
    const delta = (reason: string): number => (afterStats.dropped[reason] ?? 0) - (before.stats.dropped[reason] ?? 0);
    assert.equal(delta('bad-version'), 2 * 2, JSON.stringify(afterStats.dropped)); // 'not bfd' (version 3) and 0xe0 (version 7)
    assert.equal(delta('truncated'), 2);
    assert.equal(delta('no-session'), 2);
    assert.ok(afterStats.accepted > before.stats.accepted, 'FRR packets still accepted');
    await assert.rejects(child.next(`Down:${peers.v4}`, 100), /timed out/);
    await assert.rejects(child.next(`Down:${peers.v6}`, 100), /timed out/);
    for (const p of frrPeers().values()) assert.equal(p.status, 'up');
  });

  it('link cut: our side goes Down with diagnostic 1 within the Detection Time, and so does FRR', async () => {
    const t0 = Date.now();
    linkB('down');
    const [d4, d6] = await Promise.all([child.next(`Down:${peers.v4}`, 3000), child.next(`Down:${peers.v6}`, 3000)]);
    for (const d of [d4, d6]) {
      assert.equal(d.diagnostic, 'Control Detection Time Expired');
      const ms = (d.at as number) - t0;
      console.error(`  ${d.peer as string} Down ${ms} ms after the cut`);
      assert.ok(ms <= DETECTION_MS + MARGIN_MS, `Down after ${ms} ms, Detection Time is ${DETECTION_MS} ms`);
    }
    const frr = await frrStatus('down', 3000);
    for (const p of frr.values()) assert.equal(p.diagnostic, 'control detection time expired', JSON.stringify(p));
  });

  it('link restored: Up again on both sides', async () => {
    const t0 = Date.now();
    linkB('up');
    await Promise.all([child.next(`Up:${peers.v4}`, 10_000), child.next(`Up:${peers.v6}`, 10_000)]);
    console.error(`  Up again ${Date.now() - t0} ms after the link came back`);
    await frrStatus('up', 5000);
  });

  it('clean shutdown: our AdminDown takes FRR Down as "neighbor signaled session down", not a detection timeout', async () => {
    child.send('exit');
    assert.equal(await child.exited(5000), 0);
    const frr = await frrStatus('down', 2000);
    for (const p of frr.values()) {
      assert.equal(p.diagnostic, 'neighbor signaled session down', JSON.stringify(p));
      assert.equal(p['remote-diagnostic'], 'administratively down', JSON.stringify(p));
    }
  });
});
