// The native BGP speaker against GoBGP: one gobgpd router and three nodes in network namespaces, each
// speaker in its own child process inside its node's namespace. GoBGP installs nothing in the kernel,
// so ECMP is checked in its RIB (use-multiple-paths: one path per speaker, identical attributes).
//
//   router 10.99.0.1 / fd99::1, AS 64512
//   node1  iBGP over IPv4 (routes v4 + v6 with ipv6NextHop), eBGP over IPv6 (AS 64513)
//   node2  iBGP; node3 dynamic neighbor (dynamic-neighbors, AS 64512)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { haveExecutable } from '../../src/lab/network/command.ts';
import { labUnavailable } from '../../src/lab/network/requirements.ts';
import { LAN, nodeIPv4, nodeIPv6, standardLabSpec } from '../../src/lab/network/standard-lab.ts';
import { createTopology, type Topology } from '../../src/lab/network/topology.ts';
import { waitFor } from '../../src/lab/network/wait-for.ts';
import { startGobgp, type GobgpRouter } from '../../src/lab/routers/gobgp.ts';
import type { BgpRouterConfig } from '../../src/lab/routers/router.ts';
import { labPeer, LabSpeaker } from './lab-speaker.ts';

const skip = labUnavailable(['gobgpd', 'gobgp']) ?? (haveExecutable('gobgpd') ? undefined : 'GoBGP is not installed');

const routerConfig: BgpRouterConfig = {
  asn: 64512,
  routerId: LAN.router4,
  neighbors: [
    { address: nodeIPv4(1), asn: 64512, families: ['ipv4', 'ipv6'] },
    { address: nodeIPv6(1), asn: 64513, families: ['ipv6'] },
    { address: nodeIPv4(2), asn: 64512 },
  ],
  listenRanges: [{ prefix: '10.99.0.0/24', asn: 64512 }],
  maxPaths: 8,
};

interface GobgpNeighbor {
  state?: { session_state?: number; messages?: { received?: { open?: number } } };
  timers?: { state?: { uptime?: { seconds?: number } } };
}

