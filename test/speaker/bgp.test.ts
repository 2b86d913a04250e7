// BGP mode end to end, driven only through the API server: the real controller and `ironlb speaker`
// processes in a lab (startLab: network namespaces, kube-apiserver + etcd, 2 nodes) against each real
// router — FRR, BIRD, GoBGP, one lab each, one after the other. Configuration (BGPPeer, IPAddressPool,
// Community, BGPAdvertisement, BFDProfile, Secret), Services and EndpointSlices are API objects; what
// is checked is what the router received and installed, and what the speakers wrote back
// (ServiceBGPStatus, BGPSessionState).
//
//   router 10.99.0.1 AS 65000 (dynamic neighbours from 10.99.0.0/24, AS 65001, IPv4 + IPv6 families)
//   node1 10.99.0.11 / fd99::11, node2 10.99.0.12 / fd99::12 (AS 65001: eBGP)
//   FRR only, a second lab: router AS 65001 (iBGP), TCP-MD5 and BFD (100 ms) on its listen range.
//
// No timing is asserted: every wait is generous; speed is the bgp-e2e bench's business.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonEnv } from '../../src/cli/daemon-heap.ts';
import { nodeASN, routerASN } from '../../src/lab/lab.ts';
import { waitFor } from '../../src/lab/network/wait-for.ts';
import { LAN, nodeIPv4, nodeIPv6, nodeName } from '../../src/lab/network/standard-lab.ts';
import { normalizePrefix } from '../../src/lab/routers/address.ts';
import { FrrRouter } from '../../src/lab/routers/frr.ts';
import type { BgpPath, RouterKind } from '../../src/lab/routers/router.ts';
import { ApiLab, labSkip, sameSession, speakerPids } from './bgp-lab.ts';

const LONG = 45_000; // generous: the machine has 2 cores and other tests run at the same time
const nodes = [1, 2].map((i) => ({ node: nodeName(i), ipv4: nodeIPv4(i), ipv6: nodeIPv6(i) }));
const host4 = (ip: string) => normalizePrefix(`${ip}/32`);
const host6 = (ip: string) => normalizePrefix(`${ip}/128`);
const v4 = (ips: readonly string[]) => ips.find((ip) => !ip.includes(':'))!;
const v6 = (ips: readonly string[]) => ips.find((ip) => ip.includes(':'))!;

/** Wraps a test so that a failure prints the lab's logs and the router's view. */
function labTest(name: string, lab: () => ApiLab | undefined, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (err) {
      const l = lab();
      if (l) console.error(`\n==== diagnostics for "${name}" (${l.kind})\n${await l.diagnostics()}\n====`);
      throw err;
    }
  });
}

/** Waits until every node's BGPSessionState says Established and the router has both sessions. */
async function sessionsUp(lab: ApiLab): Promise<void> {
  await waitFor(
    async () => {
      const states = await lab.sessionStates();
      return nodes.every((n) => states.some((s) => s.node === n.node && s.bgpStatus === 'Established'));
    },
    { timeoutMs: LONG, intervalMs: 250, what: 'BGPSessionState Established from both nodes' },
  );
  await waitFor(
    async () => {
      const sessions = await lab.router.sessions();
      return nodes.every((n) => sessions.get(n.ipv4)?.established);
    },
    { timeoutMs: LONG, intervalMs: 250, what: `${lab.kind} sessions with both nodes` },
  );
}

/** Waits until the router's paths for `prefix` have exactly these next hops. */
async function routerHas(lab: ApiLab, prefix: string, nexthops: readonly string[]): Promise<readonly BgpPath[]> {
  const want = [...nexthops].sort();
  return waitFor(
    async () => {
      const paths = await lab.paths(prefix);
      const got = paths.map((p) => p.nexthop ?? '').sort();
      return JSON.stringify(got) === JSON.stringify(want) && paths;
    },
    { timeoutMs: LONG, intervalMs: 200, what: `${lab.kind} to hold ${prefix} via [${want.join(', ')}]` },
  );
}

