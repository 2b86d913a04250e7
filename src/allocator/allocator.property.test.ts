// Random sequences of allocate / assign / release / setPools against a brute-force reference model that
// scans every address of small pools. The model restates COMPAT.md's rules the slow, obvious way; the
// allocator must hand out exactly the same addresses, and its invariants must hold after every step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Pool } from '../config/model.ts';
import { formatIP, parseAddressRange, type AddressRange, type IPAddress, type IPFamily } from '../net/address.ts';
import { Allocator, type AllocationRequest, type AllocationResult } from './allocator.ts';
import { selectorMatches } from '../config/selector.ts';

// ---- the reference model -----------------------------------------------------------------------

/** What sharing needs: the request as the service last made it. */
type Profile = Pick<AllocationRequest, 'key' | 'sharingKey' | 'ports' | 'externalTrafficPolicy' | 'selector'>;

interface Held {
  ips: IPAddress[];
  pool: string;
  profile: Profile;
}

/** The sharing rules, restated independently of sharing.ts. */
function mayShare(a: Profile, b: Profile): boolean {
  if (!a.sharingKey || a.sharingKey !== b.sharingKey) return false;
  if (a.externalTrafficPolicy !== b.externalTrafficPolicy) return false;
  if (a.externalTrafficPolicy === 'Local') {
    const sa = a.selector ?? {};
    const sb = b.selector ?? {};
    const ka = Object.keys(sa);
    if (ka.length !== Object.keys(sb).length || ka.some((k) => sa[k] !== sb[k])) return false;
  }
  return !a.ports.some((p) => b.ports.some((q) => p.port === q.port && p.protocol.toUpperCase() === q.protocol.toUpperCase()));
}

const eq = (a: IPAddress, b: IPAddress) => a.family === b.family && a.value === b.value;
const inRanges = (p: Pool, ip: IPAddress) => p.ranges.some((r) => r.family === ip.family && r.first <= ip.value && ip.value <= r.last);
const usable = (p: Pool, ip: IPAddress) => !(p.avoidBuggyIPs && ip.family === 'IPv4' && [0n, 255n].includes(ip.value % 256n));

/** serviceAllocation restated: (listed or selected namespace, if any are given) and (a service selector matches, if any). */
function serves(p: Pool, req: AllocationRequest): boolean {
  const sa = p.serviceAllocation;
  if (sa === undefined) return true;
  const nsGiven = sa.namespaces.length + sa.namespaceSelectors.length > 0;
  const nsOK = sa.namespaces.includes(req.namespace) || sa.namespaceSelectors.some((s) => selectorMatches(s, req.namespaceLabels));
  const svcOK = sa.serviceSelectors.length === 0 || sa.serviceSelectors.some((s) => selectorMatches(s, req.labels));
  return (!nsGiven || nsOK) && svcOK;
}

function wanted(req: AllocationRequest): { mode: 'single' | 'prefer' | 'require'; families: IPFamily[] } {
  const primary = req.families[0] ?? 'IPv4';
  const other: IPFamily = primary === 'IPv4' ? 'IPv6' : 'IPv4';
  if (req.familyPolicy === 'RequireDualStack') return { mode: 'require', families: [primary, other] };
  if (req.familyPolicy === 'PreferDualStack' && req.families.length > 1 && req.families[1] !== primary) {
    return { mode: 'prefer', families: [primary, req.families[1]!] };
  }
  return { mode: 'single', families: [primary] };
}

class Model {
  pools: Pool[] = [];
  held = new Map<string, Held>();

  setPools(pools: Pool[]): void {
    this.pools = pools;
    for (const h of this.held.values()) {
      const p = this.pools.find((p) => h.ips.every((ip) => inRanges(p, ip)));
      if (p !== undefined) h.pool = p.name;
    }
  }

  holders(ip: IPAddress): Held[] {
    return [...this.held.values()].filter((h) => h.ips.some((x) => eq(x, ip)));
  }

  mayTake(ip: IPAddress, profile: Profile): boolean {
    return this.holders(ip).every((h) => h.profile.key === profile.key || mayShare(h.profile, profile));
  }

  lowest(p: Pool, family: IPFamily, profile: Profile): IPAddress | undefined {
    const ranges = p.ranges.filter((r) => r.family === family).sort((a, b) => (a.first < b.first ? -1 : 1));
    for (const r of ranges) {
      for (let v = r.first; v <= r.last; v++) {
        const ip = { family, value: v };
        if (usable(p, ip) && this.mayTake(ip, profile)) return ip;
      }
    }
    return undefined;
  }