describe('BGP speaker with GoBGP', { skip, timeout: 120_000 }, () => {
  let lab: Topology;
  let router: GobgpRouter;
  const on = new Map<number, LabSpeaker>();

  const established = async (address: string): Promise<void> => {
    await waitFor(async () => (await router.sessions()).get(address)?.established, { timeoutMs: 15_000, what: `GoBGP session with ${address}` });
  };
  const neighbor = async (address: string): Promise<GobgpNeighbor> => JSON.parse(await router.gobgp('neighbor', address, '-j')) as GobgpNeighbor;
  const paths = async (prefix: string): Promise<string[]> => [...((await router.routes('ipv4')).get(prefix)?.paths ?? [])].map((p) => p.nexthop ?? '').sort();
  const start = async (node: number, options = {}): Promise<LabSpeaker> => {
    const s = await LabSpeaker.start(lab, `node${node}`, { listen: false, ...options });
    on.set(node, s);
    return s;
  };

  before(async () => {
    lab = createTopology(standardLabSpec({ nodes: 3, client: false, farClient: false }));
    router = await startGobgp(lab, 'router', routerConfig);
  });

  after(async () => {
    await Promise.all([...on.values()].map((s) => s.stop(3000).catch(() => s.kill())));
    await router?.stop().catch(() => undefined);
    lab?.destroy();
  });

  it('iBGP over IPv4 and eBGP over IPv6: both families with the right attributes; withdrawn on apply without them', async () => {
    const s = await start(1, { ipv6NextHop: nodeIPv6(1) });
    const ibgp = labPeer({ name: 'r4', peerAddress: LAN.router4 });
    const ebgp = labPeer({ name: 'r6', peerAddress: LAN.router6, myASN: 64513, peerASN: 64512 });
    await s.apply([ibgp, ebgp], {
      r4: [
        { prefix: '10.100.0.1/32', communities: ['64512:100', 'large:64512:1:2'], localPref: 150 },
        { prefix: 'fd00:100::1/128', communities: ['64512:101'] },
      ],
      r6: [{ prefix: 'fd00:100::6/128', communities: ['64513:7', 'large:64513:7:7'] }],
    });
    await established(nodeIPv4(1));
    await established(nodeIPv6(1));
    const table = await waitFor(
      async () => {
        const t = await router.routes();
        return t.has('10.100.0.1/32') && t.has('fd00:100::1/128') && t.has('fd00:100::6/128') && t;
      },
      { timeoutMs: 10_000, what: 'the routes in GoBGP' },
    );
    const v4 = table.get('10.100.0.1/32')!;
    assert.deepEqual(v4.nexthops, [nodeIPv4(1)]);
    assert.deepEqual(v4.communities, ['64512:100']);
    assert.deepEqual(v4.largeCommunities, ['64512:1:2']);
    assert.equal(v4.localPref, 150);
    assert.deepEqual(v4.asPath, []);
    assert.equal(v4.origin, 'igp');
    const v6overv4 = table.get('fd00:100::1/128')!;
    assert.deepEqual(v6overv4.nexthops, [nodeIPv6(1)]);
    assert.equal(v6overv4.localPref, 100);
    const v6 = table.get('fd00:100::6/128')!;
    assert.deepEqual(v6.asPath, [64513]);
    assert.deepEqual(v6.communities, ['64513:7']);
    assert.deepEqual(v6.largeCommunities, ['64513:7:7']);
    assert.deepEqual(v6.nexthops, [nodeIPv6(1)]);

    const before = await neighbor(nodeIPv4(1));
    await s.apply([ibgp, ebgp], {
      r4: [{ prefix: '10.100.0.2/32' }, { prefix: '10.100.0.1/32', communities: ['64512:200'], localPref: 150 }],
      r6: [],
    });
    await waitFor(
      async () => {
        const t = await router.routes();
        return t.has('10.100.0.2/32') && !t.has('fd00:100::1/128') && !t.has('fd00:100::6/128') && t.get('10.100.0.1/32')?.communities[0] === '64512:200';
      },
      { timeoutMs: 10_000, what: 'the changed routes in GoBGP' },
    );
    const after1 = await neighbor(nodeIPv4(1));
    assert.equal(after1.state?.messages?.received?.open, 1, 'GoBGP received one OPEN: no reset');
    assert.equal(after1.timers?.state?.uptime?.seconds, before.timers?.state?.uptime?.seconds);

    await s.apply([ibgp, ebgp], { r4: [], r6: [] });
    await waitFor(async () => (await router.routes()).size === 0, { what: 'everything withdrawn' });
    assert.equal((await neighbor(nodeIPv4(1))).state?.messages?.received?.open, 1);
  });

  it('two and three speakers announcing one prefix: one path each, all kept for multipath', async () => {
    const peer = labPeer({ name: 'r', peerAddress: LAN.router4 });
    await on.get(1)!.apply([labPeer({ name: 'r4', peerAddress: LAN.router4 })], { r4: [{ prefix: '10.100.0.50/32', communities: ['64512:50'] }] });
    const s2 = await start(2);
    await s2.apply([peer], { r: [{ prefix: '10.100.0.50/32', communities: ['64512:50'] }] });
    await established(nodeIPv4(2));
    await waitFor(async () => (await paths('10.100.0.50/32')).length === 2, { what: 'two paths' });
    const s3 = await start(3);
    await s3.apply([peer], { r: [{ prefix: '10.100.0.50/32', communities: ['64512:50'] }] });
    const dyn = await waitFor(async () => {
      const x = (await router.sessions()).get(nodeIPv4(3));
      return x?.established && x;
    }, { timeoutMs: 15_000, what: 'the dynamic neighbor' });
    assert.equal(dyn.dynamic, true);
    await waitFor(async () => (await paths('10.100.0.50/32')).length === 3, { what: 'three paths' });
    assert.deepEqual(await paths('10.100.0.50/32'), [nodeIPv4(1), nodeIPv4(2), nodeIPv4(3)]);
    // Identical attributes on every path (what lets a router build ECMP).
    const route = (await router.routes('ipv4')).get('10.100.0.50/32')!;
    const shapes = route.paths.map((p) => JSON.stringify([p.asPath, p.origin, p.localPref, p.med, p.communities, p.largeCommunities]));
    assert.equal(new Set(shapes).size, 1, shapes.join('\n'));
  });

  it('link cut: the hold timer ends the session, which comes back with the link', async () => {
    const s2 = on.get(2)!;
    lab.linkDown('node2');
    try {
      const down = await s2.waitPeer('r', (x) => x.state !== 'Established', 'the hold timer to expire', 15_000);
      assert.match(down.lastError ?? '', /Hold Timer Expired/);
      await waitFor(async () => (await paths('10.100.0.50/32')).length === 2, { timeoutMs: 15_000, what: 'node2 path gone' });
    } finally {
      lab.linkUp('node2');
    }
    await s2.waitPeer('r', (x) => x.state === 'Established', 'the session back', 20_000);
    await waitFor(async () => (await paths('10.100.0.50/32')).length === 3, { timeoutMs: 10_000, what: 'node2 path back' });
  });

  it('router restarted: sessions come back and the full table is advertised again', async () => {
    await router.stop();
    router = await startGobgp(lab, 'router', routerConfig);
    for (const n of [1, 2, 3]) await established(nodeIPv4(n));
    await waitFor(async () => (await paths('10.100.0.50/32')).length === 3, { timeoutMs: 15_000, what: 'all paths after the restart' });
    for (const n of [2, 3]) assert.ok((await on.get(n)!.status())[0]!.establishedCount >= 2);
  });

  it('stop(): withdraws, the path is gone at once', async () => {
    const t0 = Date.now();
    await on.get(3)!.stop();
    await waitFor(async () => (await paths('10.100.0.50/32')).length === 2, { timeoutMs: 5000, intervalMs: 20, what: 'node3 path gone' });
    assert.ok(Date.now() - t0 < 3000);
  });
});
