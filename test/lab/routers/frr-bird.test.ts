// FRR and BIRD peering inside the lab, no IronLB code involved: each driver's start, queries,
// runtime announce/withdraw and stop checked against a real peer.
//   1. FRR router (listen ranges, BFD) ← BIRD speaker announcing a /32 and a /128 with communities.
//   2. BIRD router (static neighbors with TCP-MD5, kernel merge paths) ← two FRR speakers announcing the
//      same /32 (ECMP, traffic from the far client) and one with the wrong password (never Established).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { namespacePids } from '../../../src/lab/network/namespace.ts';
import { pidStartTime } from '../../../src/lab/network/pid.ts';
import { labUnavailable } from '../../../src/lab/network/requirements.ts';
import { nodeIPv4, nodeIPv6, standardLabSpec } from '../../../src/lab/network/standard-lab.ts';
import { createTopology, type Topology } from '../../../src/lab/network/topology.ts';
import { waitFor } from '../../../src/lab/network/wait-for.ts';
import { startBird } from '../../../src/lab/routers/bird.ts';
import { FRR_DAEMONS_DIR, startFrr } from '../../../src/lab/routers/frr.ts';
import type { BgpRouter } from '../../../src/lab/routers/router.ts';
import { waitForKernelRoute, waitForNoKernelRoute, waitForNoRoute, waitForRoute, waitForSessions } from '../../../src/lab/routers/router-wait.ts';

const skip = labUnavailable(['ping', 'vtysh', 'bird', 'birdc']) ?? (existsSync(`${FRR_DAEMONS_DIR}/bgpd`) ? undefined : 'FRR is not installed');

const SVC4 = { prefix: '10.0.0.5/32', communities: ['64512:100'], largeCommunities: ['64512:1:2'] };
const SVC6 = { prefix: 'fd00::5/128', communities: ['64512:100'], largeCommunities: ['64512:1:2'] };

/** Stops the routers and checks that none of their processes (or anything else in their hosts) is left. */
async function stopAndCheck(lab: Topology, ...routers: BgpRouter[]): Promise<void> {
  await Promise.all(routers.map((r) => r.stop()));
  for (const r of routers) {
    for (const p of r.processes()) {
      assert.equal(p.running, false, `${r.kind} ${p.name} stopped`);
      assert.equal(pidStartTime(p.pid), undefined, `PID ${p.pid} (${p.name}) is gone`);
      if (r.kind === 'frr') assert.equal(existsSync(`/var/tmp/frr/${p.name}.${p.pid}`), false, `FRR scratch dir of ${p.name} removed`);
    }
    assert.deepEqual(namespacePids(r.host.ns), [], `nothing left running in ${r.host.name}`);
  }
}

