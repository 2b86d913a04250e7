// FRR and GoBGP peering inside the lab, no IronLB code involved.
//   1. FRR router (static neighbors) ← GoBGP speaker announcing a /32 and a /128 with communities.
//   2. TCP-MD5 between FRR and GoBGP: the matching key establishes, a wrong one does not.
//   3. GoBGP router (dynamic neighbors) ← FRR speaker; GoBGP installs nothing into the kernel.
// GoBGP 3.x waits at least 5 s between its own connection attempts (minConnectRetryInterval), so in
// every pair here FRR is the side that dials; GoBGP accepts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { namespacePids } from '../../../src/lab/network/namespace.ts';
import { pidStartTime } from '../../../src/lab/network/pid.ts';
import { labUnavailable } from '../../../src/lab/network/requirements.ts';
import { nodeIPv4, nodeIPv6, standardLabSpec } from '../../../src/lab/network/standard-lab.ts';
import { createTopology, type Topology } from '../../../src/lab/network/topology.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { FRR_DAEMONS_DIR, startFrr } from '../../../src/lab/routers/frr.ts';
import { startGobgp } from '../../../src/lab/routers/gobgp.ts';
import type { BgpRouter } from '../../../src/lab/routers/router.ts';
import { waitForKernelRoute, waitForNoRoute, waitForRoute, waitForSessions } from '../../../src/lab/routers/router-wait.ts';

const skip = labUnavailable(['vtysh', 'gobgpd', 'gobgp']) ?? (existsSync(`${FRR_DAEMONS_DIR}/bgpd`) ? undefined : 'FRR is not installed');

async function stopAndCheck(...routers: BgpRouter[]): Promise<void> {
  await Promise.all(routers.map((r) => r.stop()));
  for (const r of routers) {
    for (const p of r.processes()) {
      assert.equal(p.running, false, `${r.kind} ${p.name} stopped`);
      assert.equal(pidStartTime(p.pid), undefined, `PID ${p.pid} (${p.name}) is gone`);
    }
    assert.deepEqual(namespacePids(r.host.ns), [], `nothing left running in ${r.host.name}`);
  }
}