  valid(req: AllocationRequest, ips: readonly IPAddress[]): Pool | undefined {
    const plan = wanted(req);
    if (ips.length === 0 || new Set(ips.map((i) => i.family)).size !== ips.length) return undefined;
    if (!ips.every((i) => plan.families.includes(i.family))) return undefined;
    if (plan.mode === 'require' && ips.length !== 2) return undefined;
    if (req.requestedIPs.length > 0) {
      if (req.requestedIPs.length !== ips.length || !req.requestedIPs.every((r) => ips.some((i) => eq(i, r)))) return undefined;
    }
    const p = this.pools.find((p) => inRanges(p, ips[0]!));
    if (p === undefined || !ips.every((i) => inRanges(p, i) && usable(p, i))) return undefined;
    if (req.poolName !== undefined && req.poolName !== p.name) return undefined;
    if (!serves(p, req)) return undefined;
    const profile = req;
    if (!ips.every((i) => this.mayTake(i, profile))) return undefined;
    return p;
  }

  assign(req: AllocationRequest, ips: readonly IPAddress[]): Held | undefined {
    const p = this.valid(req, ips);
    if (p === undefined) return undefined;
    const order = wanted(req).families;
    const sorted = [...ips].sort((a, b) => order.indexOf(a.family) - order.indexOf(b.family));
    const h = { ips: sorted, pool: p.name, profile: req };
    this.held.set(req.key, h);
    return h;
  }

  allocate(req: AllocationRequest): Held | undefined {
    const plan = wanted(req);
    const profile = req;
    const existing = this.held.get(req.key);
    if (existing !== undefined) {
      if (this.valid(req, existing.ips) !== undefined) {
        existing.profile = profile;
        if (plan.mode === 'prefer' && existing.ips.length === 1 && req.requestedIPs.length === 0) {
          const p = this.pools.find((p) => p.name === existing.pool);
          const missing = plan.families.find((f) => f !== existing.ips[0]!.family)!;
          const add = p && this.lowest(p, missing, profile);
          if (add !== undefined) existing.ips = plan.families[0] === missing ? [add, existing.ips[0]!] : [existing.ips[0]!, add];
        }
        return existing;
      }
      this.held.delete(req.key);
    }
    if (req.requestedIPs.length > 0) return this.assign(req, req.requestedIPs);
    let tiers: Pool[][];
    if (req.poolName !== undefined) {
      const p = this.pools.find((p) => p.name === req.poolName);
      if (p === undefined || !serves(p, req)) return undefined;
      tiers = [[p]];
    } else {
      const prio = (p: Pool) => p.serviceAllocation?.priority ?? Infinity;
      const byName = (a: Pool, b: Pool) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      const pinned = this.pools
        .filter((p) => p.serviceAllocation !== undefined && p.autoAssign && serves(p, req))
        .sort((a, b) => prio(a) - prio(b) || byName(a, b));
      const general = this.pools.filter((p) => p.serviceAllocation === undefined && p.autoAssign).sort(byName);
      tiers = [pinned, general];
    }
    for (const pools of tiers) {
      const found = this.pick(pools, plan, profile);
      if (found !== undefined) {
        const h = { ips: found.ips, pool: found.pool.name, profile };
        this.held.set(req.key, h);
        return h;
      }
    }
    return undefined;
  }

  pick(pools: Pool[], plan: ReturnType<typeof wanted>, profile: Profile): { pool: Pool; ips: IPAddress[] } | undefined {
    const [f0, f1] = plan.families;
    const options = pools.map((pool) => ({ pool, a: this.lowest(pool, f0!, profile), b: f1 && this.lowest(pool, f1, profile) }));
    if (plan.mode === 'single') {
      const o = options.find((o) => o.a !== undefined);
      return o && { pool: o.pool, ips: [o.a!] };
    }
    const both = options.find((o) => o.a !== undefined && o.b !== undefined);
    if (both !== undefined) return { pool: both.pool, ips: [both.a!, both.b!] };
    if (plan.mode === 'require') return undefined;
    const first = options.find((o) => o.a !== undefined);
    if (first !== undefined) return { pool: first.pool, ips: [first.a!] };
    const second = options.find((o) => o.b !== undefined);
    return second && { pool: second.pool, ips: [second.b!] };
  }

  stats(p: Pool): { assignedIPv4: bigint; assignedIPv6: bigint; availableIPv4: bigint; availableIPv6: bigint } {
    const count = (family: IPFamily) => {
      let assigned = 0n;
      let available = 0n;
      for (const r of p.ranges.filter((r) => r.family === family)) {
        for (let v = r.first; v <= r.last; v++) {
          const ip = { family, value: v };
          const isHeld = this.holders(ip).length > 0;
          if (isHeld) assigned++;
          else if (usable(p, ip)) available++;
        }
      }
      return { assigned, available };
    };
    const v4 = count('IPv4');
    const v6 = count('IPv6');
    return { assignedIPv4: v4.assigned, assignedIPv6: v6.assigned, availableIPv4: v4.available, availableIPv6: v6.available };
  }
}