describe('FRR ↔ BIRD', { skip, concurrency: 1 }, () => {
  let lab: Topology;
  before(() => {
    lab = createTopology(standardLabSpec({ nodes: 2 }));
  });
  after(() => lab?.destroy());

  it('FRR router with listen ranges and BFD learns a BIRD speaker’s /32 and /128 with their communities', async (t) => {
    const frr = await startFrr(lab, 'router', {
      asn: 64500,
      routerId: '10.99.0.1',
      listenRanges: [
        { prefix: '10.99.0.0/24', asn: 64512, bfd: true },
        { prefix: 'fd99::/64', asn: 64512 },
      ],
    });
    const bird = await startBird(lab, 'node1', {
      asn: 64512,
      routerId: nodeIPv4(1),
      neighbors: [
        { address: '10.99.0.1', asn: 64500, bfd: true },
        { address: 'fd99::1', asn: 64500 },
      ],
      announcements: [SVC4, SVC6],
    });
    t.after(() => Promise.all([frr.stop(), bird.stop()]));

    const sessions = await waitForSessions(frr, [nodeIPv4(1), nodeIPv6(1)], { prefixes: 1 });
    assert.deepEqual(
      { ...sessions.get(nodeIPv4(1)) },
      { peer: nodeIPv4(1), remoteAs: 64512, state: 'Established', established: true, prefixesReceived: 1, prefixesByFamily: { ipv4: 1 }, dynamic: true },
    );
    assert.equal(sessions.get(nodeIPv6(1))!.dynamic, true);
    const birdSide = await waitForSessions(bird, ['10.99.0.1', 'fd99::1']);
    assert.equal(birdSide.get('10.99.0.1')!.dynamic, false);

    const routes = await frr.routes();
    const v4 = routes.get('10.0.0.5/32')!;
    assert.deepEqual(
      { nexthops: v4.nexthops, communities: v4.communities, large: v4.largeCommunities, asPath: v4.asPath, origin: v4.origin },
      { nexthops: [nodeIPv4(1)], communities: ['64512:100'], large: ['64512:1:2'], asPath: [64512], origin: 'igp' },
    );
    assert.equal(v4.paths[0]!.peer, nodeIPv4(1));
    const v6 = routes.get('fd00::5/128')!;
    assert.deepEqual([v6.nexthops, v6.communities, v6.largeCommunities], [[nodeIPv6(1)], ['64512:100'], ['64512:1:2']]);
    assert.match(v6.paths[0]!.nexthopLinkLocal ?? '', /^fe80::/, 'BIRD sends a link-local next hop too');
    assert.deepEqual([...(await frr.routes('ipv4')).keys()], ['10.0.0.5/32']);

    const k4 = await waitForKernelRoute(frr, '10.0.0.5/32');
    assert.deepEqual([k4.protocol, k4.nexthops], ['bgp', [{ gateway: nodeIPv4(1), dev: 'eth0', weight: 1 }]]);
    const k6 = await waitForKernelRoute(frr, 'fd00::5/128');
    assert.match(k6.nexthops[0]!.gateway ?? '', /^fe80::/, 'zebra installs the link-local next hop');

    const bfd = await waitFor(async () => (await frr.bfdPeers()).find((p) => p.peer === nodeIPv4(1) && p.up), { timeoutMs: 5_000, what: 'BFD up' });
    assert.equal(bfd.local, '10.99.0.1');

    // BIRD's own table shows its announcements as local paths.
    const own = (await bird.routes()).get('10.0.0.5/32')!;
    assert.deepEqual([own.paths[0]!.local, own.communities], [true, ['64512:100']]);

    // Runtime withdraw and re-announce with other attributes (birdc configure; sessions stay up).
    await bird.withdraw('10.0.0.5/32');
    await waitForNoRoute(frr, '10.0.0.5/32');
    await waitForNoKernelRoute(frr, '10.0.0.5/32');
    await bird.announce({ ...SVC4, communities: ['64512:200', 'no-advertise'] });
    const back = await waitForRoute(frr, '10.0.0.5/32');
    assert.deepEqual(back.communities, ['64512:200', '65535:65282']);
    assert.equal((await frr.sessions()).get(nodeIPv4(1))!.established, true);

    await stopAndCheck(lab, frr, bird);
    await waitFor(() => namespacePids(lab.ns('router')).length === 0, { what: 'router namespace empty' });
  });

  it('BIRD router with TCP-MD5 neighbors merges two FRR speakers into one ECMP kernel route; a wrong key never connects', async (t) => {
    const key = 'lab-md5-key';
    const bird = await startBird(lab, 'router', {
      asn: 64500,
      routerId: '10.99.0.1',
      neighbors: [
        { address: nodeIPv4(1), asn: 64512, password: key },
        { address: nodeIPv4(2), asn: 64512, password: key },
        { address: '10.99.0.100', asn: 64512, password: key },
      ],
    });
    const speaker = (host: string, address: string, password: string) =>
      startFrr(lab, host, {
        asn: 64512,
        routerId: address,
        neighbors: [{ address: '10.99.0.1', asn: 64500, password }],
        announcements: [{ prefix: '10.0.0.7/32', communities: ['64512:7'] }],
        installRoutes: false,
      });
    const [frr1, frr2, wrong] = await Promise.all([speaker('node1', nodeIPv4(1), key), speaker('node2', nodeIPv4(2), key), speaker('client', '10.99.0.100', 'not-the-key')]);
    t.after(() => Promise.all([bird, frr1, frr2, wrong].map((r) => r.stop())));

    const sessions = await waitForSessions(bird, [nodeIPv4(1), nodeIPv4(2)], { prefixes: 1 });
    assert.equal(sessions.get('10.99.0.100')?.established, false, 'the wrong key is refused');
    assert.equal((await frr1.sessions()).get('10.99.0.1')!.established, true);

    const route = await waitForRoute(bird, '10.0.0.7/32', (r) => r.paths.length === 2);
    assert.deepEqual(route.nexthops.slice().sort(), [nodeIPv4(1), nodeIPv4(2)]);
    assert.deepEqual(route.communities, ['64512:7']);
    const kernel = await waitForKernelRoute(bird, '10.0.0.7/32', (r) => r.nexthops.length === 2);
    assert.equal(kernel.protocol, 'bird');
    assert.deepEqual(kernel.nexthops.map((n) => n.gateway).sort(), [nodeIPv4(1), nodeIPv4(2)]);

    // Real traffic from behind the router: the service address lives on both nodes' lo.
    for (const node of ['node1', 'node2']) lab.mustExec(node, ['ip', 'addr', 'add', '10.0.0.7/32', 'dev', 'lo']);
    const ping = await lab.execAsync('far', ['ping', '-c', '1', '-W', '2', '10.0.0.7']);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);

    // Still refused after several connect retries.
    assert.equal((await bird.sessions()).get('10.99.0.100')?.established, false);

    await stopAndCheck(lab, bird, frr1, frr2, wrong);
  });
});
