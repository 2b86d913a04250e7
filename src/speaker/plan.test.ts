import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bgpAdv, l2, parse, peer, plannerPeers, plannerPools, pool, valid } from '../config/fixtures.ts';
import type { Config } from '../config/model.ts';
import { formatIP, parseIP } from '../net/address.ts';
import { electL2, electionHash, excludeFromLBLabel, planBGP, planL2, prefixKey, type NodeInfo, type PlanInput, type ServiceInfo } from './plan.ts';

const node = (name: string, labels: Record<string, string> = {}, extra: Partial<NodeInfo> = {}): NodeInfo => ({
  name,
  labels: { 'kubernetes.io/hostname': name, ...labels },
  networkUnavailable: false,
  ...extra,
});
const svc = (key: string, ips: string[], endpointNodes: string[], extra: Partial<ServiceInfo> = {}): ServiceInfo => ({
  key,
  labels: {},
  ips: ips.map((s) => parseIP(s)!),
  externalTrafficPolicy: 'Cluster',
  endpointNodes: new Set(endpointNodes),
  ...extra,
});
const nodes = (...ns: NodeInfo[]) => new Map(ns.map((n) => [n.name, n]));

function input(config: Config, services: ServiceInfo[], self: string, ns: Map<string, NodeInfo>, live?: string[]): PlanInput {
  return { config, services, nodes: ns, self, liveSpeakers: new Set(live ?? [...ns.keys()]) };
}

const bgpConfig = valid(
  parse({
    ipAddressPools: plannerPools(),
    bgpPeers: plannerPeers(),
    bgpAdvertisements: [
      bgpAdv('all', { ipAddressPools: ['web'], communities: ['65000:1'], localPref: 100 }),
      bgpAdv('more', { ipAddressPools: ['web'], communities: ['large:1:2:3', '65000:1'], peers: ['r1'], localPref: 100 }),
      bgpAdv('aggregated', { ipAddressPools: ['agg'], aggregationLength: 24, nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
    ],
  }),
);

describe('planBGP', () => {
  const ns = nodes(node('n1', { rack: 'a' }), node('n2', { rack: 'b' }));

  it('advertises served services to the peers selecting this node, with unioned communities', () => {
    const plan = planBGP(input(bgpConfig, [svc('a/web', ['10.1.0.5', 'fd01::5'], ['n2'])], 'n1', ns));
    const r1 = plan.get('r1')!;
    assert.deepEqual(r1.map((r) => prefixKey(r.prefix)), ['10.1.0.5/32', 'fd01::5/128']);
    assert.deepEqual(r1[0]!.communities, [
      { kind: 'large', globalAdmin: 1, localData1: 2, localData2: 3 },
      { kind: 'standard', value: 65000 * 65536 + 1 },
    ]);
    assert.equal(r1[0]!.localPref, 100);
    // r2 is not in adv "more": only 65000:1.
    assert.deepEqual(plan.get('r2')![0]!.communities, [{ kind: 'standard', value: 65000 * 65536 + 1 }]);
  });

  it('lists each peer\'s routes in the locale order of their prefix text, whatever the service order', () => {
    const ips = ['10.1.0.9', '10.1.0.10', 'fd01::a', '10.1.0.100', '10.1.0.1', 'fd01::9'];
    const services = ips.map((ip, i) => svc(`a/s${i}`, [ip], ['n1']));
    const keys = ips.map((ip) => `${ip}/${ip.includes(':') ? 128 : 32}`);
    for (const order of [services, [...services].reverse()]) {
      const r1 = planBGP(input(bgpConfig, order, 'n1', ns)).get('r1')!;
      assert.deepEqual(r1.map((r) => prefixKey(r.prefix)), [...keys].sort((x, y) => x.localeCompare(y)));
    }
  });

  it('gives every node identical attributes for a shared prefix (ECMP)', () => {
    const services = [svc('a/web', ['10.1.0.5'], ['n1'])];
    const both = nodes(node('n1', { rack: 'a' }), node('n2', { rack: 'a' }));
    assert.deepEqual(planBGP(input(bgpConfig, services, 'n1', both)), planBGP(input(bgpConfig, services, 'n2', both)));
  });

  it('does not advertise a service without serving endpoints', () => {
    assert.equal(planBGP(input(bgpConfig, [svc('a/web', ['10.1.0.5'], [])], 'n1', ns)).size, 0);
  });

  it('advertises Local services only from nodes with an endpoint', () => {
    const s = svc('a/web', ['10.1.0.5'], ['n2'], { externalTrafficPolicy: 'Local' });
    const both = nodes(node('n1', { rack: 'a' }), node('n2', { rack: 'a' }));
    assert.equal(planBGP(input(bgpConfig, [s], 'n1', both)).size, 0);
    assert.equal(planBGP(input(bgpConfig, [s], 'n2', both)).get('r1')?.length, 2 - 1);
  });

  it('honours peer nodeSelectors, advertisement nodeSelectors and aggregation', () => {
    const services = [svc('a/x', ['10.2.0.7'], ['n1']), svc('a/y', ['10.2.0.9'], ['n1'])];
    const onA = planBGP(input(bgpConfig, services, 'n1', ns));
    assert.deepEqual(onA.get('r1')!.map((r) => prefixKey(r.prefix)), ['10.2.0.0/24']);
    assert.deepEqual(onA.get('r1')![0]!.services, ['a/x', 'a/y']);
    assert.equal(planBGP(input(bgpConfig, services, 'n2', ns)).size, 0, 'adv "aggregated" selects rack a only');
  });

  it('never announces from excluded or network-unavailable nodes', () => {
    const s = [svc('a/web', ['10.1.0.5'], ['n1'])];
    assert.equal(planBGP(input(bgpConfig, s, 'n1', nodes(node('n1', { rack: 'a', [excludeFromLBLabel]: '' })))).size, 0);
    assert.equal(planBGP(input(bgpConfig, s, 'n1', nodes(node('n1', { rack: 'a' }, { networkUnavailable: true })))).size, 0);
    const ignoring = { ...input(bgpConfig, s, 'n1', nodes(node('n1', { rack: 'a', [excludeFromLBLabel]: '' }))), ignoreExcludeLabel: true };
    assert.equal(planBGP(ignoring).size, 2);
  });
});

const l2Config = valid(
  parse({
    ipAddressPools: [pool('l2', { addresses: ['10.3.0.0/24', 'fd03::/120'] }), pool('pinned', { addresses: ['10.4.0.0/24'] })],
    l2Advertisements: [
      l2('all', { ipAddressPools: ['l2'] }),
      l2('pinned', {
        ipAddressPools: ['pinned'],
        interfaces: ['eth1'],
        nodeSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }],
        preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { fast: 'yes' } } }],
      }),
    ],
  }),
);