// ---- generators --------------------------------------------------------------------------------

/** Small blocks that pools are made of: they cross .255/.0 so avoidBuggyIPs matters, and one is IPv6. */
const BLOCKS = ['10.0.0.253-10.0.1.1', '10.0.1.2-10.0.1.3', '10.0.2.0-10.0.2.2', 'fd00::-fd00::2', 'fd00::10-fd00::11'].map(
  (b) => parseAddressRange(b) as AddressRange,
);
const UNIVERSE: IPAddress[] = BLOCKS.flatMap((r) => {
  const out: IPAddress[] = [];
  for (let v = r.first; v <= r.last; v++) out.push({ family: r.family, value: v });
  return out;
}).concat([{ family: 'IPv4', value: 0xc0a80001n }]); // 192.168.0.1: in no pool
const POOL_NAMES = ['p0', 'p1', 'p2'];

const poolAttrs = fc.record({
  autoAssign: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  avoidBuggyIPs: fc.boolean(),
  serviceAllocation: fc.option(
    fc.record({
      priority: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
      namespaces: fc.subarray(['a', 'b']),
      serviceSelectors: fc.subarray(['x', 'y']),
    }),
    { nil: undefined, freq: 2 },
  ),
});

const poolsArb: fc.Arbitrary<Pool[]> = fc
  .tuple(
    // Which pool owns each block (-1: none).
    fc.array(fc.integer({ min: -1, max: 2 }), { minLength: BLOCKS.length, maxLength: BLOCKS.length }),
    fc.array(poolAttrs, { minLength: 3, maxLength: 3 }),
  )
  .map(([owners, attrs]) =>
    POOL_NAMES.flatMap((name, i) => {
      const ranges = BLOCKS.filter((_, b) => owners[b] === i);
      if (ranges.length === 0) return [];
      const a = attrs[i]!;
      return [
        {
          name,
          labels: {},
          ranges,
          autoAssign: a.autoAssign,
          avoidBuggyIPs: a.avoidBuggyIPs,
          serviceAllocation:
            a.serviceAllocation === undefined
              ? undefined
              : {
                  priority: a.serviceAllocation.priority,
                  namespaces: a.serviceAllocation.namespaces,
                  namespaceSelectors: [],
                  serviceSelectors: a.serviceAllocation.serviceSelectors.map((app) => ({ matchLabels: { app }, matchExpressions: [] })),
                },
        },
      ];
    }),
  );

const PORTS = [
  { protocol: 'TCP', port: 80 },
  { protocol: 'TCP', port: 443 },
  { protocol: 'UDP', port: 80 },
];
const STACKS: { families: IPFamily[]; familyPolicy: AllocationRequest['familyPolicy'] }[] = [
  { families: ['IPv4'], familyPolicy: 'SingleStack' },
  { families: ['IPv6'], familyPolicy: 'SingleStack' },
  { families: ['IPv4', 'IPv6'], familyPolicy: 'PreferDualStack' },
  { families: ['IPv6', 'IPv4'], familyPolicy: 'PreferDualStack' },
  { families: ['IPv4', 'IPv6'], familyPolicy: 'RequireDualStack' },
];

const requestArb: fc.Arbitrary<AllocationRequest> = fc
  .record({
    ns: fc.constantFrom('a', 'b'),
    name: fc.integer({ min: 0, max: 4 }),
    app: fc.constantFrom('x', 'y'),
    stack: fc.oneof({ weight: 4, arbitrary: fc.constant(STACKS[0]!) }, { weight: 3, arbitrary: fc.constantFrom(...STACKS) }),
    sharingKey: fc.constantFrom(undefined, 'k1', 'k1', 'k2'),
    ports: fc.subarray(PORTS, { minLength: 1 }),
    local: fc.boolean(),
    selector: fc.constantFrom('x', 'y'),
    poolName: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom('p0', 'p1', 'p2', 'nope') },
    ),
    requested: fc.oneof(
      { weight: 6, arbitrary: fc.constant([] as IPAddress[]) },
      { weight: 1, arbitrary: fc.subarray(UNIVERSE, { minLength: 1, maxLength: 2 }) },
    ),
  })
  .map((r) => ({
    key: `${r.ns}/s${r.name}`,
    namespace: r.ns,
    labels: { app: r.app },
    namespaceLabels: {},
    families: r.stack.families,
    familyPolicy: r.stack.familyPolicy,
    requestedIPs: r.requested,
    poolName: r.poolName,
    sharingKey: r.sharingKey,
    ports: r.ports,
    externalTrafficPolicy: r.local ? 'Local' : 'Cluster',
    selector: { app: r.selector },
  }));

