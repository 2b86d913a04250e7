// The native BGP speaker against FRR: one FRR router and up to four nodes in network namespaces, each
// speaker in its own child process inside its node's namespace.
//
//   router 10.99.0.1 / fd99::1, AS 64512
//   node1  iBGP over IPv4 (routes v4 + v6 with ipv6NextHop), eBGP over IPv6 (AS 64513)
//   node2  iBGP, node3 iBGP with TCP-MD5, node4 dynamic neighbor (bgp listen range)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { nativeAddonUnavailable } from '../../src/net/tcp-md5.ts';
import { labUnavailable } from '../../src/lab/network/requirements.ts';
import { standardLabSpec, nodeIPv4, nodeIPv6, LAN } from '../../src/lab/network/standard-lab.ts';
import { createTopology, type Topology } from '../../src/lab/network/topology.ts';
import { waitFor } from '../../src/lab/network/wait-for.ts';
import { startFrr, type FrrRouter } from '../../src/lab/routers/frr.ts';
import type { BgpRouterConfig } from '../../src/lab/routers/router.ts';
import { labPeer, LabSpeaker } from './lab-speaker.ts';

const skip = labUnavailable(['vtysh']) ?? (existsSync('/usr/lib/frr/bgpd') ? undefined : 'FRR is not installed') ?? nativeAddonUnavailable();
const MD5 = 'ironlb-md5-key';

const routerConfig: BgpRouterConfig = {
  asn: 64512,
  routerId: LAN.router4,
  neighbors: [
    { address: nodeIPv4(1), asn: 64512, families: ['ipv4', 'ipv6'] },
    { address: nodeIPv6(1), asn: 64513, families: ['ipv6'] },
    { address: nodeIPv4(2), asn: 64512 },
    { address: nodeIPv4(3), asn: 64512, password: MD5 },
  ],
  listenRanges: [{ prefix: '10.99.0.0/24', asn: 64512 }],
  maxPaths: 8,
};

