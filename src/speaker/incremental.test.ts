// The speaker's memoizing planning (ServiceInfoIndex, BGPPlanner), kept across random sequences of
// changes, against a fresh one per step (serviceInfos, planBGP): the same answers every time; and what is
// unchanged keeps its object, which is what the sessions and status writers rely on to skip work.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bgpAdv, parse, peer, plannerPeers, plannerPools, pool, valid } from '../config/fixtures.ts';
import type { ServiceObject } from '../controller/service-request.ts';
import { ServiceInfoIndex, serviceInfos, type EndpointSliceObject } from './inputs.ts';
import { BGPPlanner, planBGP, type NodeInfo, type PlanInput, type ServiceInfo } from './plan.ts';

const config = valid(
  parse({
    ipAddressPools: plannerPools(),
    bgpPeers: plannerPeers(),
    bgpAdvertisements: [
      bgpAdv('all', { ipAddressPools: ['web'], communities: ['65000:1'], localPref: 100 }),
      bgpAdv('more', { ipAddressPools: ['web'], communities: ['large:1:2:3', '65000:2'], peers: ['r1'], localPref: 100 }),
      bgpAdv('gold', { ipAddressPools: ['web'], communities: ['65000:9'], serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }),
      bgpAdv('silver', { ipAddressPools: ['web'], communities: ['65000:8'], serviceSelectors: [{ matchLabels: { tier: 'silver' } }] }),
      bgpAdv('aggregated', { ipAddressPools: ['agg'], aggregationLength: 24, communities: ['65000:24'] }),
    ],
  }),
);
const otherConfig = valid(
  parse({
    ipAddressPools: [pool('web', { addresses: ['10.1.0.0/24', 'fd01::/120'] }), pool('agg', { addresses: ['10.2.0.0/24'] })],
    bgpPeers: [peer('r1', { myASN: 64512, peerASN: 64512, peerAddress: '10.0.0.1' })],
    bgpAdvertisements: [bgpAdv('all', { ipAddressPools: ['web', 'agg'], aggregationLength: 32 })],
  }),
);

// A small world: services s0..s5 in namespace "a", nodes n1 and n2, each event replaces one object.
const IPS = ['10.1.0.1', '10.1.0.2', '10.2.0.7', '10.2.0.8', 'fd01::5', '10.9.9.9'];
const service = (i: number, v: { ips: number[]; local: boolean; tier?: 'gold' | 'silver'; lb: boolean; rev: number }): ServiceObject => ({
  metadata: { name: `s${i}`, namespace: 'a', labels: v.tier ? { tier: v.tier } : {}, annotations: { rev: String(v.rev) } },
  spec: { type: v.lb ? 'LoadBalancer' : 'ClusterIP', externalTrafficPolicy: v.local ? 'Local' : 'Cluster' },
  status: { loadBalancer: { ingress: v.ips.map((j) => ({ ip: IPS[j]! })) } },
});
// A service may have two slices (part 0 and 1); every third endpoint is not ready.
const slice = (i: number, nodes: string[]): EndpointSliceObject => ({
  metadata: { namespace: 'a', labels: { 'kubernetes.io/service-name': `s${i}` } },
  endpoints: nodes.map((n, k) => ({ nodeName: n, conditions: { ready: k % 3 !== 2 } })),
});
const nodeInfo = (name: string, labels: Record<string, string>): NodeInfo => ({ name, labels, networkUnavailable: false });

type Event =
  | { kind: 'service'; i: number; ips: number[]; local: boolean; tier: 'gold' | 'silver' | undefined; lb: boolean }
  | { kind: 'deleteService'; i: number }
  | { kind: 'slice'; i: number; part: number; nodes: string[] }
  | { kind: 'deleteSlice'; i: number; part: number }
  | { kind: 'selfLabels'; rack: 'a' | 'b' }
  | { kind: 'config'; other: boolean }
  | { kind: 'nothing' };

// Weighted towards changing Services and slices: a Service changing while its routes exist is where
// reuse could go wrong.
const event: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('service' as const),
      i: fc.nat(2),
      ips: fc.uniqueArray(fc.nat(IPS.length - 1), { maxLength: 2 }),
      local: fc.boolean(),
      tier: fc.constantFrom('gold' as const, 'silver' as const, undefined),
      lb: fc.constantFrom(true, true, true, false),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteService' as const), i: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('slice' as const), i: fc.nat(2), part: fc.nat(1), nodes: fc.subarray(['n1', 'n2', 'n1']) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteSlice' as const), i: fc.nat(2), part: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('selfLabels' as const), rack: fc.constantFrom('a' as const, 'b' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('config' as const), other: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'nothing' as const }) },
);