type Command =
  | { kind: 'allocate'; req: AllocationRequest }
  | { kind: 'assign'; req: AllocationRequest; ips: IPAddress[] }
  | { kind: 'release'; key: string }
  | { kind: 'setPools'; pools: Pool[] }
  | { kind: 'valid'; req: AllocationRequest };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: requestArb.map<Command>((req) => ({ kind: 'allocate', req })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(requestArb, fc.subarray(UNIVERSE, { minLength: 1, maxLength: 2 }))
      .map<Command>(([req, ips]) => ({ kind: 'assign', req, ips })),
  },
  { weight: 4, arbitrary: requestArb.map<Command>((req) => ({ kind: 'release', key: req.key })) },
  { weight: 1, arbitrary: poolsArb.map<Command>((pools) => ({ kind: 'setPools', pools })) },
  { weight: 2, arbitrary: requestArb.map<Command>((req) => ({ kind: 'valid', req })) },
);

// ---- the properties ----------------------------------------------------------------------------

const showHeld = (h: { ips: readonly IPAddress[]; pool: string } | undefined) =>
  h === undefined ? 'none' : `${h.ips.map(formatIP).join(',')} @${h.pool}`;
const showResult = (r: AllocationResult) => (r.ok ? showHeld(r) : 'none');

function checkInvariants(a: Allocator, m: Model, keys: Set<string>, step: string): void {
  // Same assignments as the model.
  for (const key of keys) assert.equal(showHeld(a.assignmentOf(key)), showHeld(m.held.get(key)), `${step}: assignment of ${key}`);
  // No address held by two services that may not share.
  const byIP = new Map<string, Profile[]>();
  for (const h of m.held.values()) {
    for (const ip of h.ips) {
      const k = `${ip.family}/${ip.value}`;
      byIP.set(k, [...(byIP.get(k) ?? []), h.profile]);
    }
  }
  for (const [k, holders] of byIP) {
    for (let i = 0; i < holders.length; i++) {
      for (let j = i + 1; j < holders.length; j++) {
        assert.ok(mayShare(holders[i]!, holders[j]!), `${step}: ${k} held by ${holders[i]!.key} and ${holders[j]!.key}`);
      }
    }
  }
  // Stats equal a brute-force recount, pool by pool.
  for (const p of m.pools) assert.deepEqual(a.poolStats(p.name), m.stats(p), `${step}: stats of ${p.name}`);
}

test('random allocate/assign/release/setPools sequences match the brute-force model', () => {
  fc.assert(
    fc.property(poolsArb, fc.array(commandArb, { minLength: 1, maxLength: 60, size: 'max' }), (pools, commands) => {
      const a = new Allocator();
      const m = new Model();
      a.setPools(pools);
      m.setPools(pools);
      const keys = new Set<string>();
      commands.forEach((c, i) => {
        const step = `step ${i + 1} ${c.kind}`;
        switch (c.kind) {
          case 'allocate': {
            keys.add(c.req.key);
            const r = a.allocate(c.req);
            const expected = m.allocate(c.req);
            assert.equal(showResult(r), showHeld(expected), `${step} ${c.req.key}${r.ok ? '' : `: ${r.reason}`}`);
            if (r.ok) {
              // Every allocated address lies in the pool it is said to come from.
              const p = m.pools.find((p) => p.name === r.pool)!;
              assert.ok(r.ips.every((ip) => inRanges(p, ip) && usable(p, ip)), `${step}: ${showResult(r)} outside its pool`);
            } else {
              assert.ok(r.reason.length > 10, `${step}: a reason is given`);
            }
            break;
          }
          case 'assign': {
            keys.add(c.req.key);
            const r = a.assign(c.req, c.ips);
            const before = m.held.get(c.req.key);
            const expected = m.assign(c.req, c.ips);
            assert.equal(showResult(r), showHeld(expected), `${step} ${c.req.key} ${c.ips.map(formatIP)}${r.ok ? '' : `: ${r.reason}`}`);
            if (!r.ok) assert.equal(showHeld(a.assignmentOf(c.req.key)), showHeld(before), `${step}: a failed assign changes nothing`);
            break;
          }
          case 'release':
            a.release(c.key);
            m.held.delete(c.key);
            break;
          case 'setPools':
            a.setPools(c.pools);
            m.setPools(c.pools);
            break;
          case 'valid': {
            const h = m.held.get(c.req.key);
            assert.equal(a.isStillValid(c.req), h !== undefined && m.valid(c.req, h.ips) !== undefined, `${step} ${c.req.key}`);
            break;
          }
        }
        checkInvariants(a, m, keys, step);
      });
    }),
    { numRuns: Number(process.env.IRONLB_PROPERTY_RUNS ?? 400) },
  );
});
