// The native BGP speaker against BIRD 2: one BIRD router and three nodes in network namespaces, each
// speaker in its own child process inside its node's namespace.
//
//   router 10.99.0.1 / fd99::1, AS 64512
//   node1  iBGP over IPv4 (routes v4 + v6 with ipv6NextHop), eBGP over IPv6 (AS 64513)
//   node2  eBGP (AS 64513); node3, node4 dynamic eBGP neighbors (neighbor range, AS 64513)
//
// The ECMP part is eBGP: BIRD resolves iBGP next hops recursively through its IGP table, and the lab's
// BIRD config has no `protocol direct`, so iBGP routes are in its table but "unreachable" in the kernel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { haveExecutable } from '../../src/lab/network/command.ts';
import { labUnavailable } from '../../src/lab/network/requirements.ts';
import { LAN, nodeIPv4, nodeIPv6, standardLabSpec } from '../../src/lab/network/standard-lab.ts';
import { createTopology, type Topology } from '../../src/lab/network/topology.ts';
import { waitFor } from '../../src/lab/network/wait-for.ts';
import { startBird, type BirdRouter } from '../../src/lab/routers/bird.ts';
import type { BgpRouterConfig } from '../../src/lab/routers/router.ts';
import { labPeer, LabSpeaker } from './lab-speaker.ts';

const skip = labUnavailable(['bird', 'birdc']) ?? (haveExecutable('bird') ? undefined : 'BIRD is not installed');

const routerConfig: BgpRouterConfig = {
  asn: 64512,
  routerId: LAN.router4,
  neighbors: [
    { address: nodeIPv4(1), asn: 64512, families: ['ipv4', 'ipv6'] },
    { address: nodeIPv6(1), asn: 64513, families: ['ipv6'] },
    { address: nodeIPv4(2), asn: 64513 },
  ],
  listenRanges: [{ prefix: '10.99.0.0/24' }],
  maxPaths: 8,
};

describe('BGP speaker with BIRD', { skip, timeout: 120_000 }, () => {
  let lab: Topology;
  let router: BirdRouter;
  const on = new Map<number, LabSpeaker>();

  const established = async (address: string): Promise<void> => {
    await waitFor(async () => (await router.sessions()).get(address)?.established, { timeoutMs: 15_000, what: `BIRD session with ${address}` });
  };
  /** The protocol's line in `show protocols` (its "since" column changes on every session reset). */
  const protocolLine = async (name: string): Promise<string> => {
    const out = await router.birdc('show', 'protocols', name);
    return out.split('\n').find((l) => l.startsWith(name)) ?? '';
  };
  const start = async (node: number, options = {}): Promise<LabSpeaker> => {
    const s = await LabSpeaker.start(lab, `node${node}`, { listen: false, ...options });
    on.set(node, s);
    return s;
  };

  before(async () => {
    lab = createTopology(standardLabSpec({ nodes: 4, client: false, farClient: false }));
    router = await startBird(lab, 'router', routerConfig);
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
      { timeoutMs: 10_000, what: 'the routes in BIRD' },
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
    const k6 = await waitFor(() => router.kernelRoute('fd00:100::6/128'), { what: 'the eBGP route in the kernel' });
    assert.deepEqual([k6.type, k6.nexthops.map((n) => n.gateway)], ['unicast', [nodeIPv6(1)]]);

    const before = await protocolLine('nbr1');
    await new Promise((r) => setTimeout(r, 1100)); // BIRD prints "since" to the second
    await s.apply([ibgp, ebgp], {
      r4: [{ prefix: '10.100.0.2/32' }, { prefix: '10.100.0.1/32', communities: ['64512:200'], localPref: 150 }],
      r6: [],
    });
    await waitFor(
      async () => {
        const t = await router.routes();
        return t.has('10.100.0.2/32') && !t.has('fd00:100::1/128') && !t.has('fd00:100::6/128') && t.get('10.100.0.1/32')?.communities[0] === '64512:200';
      },
      { timeoutMs: 10_000, what: 'the changed routes in BIRD' },
    );
    assert.equal(await protocolLine('nbr1'), before, 'BIRD saw no session reset');
    assert.equal((await s.status()).find((x) => x.peer === 'r4')!.establishedCount, 1);

    await s.apply([ibgp, ebgp], { r4: [], r6: [] });
    await waitFor(async () => (await router.routes()).size === 0, { what: 'everything withdrawn' });
    assert.equal(await protocolLine('nbr1'), before);
  });

  it('two and three speakers announcing one prefix give a multipath kernel route (static and dynamic eBGP neighbors)', async () => {
    const peer = labPeer({ name: 'r', peerAddress: LAN.router4, myASN: 64513, peerASN: 64512 });
    const s2 = await start(2);
    const s3 = await start(3);
    await s2.apply([peer], { r: [{ prefix: '10.100.0.50/32', communities: ['64513:50'] }] });
    await s3.apply([peer], { r: [{ prefix: '10.100.0.50/32', communities: ['64513:50'] }] });
    await established(nodeIPv4(2));
    const dyn = await waitFor(async () => {
      const x = (await router.sessions()).get(nodeIPv4(3));
      return x?.established && x;
    }, { timeoutMs: 15_000, what: 'the dynamic neighbor' });
    assert.equal(dyn.dynamic, true);
    const two = await waitFor(async () => {
      const k = await router.kernelRoute('10.100.0.50/32');
      return k && k.nexthops.length === 2 && k;
    }, { what: 'a 2-way ECMP route' });
    assert.deepEqual(two.nexthops.map((n) => n.gateway).sort(), [nodeIPv4(2), nodeIPv4(3)]);

    const s4 = await start(4);
    await s4.apply([peer], { r: [{ prefix: '10.100.0.50/32', communities: ['64513:50'] }] });
    const three = await waitFor(async () => {
      const k = await router.kernelRoute('10.100.0.50/32');
      return k && k.nexthops.length === 3 && k;
    }, { timeoutMs: 15_000, what: 'a 3-way ECMP route' });
    assert.deepEqual(three.nexthops.map((n) => n.gateway).sort(), [nodeIPv4(2), nodeIPv4(3), nodeIPv4(4)]);
  });

  it('link cut: the hold timer ends the session, which comes back with the link', async () => {
    const s2 = on.get(2)!;
    lab.linkDown('node2');
    try {
      const down = await s2.waitPeer('r', (x) => x.state !== 'Established', 'the hold timer to expire', 15_000);
      assert.match(down.lastError ?? '', /Hold Timer Expired/);
      await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 2, { timeoutMs: 15_000, what: 'node2 out of the ECMP route' });
    } finally {
      lab.linkUp('node2');
    }
    await s2.waitPeer('r', (x) => x.state === 'Established', 'the session back', 20_000);
    await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 3, { timeoutMs: 10_000, what: 'node2 back in the ECMP route' });
  });

  it('router restarted: sessions come back and the full table is advertised again', async () => {
    await router.stop();
    router = await startBird(lab, 'router', routerConfig);
    for (const n of [1, 2, 3, 4]) await established(nodeIPv4(n));
    await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 3, { timeoutMs: 15_000, what: 'the ECMP route after the restart' });
    for (const n of [2, 3, 4]) assert.ok((await on.get(n)!.status())[0]!.establishedCount >= 2, 'a new session');
  });

  it('stop(): withdraws, the path leaves the ECMP route at once', async () => {
    const t0 = Date.now();
    await on.get(4)!.stop();
    await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 2, { timeoutMs: 5000, intervalMs: 20, what: 'node4 out of the ECMP route' });
    assert.ok(Date.now() - t0 < 3000);
  });
});