describe('FRR ↔ GoBGP', { skip, concurrency: 1 }, () => {
  let lab: Topology;
  before(() => {
    lab = createTopology(standardLabSpec({ nodes: 2 }));
  });
  after(() => lab?.destroy());

  it('FRR router learns a GoBGP speaker’s /32 and /128 with communities, large communities and MED', async (t) => {
    const frr = await startFrr(lab, 'router', {
      asn: 64500,
      routerId: '10.99.0.1',
      neighbors: [
        { address: nodeIPv4(1), asn: 64512 },
        { address: nodeIPv6(1), asn: 64512 },
      ],
    });
    const gobgp = await startGobgp(lab, 'node1', {
      asn: 64512,
      routerId: nodeIPv4(1),
      neighbors: [
        { address: '10.99.0.1', asn: 64500, passive: true },
        { address: 'fd99::1', asn: 64500, passive: true },
      ],
      announcements: [
        { prefix: '10.0.0.5/32', communities: ['64512:100'], largeCommunities: ['64512:1:2'], med: 10 },
        { prefix: 'fd00::5/128', communities: ['64512:100'], largeCommunities: ['64512:1:2'] },
      ],
    });
    t.after(() => Promise.all([frr.stop(), gobgp.stop()]));

    const sessions = await waitForSessions(frr, [nodeIPv4(1), nodeIPv6(1)], { prefixes: 1 });
    assert.deepEqual([sessions.get(nodeIPv4(1))!.dynamic, sessions.get(nodeIPv4(1))!.remoteAs], [false, 64512]);
    const gobgpSide = await waitForSessions(gobgp, ['10.99.0.1', 'fd99::1']);
    assert.deepEqual([gobgpSide.get('10.99.0.1')!.state, gobgpSide.get('10.99.0.1')!.dynamic], ['Established', false]);

    const routes = await frr.routes();
    const v4 = routes.get('10.0.0.5/32')!;
    assert.deepEqual(
      { nexthops: v4.nexthops, communities: v4.communities, large: v4.largeCommunities, med: v4.med, asPath: v4.asPath, origin: v4.origin },
      { nexthops: [nodeIPv4(1)], communities: ['64512:100'], large: ['64512:1:2'], med: 10, asPath: [64512], origin: 'igp' },
    );
    const v6 = routes.get('fd00::5/128')!;
    assert.deepEqual([v6.nexthops, v6.communities, v6.largeCommunities, v6.origin], [[nodeIPv6(1)], ['64512:100'], ['64512:1:2'], 'igp']);

    const k4 = await waitForKernelRoute(frr, '10.0.0.5/32');
    assert.deepEqual(k4.nexthops, [{ gateway: nodeIPv4(1), dev: 'eth0', weight: 1 }]);
    const k6 = await waitForKernelRoute(frr, 'fd00::5/128');
    assert.deepEqual(k6.nexthops.map((n) => n.gateway), [nodeIPv6(1)], 'GoBGP sends only a global next hop');

    // GoBGP's own table: the announcements as local paths.
    const own = (await gobgp.routes('ipv4')).get('10.0.0.5/32')!;
    assert.deepEqual([own.paths[0]!.local, own.communities, own.med], [true, ['64512:100'], 10]);

    await gobgp.withdraw('fd00::5/128');
    await waitForNoRoute(frr, 'fd00::5/128');
    assert.ok((await frr.routes()).has('10.0.0.5/32'));

    await stopAndCheck(frr, gobgp);
  });

  it('TCP-MD5: FRR and GoBGP with the same key establish; a GoBGP with another key never does', async (t) => {
    const key = 'lab-md5-key';
    const frr = await startFrr(lab, 'router', {
      asn: 64500,
      routerId: '10.99.0.1',
      neighbors: [
        { address: nodeIPv4(1), asn: 64512, password: key },
        { address: nodeIPv4(2), asn: 64512, password: key },
      ],
    });
    const speaker = (node: number, password: string) =>
      startGobgp(lab, `node${node}`, {
        asn: 64512,
        routerId: nodeIPv4(node),
        neighbors: [{ address: '10.99.0.1', asn: 64500, password, passive: true }],
        announcements: [{ prefix: `10.0.0.${20 + node}/32` }],
      });
    const [right, wrong] = await Promise.all([speaker(1, key), speaker(2, 'not-the-key')]);
    t.after(() => Promise.all([frr, right, wrong].map((r) => r.stop())));

    await waitForSessions(frr, [nodeIPv4(1)], { prefixes: 1 });
    assert.ok((await frr.routes()).has('10.0.0.21/32'));
    await sleep(2_000); // several connect retries (1 s) of FRR towards the wrong-key speaker
    const sessions = await frr.sessions();
    assert.equal(sessions.get(nodeIPv4(2))!.established, false, `wrong key: ${sessions.get(nodeIPv4(2))!.state}`);
    assert.equal((await wrong.sessions()).get('10.99.0.1')!.established, false);

    await stopAndCheck(frr, right, wrong);
  });

  it('GoBGP router with dynamic neighbors learns an FRR speaker’s route and installs nothing in the kernel', async (t) => {
    const gobgp = await startGobgp(lab, 'router', {
      asn: 64500,
      routerId: '10.99.0.1',
      listenRanges: [
        { prefix: '10.99.0.0/24', asn: 64512 },
        { prefix: 'fd99::/64', asn: 64512 },
      ],
    });
    const frr = await startFrr(lab, 'node1', {
      asn: 64512,
      routerId: nodeIPv4(1),
      neighbors: [
        { address: '10.99.0.1', asn: 64500 },
        { address: 'fd99::1', asn: 64500 },
      ],
      announcements: [
        { prefix: '10.0.0.9/32', communities: ['64512:9', 'blackhole'], largeCommunities: ['64512:9:9'] },
        { prefix: 'fd00::9/128', communities: ['64512:9'] },
      ],
    });
    t.after(() => Promise.all([gobgp.stop(), frr.stop()]));

    const sessions = await waitForSessions(gobgp, [nodeIPv4(1), nodeIPv6(1)], { prefixes: 1 });
    assert.equal(sessions.get(nodeIPv4(1))!.dynamic, true);
    const v4 = await waitForRoute(gobgp, '10.0.0.9/32');
    assert.deepEqual(
      { nexthops: v4.nexthops, communities: v4.communities, large: v4.largeCommunities, asPath: v4.asPath, origin: v4.origin, peer: v4.paths[0]!.peer },
      { nexthops: [nodeIPv4(1)], communities: ['64512:9', '65535:666'], large: ['64512:9:9'], asPath: [64512], origin: 'igp', peer: nodeIPv4(1) },
    );
    const v6 = await waitForRoute(gobgp, 'fd00::9/128');
    assert.deepEqual([v6.nexthops, v6.family], [[nodeIPv6(1)], 'ipv6']);
    assert.equal(await gobgp.kernelRoute('10.0.0.9/32'), undefined, 'GoBGP installs nothing');

    // FRR announce at runtime (vtysh), then withdraw.
    await frr.announce({ prefix: '10.0.0.10/32', largeCommunities: ['64512:10:10'] });
    assert.deepEqual((await waitForRoute(gobgp, '10.0.0.10/32')).largeCommunities, ['64512:10:10']);
    await frr.announce({ prefix: '10.0.0.10/32', largeCommunities: ['64512:10:11'] });
    await waitForRoute(gobgp, '10.0.0.10/32', (r) => r.largeCommunities[0] === '64512:10:11');
    await frr.withdraw('10.0.0.10/32');
    await waitForNoRoute(gobgp, '10.0.0.10/32');

    await stopAndCheck(gobgp, frr);
  });
});