/** Multipath: the kernel route (FRR, BIRD) or the RIB (GoBGP installs nothing) has one next hop per node. */
async function multipath(lab: ApiLab, prefix: string, nexthops: readonly string[]): Promise<void> {
  const want = [...nexthops].sort();
  if (lab.kind === 'gobgp') {
    await routerHas(lab, prefix, want);
    return;
  }
  await waitFor(async () => JSON.stringify(await lab.kernelNexthops(prefix)) === JSON.stringify(want), {
    timeoutMs: LONG,
    intervalMs: 200,
    what: `a kernel route for ${prefix} via [${want.join(', ')}] in the ${lab.kind} router`,
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}; kernel has [${(await lab.kernelNexthops(prefix)).join(', ')}]`);
  });
}

function ebgpSuite(kind: RouterKind): void {
  describe(`BGP from the API server, ${kind} router (eBGP, 2 nodes)`, { skip: labSkip(kind), timeout: 240_000 }, () => {
    let lab: ApiLab | undefined;
    const L = () => lab!;
    let web: string[] = [];

    before(async () => {
      lab = await ApiLab.start({ nodes: 2, router: kind });
      await L().apply('BGPPeer', 'bgppeers', 'v1beta2', 'router', { myASN: nodeASN, peerASN: routerASN, peerAddress: LAN.router4, holdTime: '9s' });
      await L().apply('IPAddressPool', 'ipaddresspools', 'v1beta1', 'bgp', { addresses: ['10.97.0.10-10.97.0.250', 'fd97::10-fd97::ff'] });
      await L().apply('Community', 'communities', 'v1beta1', 'aliases', { communities: [{ name: 'gold', value: '65000:300' }] });
      await L().apply('BGPAdvertisement', 'bgpadvertisements', 'v1beta1', 'bgp', { ipAddressPools: ['bgp'], communities: ['65000:100', 'gold', 'large:65000:1:2'] });
    });

    after(async () => {
      await lab?.stop();
    });

    labTest('both nodes peer with the router; their BGPSessionState objects say Established', () => lab, async () => {
      await sessionsUp(L());
      const states = await L().sessionStates();
      for (const n of nodes) {
        const s = states.find((x) => x.node === n.node);
        assert.equal(s?.peer, LAN.router4);
        assert.equal(s?.peerName, 'router');
        assert.equal(s?.bgpStatus, 'Established');
      }
    });

    labTest('a Service: its IPv4 /32 and IPv6 /128 arrive from both nodes with the communities, large community and AS path [65001]; multipath', () => lab, async () => {
      await L().createService('lab', 'web');
      web = await L().ingress('lab', 'web');
      const [p4, p6] = [host4(v4(web)), host6(v6(web))];
      const paths4 = await routerHas(L(), p4, nodes.map((n) => n.ipv4));
      const paths6 = await routerHas(L(), p6, nodes.map((n) => n.ipv6));
      for (const p of [...paths4, ...paths6]) {
        assert.deepEqual([...p.communities].sort(), ['65000:100', '65000:300'], `communities of ${JSON.stringify(p)}`);
        assert.deepEqual(p.largeCommunities, ['65000:1:2']);
        assert.deepEqual(p.asPath, [nodeASN]);
        assert.equal(p.origin, 'igp');
      }
      // Multipath needs identical attributes from every node.
      const shapes = [...paths4, ...paths6].map((p) => JSON.stringify([p.asPath, p.origin, p.med, [...p.communities].sort(), p.largeCommunities]));
      assert.equal(new Set(shapes).size, 1, shapes.join('\n'));
      await multipath(L(), p4, nodes.map((n) => n.ipv4));
      await multipath(L(), p6, nodes.map((n) => n.ipv6));

      // What the speakers wrote back.
      const statuses = await waitFor(async () => {
        const s = await L().serviceBGPStatuses('lab', 'web');
        return s.length === 2 && s;
      }, { timeoutMs: LONG, what: 'a ServiceBGPStatus per node for lab/web' });
      assert.deepEqual(statuses.map((s) => s.node), ['node1', 'node2']);
      for (const s of statuses) {
        assert.deepEqual(s.peers, ['router']);
        assert.equal(s.serviceName, 'web');
        assert.equal(s.serviceNamespace, 'lab');
      }
      await waitFor(async () => {
        const states = await L().sessionStates();
        return nodes.every((n) => states.some((s) => s.node === n.node && s.bgpStatus === 'Established' && s.prefixesSent === 2));
      }, { timeoutMs: LONG, what: 'BGPSessionState prefixesSent 2 (v4 + v6) on both nodes' });
    });

    labTest('changing only the BGPAdvertisement is an UPDATE: the new community arrives and no session is reset', () => lab, async () => {
      const p4 = host4(v4(web));
      // Sessions up for a few seconds, so that a reset now would move their "up since" visibly.
      await waitFor(async () => (await Promise.all(nodes.map((n) => L().sessionMark(n.ipv4)))).every((m) => m.upMs === undefined || m.upMs >= 3000), {
        timeoutMs: LONG,
        what: 'sessions up for 3 s',
      });
      const marks = await Promise.all(nodes.map((n) => L().sessionMark(n.ipv4)));
      const statesBefore = await L().sessionStates();
      if (kind === 'bird') await sleep(1100); // BIRD prints "since" to the second
      const changedAt = Date.now();
      await L().apply('BGPAdvertisement', 'bgpadvertisements', 'v1beta1', 'bgp', { ipAddressPools: ['bgp'], communities: ['65000:100', 'gold', 'large:65000:1:2', '65000:200'] });
      await waitFor(
        async () => {
          const paths = await L().paths(p4);
          return paths.length === 2 && paths.every((p) => p.communities.includes('65000:200'));
        },
        { timeoutMs: LONG, intervalMs: 200, what: `65000:200 on both paths of ${p4}` },
      );
      await waitFor(async () => (await L().paths(host6(v6(web)))).every((p) => p.communities.includes('65000:200')), { timeoutMs: LONG, what: 'the IPv6 prefix updated too' });
      const marksAfter = await Promise.all(nodes.map((n) => L().sessionMark(n.ipv4)));
      assert.ok(marks.every((m, i) => sameSession(m, marksAfter[i]!)), `${kind} saw no session reset: before ${JSON.stringify(marks)}, after ${JSON.stringify(marksAfter)}`);
      const statesAfter = await L().sessionStates();
      for (const n of nodes) {
        const b = statesBefore.find((s) => s.node === n.node)!;
        const a = statesAfter.find((s) => s.node === n.node)!;
        assert.equal(a.bgpStatus, 'Established');
        // The session's last transition (to Established) is older than the change: it was not rebuilt.
        assert.ok(Date.parse(a.lastTransitionTime!) < changedAt, `${n.node}: lastTransitionTime ${a.lastTransitionTime} (before: ${b.lastTransitionTime})`);
      }
      if (kind === 'frr') {
        const frr = L().router as FrrRouter;
        for (const n of nodes) {
          const [json] = await frr.vtyshJson([`show bgp neighbor ${n.ipv4} json`]);
          const nb = (json as Record<string, { connectionsEstablished?: number; connectionsDropped?: number }>)[n.ipv4]!;
          assert.deepEqual([nb.connectionsEstablished, nb.connectionsDropped], [1, 0], `FRR neighbour ${n.ipv4}`);
        }
      }
    });

    labTest('externalTrafficPolicy Local: only the node with an endpoint advertises; removing the endpoints withdraws', () => lab, async () => {
      // A namespace the lab's backends do not manage: the EndpointSlices are ours.
      await L().ensureNamespace('bgp-local');
      await L().createService('bgp-local', 'edge');
      const ips = await L().ingress('bgp-local', 'edge');
      const [p4, p6] = [host4(v4(ips)), host6(v6(ips))];
      // No endpoint anywhere: nothing is advertised (give the speakers time to decide wrongly).
      await sleep(1500);
      assert.deepEqual(await L().paths(p4), [], 'no endpoints: no route');
      // Cluster with an endpoint on node1: every node advertises.
      await L().setEndpoints('bgp-local', 'edge', [nodes[0]!]);
      await routerHas(L(), p4, nodes.map((n) => n.ipv4));
      // Local: only node1, which has the endpoint.
      await L().setExternalTrafficPolicy('bgp-local', 'edge', 'Local');
      await routerHas(L(), p4, [nodes[0]!.ipv4]);
      await routerHas(L(), p6, [nodes[0]!.ipv6]);
      if (kind !== 'gobgp') {
        await waitFor(async () => JSON.stringify(await L().kernelNexthops(p4)) === JSON.stringify([nodes[0]!.ipv4]), { timeoutMs: LONG, what: 'a single-path kernel route via node1' });
      }
      const statuses = await waitFor(async () => {
        const s = await L().serviceBGPStatuses('bgp-local', 'edge');
        return s.length === 1 && s;
      }, { timeoutMs: LONG, what: 'one ServiceBGPStatus (node1) for bgp-local/edge' });
      assert.equal(statuses[0]!.node, 'node1');
      assert.deepEqual(statuses[0]!.peers, ['router']);
      // The endpoint moves to node2: so does the route.
      await L().setEndpoints('bgp-local', 'edge', [nodes[1]!]);
      await routerHas(L(), p4, [nodes[1]!.ipv4]);
      await routerHas(L(), p6, [nodes[1]!.ipv6]);
      // No endpoints at all: withdrawn everywhere.
      await L().deleteEndpoints('bgp-local', 'edge');
      await routerHas(L(), p4, []);
      await routerHas(L(), p6, []);
      await waitFor(async () => (await L().serviceBGPStatuses('bgp-local', 'edge')).length === 0, { timeoutMs: LONG, what: 'the ServiceBGPStatus gone' });
      // The other Service is untouched.
      assert.equal((await L().paths(host4(v4(web)))).length, 2);
    });

    labTest('deleting the Service withdraws its prefixes and removes its ServiceBGPStatus objects', () => lab, async () => {
      const [p4, p6] = [host4(v4(web)), host6(v6(web))];
      await L().deleteService('lab', 'web');
      await routerHas(L(), p4, []);
      await routerHas(L(), p6, []);
      if (kind !== 'gobgp') {
        await waitFor(async () => (await L().kernelNexthops(p4)).length === 0 && (await L().kernelNexthops(p6)).length === 0, { timeoutMs: LONG, what: 'the kernel routes gone' });
      }
      await waitFor(async () => (await L().serviceBGPStatuses('lab', 'web')).length === 0, { timeoutMs: LONG, what: 'the ServiceBGPStatus objects gone' });
      await waitFor(async () => {
        const states = await L().sessionStates();
        return nodes.every((n) => states.some((s) => s.node === n.node && s.bgpStatus === 'Established' && s.prefixesSent === 0));
      }, { timeoutMs: LONG, what: 'sessions still Established with 0 prefixes sent' });
    });
  });
}

for (const kind of ['frr', 'bird', 'gobgp'] as const) ebgpSuite(kind);

// FRR only: iBGP (router AS 65001 = the nodes' AS), TCP-MD5 from a basic-auth Secret, BFD.
const MD5 = 'ironlb-lab-md5';

describe('BGP from the API server, FRR router: iBGP with LOCAL_PREF, MD5 from a Secret, BFD', { skip: labSkip('frr'), timeout: 240_000 }, () => {
  let lab: ApiLab | undefined;
  const L = () => lab!;
  const frr = () => L().router as FrrRouter;
  const frrLog = (daemon: string) => readFileSync(join(frr().dir, `${daemon}.log`), 'utf8');
  let ips: string[] = [];

  before(async () => {
    lab = await ApiLab.start({
      nodes: 2,
      router: 'frr',
      routerConfig: (d) => ({
        ...d,
        asn: nodeASN,
        listenRanges: (d.listenRanges ?? []).map((r) => ({ ...r, asn: nodeASN, password: MD5, bfd: true })),
        bfd: { receiveIntervalMs: 100, transmitIntervalMs: 100, detectMultiplier: 3 },
      }),
    });
    // FRR logs session changes (and the NOTIFICATION it sends when BFD ends one) only with this.
    await frr().vtysh(['configure terminal', `router bgp ${nodeASN}`, 'bgp log-neighbor-changes', 'end']);
    // The Secret holds a wrong password first.
    await L().applySecret('router-md5', 'not-the-key');
    await L().apply('BFDProfile', 'bfdprofiles', 'v1beta1', 'fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 });
    await L().apply('BGPPeer', 'bgppeers', 'v1beta2', 'router', {
      myASN: nodeASN,
      peerASN: nodeASN,
      peerAddress: LAN.router4,
      holdTime: '9s',
      passwordSecret: { name: 'router-md5', namespace: 'metallb-system' },
      bfdProfile: 'fast',
    });
    await L().apply('IPAddressPool', 'ipaddresspools', 'v1beta1', 'ibgp', { addresses: ['10.96.200.10-10.96.200.250'] });
    await L().apply('BGPAdvertisement', 'bgpadvertisements', 'v1beta1', 'ibgp', { ipAddressPools: ['ibgp'], localPref: 150, communities: ['65001:7'] });
    await L().createService('lab', 'inside', { singleStack: true });
    ips = await L().ingress('lab', 'inside', 1);
  });

  after(async () => {
    await lab?.stop();
  });

  labTest('the speakers run with the daemons\' memory policy (one malloc arena)', () => lab, async () => {
    const pids = speakerPids(L().lab);
    assert.equal(pids.size, 2);
    for (const pid of pids.values()) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      for (const [k, v] of Object.entries(daemonEnv)) assert.ok(environ.includes(`${k}=${v}`), `speaker ${pid} has ${k}=${v}`);
    }
  });

  labTest('MD5: with the wrong password in the Secret the session never establishes', () => lab, async () => {
    // The speakers have the configuration (their session objects exist) and keep trying.
    await waitFor(async () => (await L().sessionStates()).length === 2, { timeoutMs: LONG, what: 'a BGPSessionState per node' });
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      for (const s of await L().sessionStates()) seen.add(`${s.node}:${s.bgpStatus}`);
      for (const [peer, s] of await L().router.sessions()) if (s.established) seen.add(`router:${peer}:Established`);
      await sleep(500);
    }
    assert.ok(![...seen].some((s) => s.endsWith('Established')), `states seen: ${[...seen].join(', ')}`);
    assert.deepEqual(await L().paths(host4(v4(ips))), []);
  });

  labTest('MD5: the right password in the Secret (changed live) establishes both sessions', () => lab, async () => {
    await L().applySecret('router-md5', MD5);
    await sessionsUp(L());
  });

  labTest('iBGP: LOCAL_PREF from the BGPAdvertisement, empty AS path, from both nodes', () => lab, async () => {
    const paths = await routerHas(L(), host4(v4(ips)), nodes.map((n) => n.ipv4));
    for (const p of paths) {
      assert.equal(p.localPref, 150);
      assert.deepEqual(p.asPath, []);
      assert.deepEqual(p.communities, ['65001:7']);
    }
    const [json] = await frr().vtyshJson([`show bgp neighbor ${nodes[0]!.ipv4} json`]);
    const n = (json as Record<string, { remoteAs?: number; localAs?: number; nbrInternalLink?: boolean }>)[nodes[0]!.ipv4]!;
    assert.equal(n.remoteAs, nodeASN);
    assert.equal(n.localAs, nodeASN);
  });

  labTest('BFD: FRR shows our BFD sessions up with the profile\'s 100 ms intervals; BGPSessionState says BFD Up', () => lab, async () => {
    const peers = await waitFor(async () => {
      const p = await frr().bfdPeers();
      return nodes.every((n) => p.some((x) => x.peer === n.ipv4 && x.up)) && p;
    }, { timeoutMs: LONG, intervalMs: 250, what: 'FRR BFD peers up for both nodes' });
    for (const n of nodes) {
      const p = peers.find((x) => x.peer === n.ipv4)!;
      assert.equal(p.remoteReceiveIntervalMs, 100, JSON.stringify(p));
      assert.equal(p.remoteTransmitIntervalMs, 100, JSON.stringify(p));
      assert.equal(p.remoteDetectMultiplier, 3, JSON.stringify(p));
    }
    await waitFor(async () => {
      const states = await L().sessionStates();
      return nodes.every((n) => states.some((s) => s.node === n.node && s.bfdStatus === 'Up'));
    }, { timeoutMs: LONG, what: 'BGPSessionState bfdStatus Up on both nodes' });
  });

  labTest('BFD: cutting node2\'s link takes its path down (the session ends on BFD); it comes back with the link', () => lab, async () => {
    const p4 = host4(v4(ips));
    L().lab.topology.linkDown('node2');
    try {
      await routerHas(L(), p4, [nodes[0]!.ipv4]);
      // node2's speaker still reaches the API server (not over the cut link).
      await waitFor(async () => (await L().sessionState('node2'))?.bgpStatus !== 'Established', { timeoutMs: LONG, what: 'node2 BGPSessionState not Established' });
      // Both ends say BFD ended the session (not the hold timer).
      await waitFor(() => /BFD down/.test(L().speakerLog('node2')), { timeoutMs: LONG, what: 'node2 speaker logging "BFD down"' });
      await waitFor(() => new RegExp(`NOTIFICATION: sent to neighbor ${nodes[1]!.ipv4.replaceAll('.', '\\.')} 6/10 \\(Cease/BFD Down\\)`).test(frrLog('bgpd')), {
        timeoutMs: LONG,
        what: 'FRR bgpd logging "NOTIFICATION: sent to neighbor 10.99.0.12 6/10 (Cease/BFD Down)"',
      });
      const bfd = await frr().bfdPeers();
      assert.ok(!bfd.some((p) => p.peer === nodes[1]!.ipv4 && p.up), `FRR BFD peer for node2 not up: ${JSON.stringify(bfd)}`);
      assert.ok((await frr().bfdPeers()).some((p) => p.peer === nodes[0]!.ipv4 && p.up), 'node1 BFD still up');
    } finally {
      L().lab.topology.linkUp('node2');
    }
    await routerHas(L(), p4, nodes.map((n) => n.ipv4));
    await waitFor(async () => (await L().sessionState('node2'))?.bfdStatus === 'Up', { timeoutMs: LONG, what: 'node2 BFD Up again' });
  });
});