describe('L2 election', () => {
  const ns = nodes(node('n1', { zone: 'z1' }), node('n2', { zone: 'z1', fast: 'yes' }), node('n3', { zone: 'z2' }));

  it('orders candidates by sha256(node#ip) and agrees on every node', () => {
    const s = svc('a/s', ['10.3.0.1'], ['n1', 'n2', 'n3']);
    const expected = ['n1', 'n2', 'n3'].sort((a, b) => (electionHash(a, s.ips[0]!) < electionHash(b, s.ips[0]!) ? -1 : 1));
    const e = electL2(input(l2Config, [s], 'n1', ns), s)!;
    assert.deepEqual(e.candidates, expected);
    const winners = ['n1', 'n2', 'n3'].map((self) => planL2(input(l2Config, [s], self, ns)).length);
    assert.deepEqual(winners.filter((n) => n === 1).length, 1, 'exactly one node announces');
  });

  it('spreads many IPs over the nodes', () => {
    const counts = new Map<string, number>();
    for (let i = 1; i < 200; i++) {
      const s = svc(`a/s${i}`, [`10.3.0.${i}`], ['n1', 'n2', 'n3']);
      const w = electL2(input(l2Config, [s], 'n1', ns), s)!.node!;
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    for (const n of ['n1', 'n2', 'n3']) assert.ok((counts.get(n) ?? 0) > 30, `${n} got ${counts.get(n)}`);
  });

  it('applies preferred weights, node selectors and interfaces', () => {
    const s = svc('a/p', ['10.4.0.1'], ['n1', 'n2', 'n3']);
    const e = electL2(input(l2Config, [s], 'n1', ns), s)!;
    assert.deepEqual(e.candidates[0], 'n2', 'weight 50 wins');
    assert.ok(!e.candidates.includes('n3'), 'zone z2 is not selected');
    const plan = planL2(input(l2Config, [s], 'n2', ns));
    assert.deepEqual(plan.map((a) => [formatIP(a.ip), a.interfaces]), [['10.4.0.1', ['eth1']]]);
  });

  it('only elects nodes with a local endpoint for Local policy, and only live speakers', () => {
    const s = svc('a/l', ['10.3.0.7'], ['n3'], { externalTrafficPolicy: 'Local' });
    assert.equal(electL2(input(l2Config, [s], 'n1', ns), s)!.node, 'n3');
    assert.equal(electL2(input(l2Config, [s], 'n1', ns, ['n1', 'n2']), s)!.node, undefined);
    const c = svc('a/c', ['10.3.0.8'], ['n1', 'n2', 'n3']);
    const winner = electL2(input(l2Config, [c], 'n1', ns), c)!.node!;
    const without = electL2(input(l2Config, [c], 'n1', ns, [...ns.keys()].filter((n) => n !== winner)), c)!;
    assert.notEqual(without.node, winner, 'a dead speaker is replaced');
  });

  it('puts services sharing an IP on the same node, with both IPs of a dual-stack service', () => {
    const a = svc('a/one', ['10.3.0.9'], ['n1', 'n2', 'n3']);
    const b = svc('a/two', ['10.3.0.9'], ['n1', 'n2', 'n3']);
    const d = svc('a/dual', ['10.3.0.10', 'fd03::10'], ['n1', 'n2', 'n3']);
    const plans = ['n1', 'n2', 'n3'].map((self) => planL2(input(l2Config, [a, b, d], self, ns)));
    const holder = plans.find((p) => p.some((x) => formatIP(x.ip) === '10.3.0.9'))!;
    assert.deepEqual(holder.find((x) => formatIP(x.ip) === '10.3.0.9')!.services, ['a/one', 'a/two']);
    const dualHolder = plans.find((p) => p.some((x) => formatIP(x.ip) === '10.3.0.10'))!;
    assert.ok(dualHolder.some((x) => formatIP(x.ip) === 'fd03::10'));
  });

  it('moves a cordoned node to the back of the line (planned handover)', () => {
    const s = svc('a/c', ['10.3.0.11'], ['n1', 'n2', 'n3']);
    const winner = electL2(input(l2Config, [s], 'n1', ns), s)!.node!;
    const cordoned = new Map(ns);
    cordoned.set(winner, { ...ns.get(winner)!, unschedulable: true });
    const e = electL2(input(l2Config, [s], 'n1', cordoned), s)!;
    assert.notEqual(e.node, winner);
    assert.equal(e.candidates.at(-1), winner);
  });
});