describe('BGP speaker with FRR', { skip, timeout: 120_000 }, () => {
  let lab: Topology;
  let router: FrrRouter;
  const speakers: LabSpeaker[] = [];
  const on = new Map<number, LabSpeaker>();

  const neighbor = async (address: string): Promise<Record<string, unknown>> => {
    const [json] = await router.vtyshJson([`show bgp neighbor ${address} json`]);
    return (json as Record<string, Record<string, unknown>>)[address] ?? {};
  };
  const established = async (address: string): Promise<void> => {
    await waitFor(async () => (await router.sessions()).get(address)?.established, { timeoutMs: 15_000, what: `FRR session with ${address}` });
  };
  const start = async (node: number, options = {}): Promise<LabSpeaker> => {
    const s = await LabSpeaker.start(lab, `node${node}`, { listen: false, ...options });
    speakers.push(s);
    on.set(node, s);
    return s;
  };

  before(async () => {
    lab = createTopology(standardLabSpec({ nodes: 4, client: false, farClient: false }));
    router = await startFrr(lab, 'router', routerConfig);
  });

  after(async () => {
    await Promise.all(speakers.map((s) => s.stop(3000).catch(() => s.kill())));
    await router?.stop().catch(() => undefined);
    lab?.destroy();
  });

  it('iBGP over IPv4 and eBGP over IPv6: both families with the right attributes; withdrawn on apply without them', async () => {
    const s = await start(1, { ipv6NextHop: nodeIPv6(1) });
    const ibgp = labPeer({ name: 'r4', peerAddress: LAN.router4 });
    const ebgp = labPeer({ name: 'r6', peerAddress: LAN.router6, myASN: 64513, peerASN: 64512 });
    const routes = {
      r4: [
        { prefix: '10.100.0.1/32', communities: ['64512:100', 'large:64512:1:2'], localPref: 150 },
        { prefix: 'fd00:100::1/128', communities: ['64512:101'] },
      ],
      r6: [{ prefix: 'fd00:100::6/128', communities: ['64513:7', 'large:64513:7:7'] }],
    };
    await s.apply([ibgp, ebgp], routes);
    await established(nodeIPv4(1));
    await established(nodeIPv6(1));
    const table = await waitFor(
      async () => {
        const t = await router.routes();
        return t.has('10.100.0.1/32') && t.has('fd00:100::1/128') && t.has('fd00:100::6/128') && t;
      },
      { timeoutMs: 10_000, what: 'the routes in FRR' },
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
    assert.equal(v6.localPref !== 150, true);
    assert.deepEqual(v6.communities, ['64513:7']);
    assert.deepEqual(v6.largeCommunities, ['64513:7:7']);
    assert.deepEqual(v6.nexthops, [nodeIPv6(1)]);
    // Into the router's kernel too.
    await waitFor(() => router.kernelRoute('10.100.0.1/32'), { what: 'kernel route' });

    // ROUTE-REFRESH (FRR's soft inbound reset asks for it): the whole table again, no reset.
    const sentBefore = (await s.status()).find((x) => x.peer === 'r4')!.updatesSent;
    await router.vtysh([`clear bgp ipv4 unicast ${nodeIPv4(1)} soft in`]);
    await s.waitPeer('r4', (x) => x.updatesSent > sentBefore, 'the table re-sent on ROUTE-REFRESH', 5000);

    const before4 = await neighbor(nodeIPv4(1));
    // Route change: a new prefix, changed attributes, a withdrawal — and no session reset.
    await s.apply([ibgp, ebgp], {
      r4: [{ prefix: '10.100.0.2/32' }, { prefix: '10.100.0.1/32', communities: ['64512:200'], localPref: 150 }],
      r6: [],
    });
    await waitFor(
      async () => {
        const t = await router.routes();
        return t.has('10.100.0.2/32') && !t.has('fd00:100::1/128') && !t.has('fd00:100::6/128') && t.get('10.100.0.1/32')?.communities[0] === '64512:200';
      },
      { timeoutMs: 10_000, what: 'the changed routes in FRR' },
    );
    const after4 = await neighbor(nodeIPv4(1));
    assert.equal(after4.connectionsEstablished, before4.connectionsEstablished, 'FRR saw no new session');
    assert.equal(after4.connectionsDropped, before4.connectionsDropped);
    const st = (await s.status()).find((x) => x.peer === 'r4')!;
    assert.equal(st.establishedCount, 1);
    assert.equal(st.prefixesSent, 2);

    await s.apply([ibgp, ebgp], { r4: [], r6: [] });
    await waitFor(async () => (await router.routes()).size === 0, { what: 'everything withdrawn' });
    assert.equal((await neighbor(nodeIPv4(1))).connectionsEstablished, before4.connectionsEstablished);
  });

  it('MD5 (dialing out, and on the listening socket): a wrong key never establishes, the right key does', async () => {
    // This speaker also listens on port 179 (key on the listening socket): FRR dials it too.
    const s = await start(3, { listen: { port: 179 } });
    const wrong = labPeer({ name: 'r', peerAddress: LAN.router4, password: 'not-the-key' });
    await s.apply([wrong], { r: [{ prefix: '10.100.0.50/32' }] });
    await new Promise((r) => setTimeout(r, 3500));
    assert.notEqual((await router.sessions()).get(nodeIPv4(3))?.state, 'Established');
    assert.notEqual((await s.status())[0]!.state, 'Established');
    await s.apply([{ ...wrong, password: MD5 }], { r: [{ prefix: '10.100.0.50/32' }] });
    await established(nodeIPv4(3));
    await waitFor(async () => (await router.routes()).has('10.100.0.50/32'), { what: 'the MD5 peer route' });
  });

  it('passive side: with our dial-out failing, the session comes up on the connection FRR opens (MD5 on the listener)', async () => {
    const s = on.get(3)!;
    const peer = labPeer({ name: 'r', peerAddress: LAN.router4, password: MD5 });
    // Our own attempts go to a port nobody listens on.
    await s.apply([{ ...peer, peerPort: 1179 }], { r: [{ prefix: '10.100.0.50/32' }] });
    const st = await s.waitPeer('r', (x) => x.state === 'Established', 'the session FRR opens', 15_000);
    assert.equal(st.direction, 'in');
    await waitFor(async () => (await router.routes()).has('10.100.0.50/32'), { what: 'the route over the accepted connection' });
    await s.apply([peer], { r: [{ prefix: '10.100.0.50/32' }] });
    await s.waitPeer('r', (x) => x.state === 'Established', 'the session back', 15_000);
  });

  it('two and three speakers announcing one prefix give a multipath kernel route', async () => {
    const s2 = await start(2);
    await s2.apply([labPeer({ name: 'r', peerAddress: LAN.router4, sourceAddress: nodeIPv4(2) })], { r: [{ prefix: '10.100.0.50/32' }] });
    await established(nodeIPv4(2));
    const two = await waitFor(async () => {
      const k = await router.kernelRoute('10.100.0.50/32');
      return k && k.nexthops.length === 2 && k;
    }, { what: 'a 2-way ECMP route' });
    assert.deepEqual(two.nexthops.map((n) => n.gateway).sort(), [nodeIPv4(2), nodeIPv4(3)]);
    // The third: node1's speaker adds the prefix to its iBGP peer.
    const s1 = on.get(1)!;
    await s1.apply([labPeer({ name: 'r4', peerAddress: LAN.router4 })], { r4: [{ prefix: '10.100.0.50/32' }] });
    const three = await waitFor(async () => {
      const k = await router.kernelRoute('10.100.0.50/32');
      return k && k.nexthops.length === 3 && k;
    }, { what: 'a 3-way ECMP route' });
    assert.deepEqual(three.nexthops.map((n) => n.gateway).sort(), [nodeIPv4(1), nodeIPv4(2), nodeIPv4(3)]);
  });

  it('dynamic neighbor (bgp listen range) with dynamicASN internal, graceful restart advertised', async () => {
    const s = await start(4);
    const peer = labPeer({ name: 'r', peerAddress: LAN.router4, peerASN: undefined, dynamicASN: 'internal', enableGracefulRestart: true });
    await s.apply([peer], { r: [{ prefix: '10.100.0.4/32' }] });
    const session = await waitFor(async () => {
      const x = (await router.sessions()).get(nodeIPv4(4));
      return x?.established && x;
    }, { timeoutMs: 15_000, what: 'the dynamic neighbor' });
    assert.equal(session.dynamic, true);
    await waitFor(async () => (await router.routes()).has('10.100.0.4/32'), { what: 'the dynamic peer route' });
    const n = await neighbor(nodeIPv4(4));
    const caps = n.neighborCapabilities as Record<string, unknown>;
    assert.match(String(caps.gracefulRestart), /received/i);
    assert.equal(caps.gracefulRestartRemoteTimerMsecs, 120_000);
    const gr = n.gracefulRestartInfo as { endOfRibRecv?: Record<string, boolean>; ipv4Unicast?: { fBit?: boolean } };
    assert.equal(gr.endOfRibRecv?.ipv4Unicast, true, 'End-of-RIB received');
    assert.equal(gr.ipv4Unicast?.fBit, true);
  });

  it('link cut: the hold timer ends the session, which comes back with the link', async () => {
    const s2 = on.get(2)!;
    lab.linkDown('node2');
    try {
      const t0 = Date.now();
      const down = await s2.waitPeer('r', (x) => x.state !== 'Established', 'the hold timer to expire', 15_000);
      const ms = Date.now() - t0;
      assert.match(down.lastError ?? '', /Hold Timer Expired/);
      assert.ok(ms > 5000, `session went down after ${ms} ms`);
      await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 2, { timeoutMs: 15_000, what: 'node2 out of the ECMP route' });
    } finally {
      lab.linkUp('node2');
    }
    await s2.waitPeer('r', (x) => x.state === 'Established', 'the session back', 20_000);
    await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 3, { timeoutMs: 10_000, what: 'node2 back in the ECMP route' });
  });

  it('router restarted: sessions come back and the full table is advertised again', async () => {
    await router.stop();
    router = await startFrr(lab, 'router', routerConfig);
    for (const n of [1, 2, 3]) await established(nodeIPv4(n));
    await established(nodeIPv4(4));
    const t = await waitFor(async () => {
      const r = await router.routes();
      return r.has('10.100.0.50/32') && r.has('10.100.0.4/32') && r;
    }, { timeoutMs: 15_000, what: 'the table after the restart' });
    assert.equal(t.get('10.100.0.50/32')!.nexthops.length, 3);
    // And from the new bgpd through the new zebra into the kernel.
    await waitFor(async () => (await router.kernelRoute('10.100.0.50/32'))?.nexthops.length === 3, { timeoutMs: 5000, what: 'the 3-way route in the kernel after the restart' });
    for (const n of [2, 3, 4]) {
      const st = await on.get(n)!.status();
      assert.equal(st[0]!.state, 'Established');
      assert.ok(st[0]!.establishedCount >= 2, 'a new session');
    }
  });

  it('stop(): withdraws and closes with Cease / Administrative Shutdown', async () => {
    const t0 = Date.now();
    await on.get(4)!.stop();
    await waitFor(async () => !(await router.routes()).has('10.100.0.4/32'), { timeoutMs: 5000, intervalMs: 20, what: 'the withdrawal' });
    const ms = Date.now() - t0;
    assert.ok(ms < 3000, `withdrawn after ${ms} ms`);
    const n = await neighbor(nodeIPv4(4)).catch(() => ({}) as Record<string, unknown>);
    // A dynamic neighbor disappears once its session is gone; if FRR still lists it, it heard why.
    if (n.lastNotificationReason !== undefined) assert.match(String(n.lastNotificationReason), /Administrative Shutdown/i);
    // zebra replaces the multipath route when a path goes: read it once it has settled.
    let last: unknown;
    await waitFor(async () => {
      const k = await router.kernelRoute('10.100.0.50/32');
      last = k;
      return k?.nexthops.length === 3;
    }, { timeoutMs: 5000, what: 'the shared prefix to keep its 3 other paths in the kernel' }).catch(async (err: Error) => {
      const [rib] = await router.vtyshJson(['show ip route 10.100.0.50/32 json'], 'zebra').catch((e: Error) => [e.message]);
      const bgp = await router.vtysh(['show bgp ipv4 unicast 10.100.0.50/32']).catch((e: Error) => e.message);
      throw new Error(`${err.message}; kernel: ${JSON.stringify(last)}; zebra: ${JSON.stringify(rib)}; bgp: ${bgp}`);
    });
  });
});