describe('incremental planning', () => {
  it('ServiceInfoIndex and BGPPlanner give what serviceInfos and planBGP give, through any sequence of changes', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
        const services = new Map<number, ServiceObject>();
        const slices = new Map<string, EndpointSliceObject>();
        let self = nodeInfo('n1', { rack: 'a' });
        let cfg = config;
        let rev = 0;
        const index = new ServiceInfoIndex(undefined);
        const planner = new BGPPlanner();
        let lastInfos: readonly ServiceInfo[] | undefined;
        let lastRoutes: ReadonlyMap<string, readonly unknown[]> | undefined;
        for (const e of events) {
          let changed = true;
          switch (e.kind) {
            case 'service':
              services.set(e.i, service(e.i, { ...e, rev: ++rev }));
              break;
            case 'deleteService':
              changed = services.delete(e.i);
              break;
            case 'slice':
              slices.set(`${e.i}/${e.part}`, slice(e.i, e.nodes));
              break;
            case 'deleteSlice':
              changed = slices.delete(`${e.i}/${e.part}`);
              break;
            case 'selfLabels':
              // A new NodeInfo object each time, as the speaker makes one per recompute.
              changed = self.labels.rack !== e.rack;
              self = nodeInfo('n1', { rack: e.rack });
              break;
            case 'config':
              changed = (cfg === otherConfig) !== e.other;
              cfg = e.other ? otherConfig : config;
              break;
            case 'nothing':
              changed = false;
              self = nodeInfo('n1', { ...self.labels });
          }
          const svcList = [...services.values()];
          const sliceList = [...slices.values()];
          const infos = index.update(svcList, sliceList);
          assert.deepEqual(infos, serviceInfos(svcList, sliceList, undefined));
          if (!changed || e.kind === 'selfLabels' || e.kind === 'config') assert.equal(infos, lastInfos ?? infos, 'unchanged objects: the same array');
          const input: PlanInput = { config: cfg, services: infos, nodes: new Map([[self.name, self]]), self: self.name, liveSpeakers: new Set([self.name]) };
          const routes = planner.plan(input);
          assert.deepEqual(new Map([...routes].map(([p, r]) => [p, [...r]])), planBGP(input));
          if (!changed && lastRoutes) assert.equal(routes, lastRoutes, 'unchanged input: the same routes map');
          lastInfos = infos;
          lastRoutes = routes;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('one changed Service leaves every other ServiceInfo, route and untouched peer list as it was', () => {
    const svcs = [0, 1, 2, 3].map((i) => service(i, { ips: [i], local: false, lb: true, rev: 1 }));
    const sl = [0, 1, 2, 3].map((i) => slice(i, ['n1']));
    const index = new ServiceInfoIndex(undefined);
    const planner = new BGPPlanner();
    const self = nodeInfo('n1', { rack: 'b' }); // rack b: r1 only
    const plan = (infos: readonly ServiceInfo[]) =>
      planner.plan({ config, services: infos, nodes: new Map([['n1', { ...self }]]), self: 'n1', liveSpeakers: new Set(['n1']) });
    const before = index.update(svcs, sl);
    const routesBefore = plan(before);
    const r1Before = routesBefore.get('r1')!;
    assert.equal(r1Before.length, 3, '10.1.0.1, 10.1.0.2 and the aggregate 10.2.0.0/24');

    // s1 (10.1.0.2) becomes gold: advertisement "gold" adds a community to its route only.
    const changed = [svcs[0]!, service(1, { ips: [1], local: false, tier: 'gold', lb: true, rev: 2 }), svcs[2]!, svcs[3]!];
    const after = index.update(changed, sl);
    assert.notEqual(after, before);
    for (const i of [0, 2, 3]) assert.equal(after[i], before[i], `s${i} keeps its ServiceInfo`);
    assert.notEqual(after[1], before[1]);
    const r1After = plan(after).get('r1')!;
    assert.notEqual(r1After, r1Before);
    const byKey = (list: readonly { prefix: { value: bigint; length: number } }[]) => new Map(list.map((r) => [`${r.prefix.value}/${r.prefix.length}`, r]));
    const [b, a] = [byKey(r1Before), byKey(r1After)];
    let same = 0;
    for (const [k, r] of a) if (b.get(k) === r) same++;
    assert.equal(same, 2, "10.1.0.1/32 and the aggregate of s2 and s3 are the same objects; s1's route is new");
    assert.equal(plan(after).get('r1'), r1After, 'planned again without a change: the same array');

    // s1 moves from gold to silver: as many shares as before, but another community.
    const silver = [changed[0]!, service(1, { ips: [1], local: false, tier: 'silver', lb: true, rev: 3 }), changed[2]!, changed[3]!];
    const routesSilver = plan(index.update(silver, sl));
    assert.deepEqual(new Map([...routesSilver].map(([p, r]) => [p, [...r]])), planBGP({ config, services: index.update(silver, sl), nodes: new Map([['n1', self]]), self: 'n1', liveSpeakers: new Set(['n1']) }));

    // Touching nothing: the same ServiceInfo array.
    assert.equal(index.update(silver, sl), index.update(silver, sl));
  });
});
