// The Layer2 announcer with real frames: a switch namespace with two bridges, two nodes running the
// announcer (test/layer2/announcer-child.ts) and two clients asking with arping, ndisc6 and ping.
//
//   br0 (10.99.0.0/24, fd99::/64): nodeA eth0, nodeB eth0, client eth0
//   br1 (10.98.0.0/24, fd98::/64): nodeA eth1, client2 eth0
//
// The VIPs sit on nodeA's lo with arp_ignore=1 / arp_announce=2, so the kernel never answers ARP for
// them itself (shown by the negative control), yet accepts traffic to them (ping works end to end).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { netnsSkipReason, type RunResult } from '../net/netns.test-support.ts';
import { L2Lab, type Child, type Host } from './lab.ts';

const CHILD = 'test/layer2/announcer-child.ts';
const VIP4 = '10.99.0.100';
const VIP6 = 'fd99::100';
const OTHER4 = '10.99.0.101';
const OTHER6 = 'fd99::101';
const A_ETH0 = '02:49:4c:01:00:0a';
const A_ETH1 = '02:49:4c:01:01:0a';
const B_ETH0 = '02:49:4c:01:00:0b';

const skip = netnsSkipReason(['arping', 'ndisc6', 'ping']);

describe('Layer2Announcer on real interfaces (network namespaces)', { skip, timeout: 60_000 }, () => {
  let lab: L2Lab;
  let nodeA: Host;
  let nodeB: Host;
  let client: Host;
  let client2: Host;
  let a: Child;
  let b: Child;

  const arping = (from: Host, ip: string, count = 2): Promise<RunResult> =>
    lab.execAsync(from.ns, ['arping', '-c', String(count), '-w', String(count + 1), '-I', 'eth0', ip]);
  const ndisc6 = (from: Host, ip: string): Promise<RunResult> =>
    lab.execAsync(from.ns, ['ndisc6', '-1', '-r', '2', '-w', '700', ip, 'eth0']);
  /** MACs of the ARP replies arping saw (upper-cased by arping; lower-cased here). */
  const arpReplies = (r: RunResult, ip: string): string[] =>
    [...r.stdout.matchAll(new RegExp(`reply from ${ip.replace(/\./g, '\\.')} \\[([0-9A-Fa-f:]+)\\]`, 'g'))].map((m) => m[1]!.toLowerCase());
  const ndiscMac = (r: RunResult): string | undefined => /Target link-layer address: ([0-9A-Fa-f:]+)/.exec(r.stdout)?.[1]?.toLowerCase();
  const neighbour = (from: Host, ip: string): string | undefined => {
    const out = lab.exec(from.ns, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0']).stdout;
    return (JSON.parse(out || '[]') as { lladdr?: string }[])[0]?.lladdr;
  };
  const set = async (child: Child, targets: { ip: string; interfaces?: string[] }[]): Promise<unknown> =>
    (await child.request({ cmd: 'set', targets })).answered;
  const status = async (child: Child): Promise<{ answered: unknown; metrics: Record<string, number> }> =>
    (await child.request({ cmd: 'status' })) as never;
  const expectNoAnswer = (arp: RunResult, nd: RunResult, what: string): void => {
    assert.doesNotMatch(arp.stdout, /reply from/i, `${what}: ${arp.stdout}`);
    assert.notEqual(arp.status, 0, `${what}: ${arp.stdout}`);
    assert.match(nd.stdout, /No response/, `${what}: ${nd.stdout}${nd.stderr}`);
  };

  before(async () => {
    lab = new L2Lab('l2ann');
    lab.addBridge('br0');
    lab.addBridge('br1');
    nodeA = lab.addHost('nodeA', [
      { ifname: 'eth0', bridge: 'br0', mac: A_ETH0, ipv4: '10.99.0.11', ipv6: 'fd99::11' },
      { ifname: 'eth1', bridge: 'br1', mac: A_ETH1, ipv4: '10.98.0.11', ipv6: 'fd98::11' },
    ]);
    nodeB = lab.addHost('nodeB', [{ ifname: 'eth0', bridge: 'br0', mac: B_ETH0, ipv4: '10.99.0.12', ipv6: 'fd99::12' }]);
    client = lab.addHost('client', [{ ifname: 'eth0', bridge: 'br0', mac: '02:49:4c:01:00:c1', ipv4: '10.99.0.2', ipv6: 'fd99::2' }]);
    client2 = lab.addHost('client2', [{ ifname: 'eth0', bridge: 'br1', mac: '02:49:4c:01:01:c2', ipv4: '10.98.0.2', ipv6: 'fd98::2' }]);
    // The service IPs on nodeA's loopback, as kube-proxy (IPVS) or a real deployment would have them.
    lab.exec(nodeA.ns, ['ip', 'addr', 'add', `${VIP4}/32`, 'dev', 'lo']);
    lab.exec(nodeA.ns, ['ip', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo']);
    // Both announcers start with no targets: they run, but answer nothing.
    a = lab.spawnScript(nodeA.ns, CHILD, []);
    b = lab.spawnScript(nodeB.ns, CHILD, ['--rescan-ms', '300']);
    await Promise.all([a.next('ready', 20_000), b.next('ready', 20_000)]);
  });
  after(() => lab?.cleanup());

  it('negative control: with the VIP on lo the kernel answers ARP itself unless arp_ignore=1; with it, nobody answers', async () => {
    const sysctl = (v: string): void => {
      lab.exec(nodeA.ns, ['sysctl', '-qw', `net.ipv4.conf.all.arp_ignore=${v}`, `net.ipv4.conf.all.arp_announce=${v === '0' ? '0' : '2'}`]);
    };
    sysctl('0');
    const kernel = await arping(client, VIP4, 1);
    assert.deepEqual(arpReplies(kernel, VIP4), [A_ETH0], `the kernel should answer for a local address: ${kernel.stdout}`);
    sysctl('1');
    const [arp, nd] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6)]);
    expectNoAnswer(arp, nd, 'no target yet');
  });

  it('answers ARP and Neighbor Solicitations for its targets with the interface MAC', async () => {
    assert.deepEqual(await set(a, [{ ip: VIP4 }, { ip: VIP6 }]), [
      { ip: VIP4, interfaces: ['eth0', 'eth1'] },
      { ip: VIP6, interfaces: ['eth0', 'eth1'] },
    ]);
    const [arp, nd] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6)]);
    assert.equal(arp.status, 0, `${arp.stdout}${arp.stderr}${a.stderr()}`);
    assert.deepEqual(arpReplies(arp, VIP4), [A_ETH0, A_ETH0], arp.stdout);
    assert.match(arp.stdout, /Unicast reply/);
    assert.equal(ndiscMac(nd), A_ETH0, `${nd.stdout}${nd.stderr}`);
    // End to end: the client's kernel resolves the VIPs through the announcer and reaches nodeA.
    const [ping4, ping6] = await Promise.all([
      lab.execAsync(client.ns, ['ping', '-c', '1', '-W', '2', VIP4]),
      lab.execAsync(client.ns, ['ping', '-6', '-c', '1', '-W', '2', VIP6]),
    ]);
    assert.equal(ping4.status, 0, ping4.stdout);
    assert.equal(ping6.status, 0, ping6.stdout);
    assert.equal(neighbour(client, VIP4), A_ETH0);
    assert.equal(neighbour(client, VIP6), A_ETH0);
    // Solicited-node group joined at the link layer (packet socket) and at the IP layer (MLD).
    const maddr = lab.exec(nodeA.ns, ['ip', 'maddr', 'show', 'dev', 'eth0']).stdout;
    assert.match(maddr, /link\s+33:33:ff:00:01:00/);
    assert.match(maddr, /inet6 ff02::1:ff00:100/);
    // The IP-layer join sends MLD reports: the (snooping) switch knows nodeA's port wants the group.
    const mdb = lab.exec(lab.sw, ['bridge', 'mdb', 'show', 'dev', 'br0']).stdout;
    assert.match(mdb, new RegExp(`port ${nodeA.port('eth0')} grp ff02::1:ff00:100\\b`), mdb);
    const s = await status(a);
    assert.ok((s.metrics[`request ${VIP4}`] ?? 0) >= 2 && (s.metrics[`response ${VIP4}`] ?? 0) >= 2, JSON.stringify(s.metrics));
    assert.ok((s.metrics[`request ${VIP6}`] ?? 0) >= 1 && (s.metrics[`response ${VIP6}`] ?? 0) >= 1, JSON.stringify(s.metrics));
    // Request + reply per round and interface: the first round at once, the next ones 1.1 s apart.
    const gratuitous = s.metrics[`gratuitous ${VIP4}`] ?? 0;
    assert.ok(gratuitous >= 4 && gratuitous % 2 === 0, JSON.stringify(s.metrics));
  });

  it('never answers for an IP that is not a target', async () => {
    const [arp, nd] = await Promise.all([arping(client, OTHER4), ndisc6(client, OTHER6)]);
    expectNoAnswer(arp, nd, 'an IP that is not a target');
    const s = await status(a);
    assert.deepEqual(Object.keys(s.metrics).filter((k) => k.includes(OTHER4) || k.includes(OTHER6) || k.startsWith('bad')), []);
  });

  it('answers only on the interfaces a target names', async () => {
    assert.deepEqual(await set(a, [{ ip: VIP4, interfaces: ['eth1'] }, { ip: VIP6, interfaces: ['eth1'] }]), [
      { ip: VIP4, interfaces: ['eth1'] },
      { ip: VIP6, interfaces: ['eth1'] },
    ]);
    const [arp0, nd0, arp1, nd1] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6), arping(client2, VIP4), ndisc6(client2, VIP6)]);
    expectNoAnswer(arp0, nd0, 'the eth0 segment');
    assert.deepEqual(arpReplies(arp1, VIP4), [A_ETH1, A_ETH1], arp1.stdout);
    assert.equal(ndiscMac(nd1), A_ETH1, nd1.stdout);
    // eth0 no longer needs its sockets or the group.
    assert.doesNotMatch(lab.exec(nodeA.ns, ['ip', 'maddr', 'show', 'dev', 'eth0']).stdout, /ff02::1:ff00:100|33:33:ff:00:01:00/);
  });

  it('takeover: the new node’s gratuitous ARP and unsolicited NA move the client’s neighbour entries at once', async (t) => {
    await set(a, [{ ip: VIP4 }, { ip: VIP6 }]);
    const [ping4, ping6] = await Promise.all([
      lab.execAsync(client.ns, ['ping', '-c', '1', '-W', '2', VIP4]),
      lab.execAsync(client.ns, ['ping', '-6', '-c', '1', '-W', '2', VIP6]),
    ]);
    assert.equal(ping4.status, 0, ping4.stdout);
    assert.equal(ping6.status, 0, ping6.stdout);
    assert.equal(neighbour(client, VIP4), A_ETH0);
    assert.equal(neighbour(client, VIP6), A_ETH0);
    await sleep(1100); // past the kernel's ARP locktime since the entry was last updated

    const start = performance.now();
    await set(a, []);
    await set(b, [{ ip: VIP4 }, { ip: VIP6 }]);
    let moved4: number | undefined;
    let moved6: number | undefined;
    while (performance.now() - start < 3000 && (moved4 === undefined || moved6 === undefined)) {
      if (moved4 === undefined && neighbour(client, VIP4) === B_ETH0) moved4 = performance.now() - start;
      if (moved6 === undefined && neighbour(client, VIP6) === B_ETH0) moved6 = performance.now() - start;
      await sleep(20);
    }
    t.diagnostic(`neighbour entries moved after ${moved4?.toFixed(0)} ms (IPv4), ${moved6?.toFixed(0)} ms (IPv6)`);
    assert.ok(moved4 !== undefined && moved4 < 1000, `IPv4 entry moved after ${moved4} ms (now ${neighbour(client, VIP4)})`);
    assert.ok(moved6 !== undefined && moved6 < 1000, `IPv6 entry moved after ${moved6} ms (now ${neighbour(client, VIP6)})`);
    // Only nodeB answers from now on.
    const [arp, nd] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6)]);
    assert.deepEqual(arpReplies(arp, VIP4), [B_ETH0, B_ETH0], arp.stdout);
    assert.equal(ndiscMac(nd), B_ETH0, nd.stdout);
    const s = await status(b);
    assert.ok((s.metrics[`gratuitous ${VIP6}`] ?? 0) >= 1, JSON.stringify(s.metrics));
  });

  it('survives its interface going down (ENETDOWN) and answers again, with a fresh burst, once it is back up', async () => {
    const before = await status(b);
    lab.exec(nodeB.ns, ['ip', 'link', 'set', 'eth0', 'down']);
    await sleep(700); // > 2 re-scans
    assert.deepEqual((await status(b)).answered, [
      { ip: VIP4, interfaces: [] },
      { ip: VIP6, interfaces: [] },
    ]);
    lab.exec(nodeB.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    await sleep(700);
    const up = await status(b);
    assert.deepEqual(up.answered, [
      { ip: VIP4, interfaces: ['eth0'] },
      { ip: VIP6, interfaces: ['eth0'] },
    ]);
    assert.ok((up.metrics[`gratuitous ${VIP4}`] ?? 0) > (before.metrics[`gratuitous ${VIP4}`] ?? 0), JSON.stringify(up.metrics));
    const [arp, nd] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6)]);
    assert.deepEqual(arpReplies(arp, VIP4), [B_ETH0, B_ETH0], arp.stdout);
    assert.equal(ndiscMac(nd), B_ETH0, nd.stdout);
  });

  it('stop closes everything: the process exits by itself and nobody answers any more', async () => {
    await Promise.all([b.request({ cmd: 'stop' }), a.request({ cmd: 'stop' })]);
    assert.equal(await b.exited(5000), 0, b.stderr());
    assert.equal(await a.exited(5000), 0, a.stderr());
    const [arp, nd] = await Promise.all([arping(client, VIP4), ndisc6(client, VIP6)]);
    expectNoAnswer(arp, nd, 'after stop');
    // Nothing logged at error level or above (warnings, e.g. ENETDOWN, are expected).
    for (const child of [a, b]) {
      const levels = child.stderr().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { level: number }).level);
      assert.ok(levels.every((l) => l < 50), child.stderr());
    }
  });
});
