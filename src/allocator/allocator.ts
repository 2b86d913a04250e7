// The pure allocator: which Service holds which addresses of which pool. No I/O, no clock.
//
// Order (COMPAT.md "Allocation"): explicit IPs → pool annotation → pools whose serviceAllocation
// matches (priority, lower first, unset last, then name) → autoAssign pools without serviceAllocation
// (by name). Within a pool, the lowest free address that passes the sharing check.
//
// State:
//   assignments   service key → Assignment (its IPs, pool, and what the sharing rules need)
//   PoolState     per range (range-state.ts): watermark + min-heap of freed addresses, counters, and
//                 who holds each held address (arrays of 2^16 slots by offset, found via a small Map)
//   RangeIndex    address → range → pool, by binary search over sorted ranges
//   stray         holders of addresses that no configured range contains (kept after setPools)
//   bySharingKey  allow-shared-ip key → addresses held under that key (shared candidates without a scan)
import type { Pool } from '../config/model.ts';
import { formatIP, type IPAddress, type IPFamily } from '../net/address.ts';
import { familyPlan, familyProblem, type FamilyPlan } from './family-plan.ts';
import { PoolState, RangeIndex, type PoolStats } from './pool-state.ts';
import { comparePinnedPools, compareNames, serviceAllocationProblem } from './service-allocation.ts';
import { portKeys, selectorKey, sharingConflict, type SharingProfile } from './sharing.ts';

export type { PoolStats } from './pool-state.ts';

export interface AllocationRequest {
  /** "namespace/name" */
  key: string;
  namespace: string;
  /** The Service's labels. */
  labels: Readonly<Record<string, string>>;
  /** Labels of its Namespace. */
  namespaceLabels: Readonly<Record<string, string>>;
  /** spec.ipFamilies in order; [0] is primary. */
  families: readonly IPFamily[];
  familyPolicy: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  /** From the loadBalancerIPs annotation or spec.loadBalancerIP, already parsed. */
  requestedIPs: readonly IPAddress[];
  /** metallb.io/address-pool annotation. */
  poolName: string | undefined;
  /** metallb.io/allow-shared-ip annotation. */
  sharingKey: string | undefined;
  ports: readonly { protocol: string; port: number }[];
  externalTrafficPolicy: 'Cluster' | 'Local';
  selector: Readonly<Record<string, string>> | undefined;
}

export type AllocationResult =
  | { ok: true; ips: readonly IPAddress[]; pool: string }
  | { ok: false; reason: string };

/**
 * One service's hold on its addresses, and what the sharing rules need to know about it. Built from the
 * request before addresses are chosen (`ips`/`pool` are set once, before it is stored); a stored one is
 * replaced, never changed, so `ips` can be handed out.
 */
class Assignment implements SharingProfile {
  ips: readonly IPAddress[] = NO_IPS;
  pool = '';

  constructor(
    readonly key: string,
    readonly sharingKey: string,
    readonly local: boolean,
    readonly selectorKey: string,
    readonly ports: readonly string[],
  ) {}

  static forRequest(req: AllocationRequest): Assignment {
    const sharingKey = req.sharingKey ?? '';
    if (sharingKey === '') return new Assignment(req.key, '', false, '', NO_PORTS); // shares nothing: nothing else matters
    const local = req.externalTrafficPolicy === 'Local';
    return new Assignment(req.key, sharingKey, local, local ? selectorKey(req.selector) : '', portKeys(req.ports));
  }

  /** The same service holding other addresses (or the same ones under another pool name). */
  moved(ips: readonly IPAddress[], pool: string): Assignment {
    const a = new Assignment(this.key, this.sharingKey, this.local, this.selectorKey, this.ports);
    a.ips = ips;
    a.pool = pool;
    return a;
  }
}

const NO_IPS: readonly IPAddress[] = [];
const NO_PORTS: readonly string[] = [];
const NO_POOLS: readonly PoolState<Holding>[] = [];

/** The holders of one address: one service, or several sharing it. */
type Holding = Assignment | Assignment[];

/** A pool with its allocation state, its addresses held by Assignments. */
type PoolAllocation = PoolState<Holding>;
type Placement = { ok: true; pool: PoolAllocation } | { ok: false; reason: string };

const ANNOTATION_POOL = 'the metallb.io/address-pool annotation';

const fail = (reason: string): AllocationResult => ({ ok: false, reason });
const ipList = (ips: readonly IPAddress[]): string => ips.map(formatIP).join(', ');
const ipsAre = (ips: readonly IPAddress[]): string => (ips.length === 1 ? `IP ${formatIP(ips[0]!)} is` : `IPs ${ipList(ips)} are`);
const sharingIndexKey = (ip: IPAddress): string => `${ip.family}/${ip.value}`;
const strayKey = sharingIndexKey;

export class Allocator {
  private pools = new Map<string, PoolAllocation>();
  private index = new RangeIndex<Holding>([]);
  /** Pools with a serviceAllocation, in the order they are tried. */
  private pinnedPools: PoolAllocation[] = [];
  /** autoAssign pools without serviceAllocation, by name. */
  private generalPools: PoolAllocation[] = [];

  private readonly assignments = new Map<string, Assignment>();
  private readonly stray = new Map<string, { ip: IPAddress; holding: Holding }>();
  private readonly bySharingKey = new Map<string, Map<string, IPAddress>>();

  /** New configuration. Existing assignments stay, even those the new pools no longer allow. */
  setPools(pools: Iterable<Pool>): void {
    const next = new Map<string, PoolAllocation>();
    const kept = new Set<PoolAllocation>();
    for (const pool of pools) {
      const old = this.pools.get(pool.name);
      if (old !== undefined && old.sameAddresses(pool) && !kept.has(old)) {
        old.pool = pool;
        next.set(pool.name, old);
        kept.add(old);
      } else {
        next.set(pool.name, new PoolState<Holding>(pool));
      }
    }
    // Holders of addresses whose range goes away (or that were in no range) are placed again.
    const moving: { ip: IPAddress; holding: Holding }[] = [...this.stray.values()];
    for (const old of this.pools.values()) {
      if (kept.has(old)) continue;
      for (const family of ['IPv4', 'IPv6'] as const) {
        for (const range of old.ranges(family)) {
          for (const [value, holding] of range.holders()) moving.push({ ip: { family, value }, holding });
        }
      }
    }
    const addressesChanged = next.size !== kept.size || this.pools.size !== kept.size;
    this.stray.clear();
    this.pools = next;
    this.index = new RangeIndex<Holding>(next.values());
    this.pinnedPools = [...next.values()]
      .filter((p) => p.pool.serviceAllocation !== undefined)
      .sort((a, b) => comparePinnedPools(a.pool, b.pool));
    this.generalPools = [...next.values()]
      .filter((p) => p.pool.autoAssign && p.pool.serviceAllocation === undefined)
      .sort((a, b) => compareNames(a.name, b.name));
    for (const { ip, holding } of moving) {
      const range = this.index.find(ip.family, ip.value);
      const already = range?.holderAt(ip.value);
      if (range === undefined) {
        this.stray.set(strayKey(ip), { ip, holding });
      } else if (already === undefined) {
        range.setHolder(ip.value, holding);
        range.take(ip.value);
      } else {
        // Only if two pools overlap, which config validation rules out: keep every holder anyway.
        range.setHolder(ip.value, ([] as Assignment[]).concat(already, holding));
      }
    }
    if (addressesChanged) {
      // An assignment belongs to the pool that now holds its addresses (if one pool holds them all).
      for (const [key, a] of this.assignments) {
        const pool = this.poolHoldingAll(a.ips);
        if (pool !== undefined && pool.name !== a.pool) this.replaceHolder(a, a.moved(a.ips, pool.name), key);
      }
    }
  }

  /** Takes exactly `ips` for the service (restored from its status, or requested), or says why not. */
  assign(req: AllocationRequest, ips: readonly IPAddress[]): AllocationResult {
    const plan = familyPlan(req.families, req.familyPolicy);
    const a = Assignment.forRequest(req);
    const placement = this.placementOf(req, ips, plan, a);
    if (!placement.ok) return fail(placement.reason);
    const ordered = [...ips]
      .sort((a, b) => plan.families.indexOf(a.family) - plan.families.indexOf(b.family))
      .map((ip) => ({ family: ip.family, value: ip.value }));
    const existing = this.assignments.get(req.key);
    if (existing !== undefined) this.detach(existing);
    a.ips = ordered;
    a.pool = placement.pool.name;
    this.attach(a);
    this.assignments.set(req.key, a);
    return { ok: true, ips: a.ips, pool: a.pool };
  }

  /**
   * Gives the service addresses in COMPAT order. A service that already holds addresses that are still
   * valid keeps them; otherwise they are released first. With requested IPs this is `assign`.
   */
  allocate(req: AllocationRequest): AllocationResult {
    const plan = familyPlan(req.families, req.familyPolicy);
    const existing = this.assignments.get(req.key);
    if (existing !== undefined) {
      const profile = Assignment.forRequest(req);
      if (this.placementOf(req, existing.ips, plan, profile).ok) return this.keep(req, existing, profile, plan);
      this.release(req.key);
    }
    if (req.requestedIPs.length > 0) return this.assign(req, req.requestedIPs);

    const profile = Assignment.forRequest(req);
    if (req.poolName !== undefined) {
      const pool = this.pools.get(req.poolName);
      if (pool === undefined) return fail(`pool "${req.poolName}" named by ${ANNOTATION_POOL} does not exist`);
      const problem = serviceAllocationProblem(pool.pool, req);
      if (problem !== undefined) {
        return fail(`pool "${req.poolName}" named by ${ANNOTATION_POOL} does not serve this service: ${problem}`);
      }
      return this.allocateFromTiers([pool], NO_POOLS, req, plan, profile);
    }
    let pinned: readonly PoolAllocation[] = NO_POOLS;
    if (this.pinnedPools.length > 0) {
      pinned = this.pinnedPools.filter((p) => p.pool.autoAssign && serviceAllocationProblem(p.pool, req) === undefined);
    }
    if (pinned.length === 0 && this.generalPools.length === 0) return fail(this.noPoolServes(req));
    return this.allocateFromTiers(pinned, this.generalPools, req, plan, profile);
  }

  /** Frees the service's addresses (no-op if it holds none). */
  release(key: string): void {
    const a = this.assignments.get(key);
    if (a === undefined) return;
    this.detach(a);
    this.assignments.delete(key);
  }

  assignmentOf(key: string): { ips: readonly IPAddress[]; pool: string } | undefined {
    const a = this.assignments.get(key);
    return a === undefined ? undefined : { ips: a.ips, pool: a.pool };
  }

  /**
   * Whether the current assignment still satisfies the current pools and the request: one pool holds
   * all its addresses (usable ones), that pool serves the service and matches the pool annotation, the
   * addresses are the requested ones (if any), fit the family policy, and the sharing rules hold.
   */
  isStillValid(req: AllocationRequest): boolean {
    return this.validityProblem(req) === undefined;
  }

  /** Why the current assignment is no longer valid (a sentence for a ClearAssignment event), or undefined. */
  validityProblem(req: AllocationRequest): string | undefined {
    const a = this.assignments.get(req.key);
    if (a === undefined) return `service ${req.key} holds no IP`;
    const placement = this.placementOf(req, a.ips, familyPlan(req.families, req.familyPolicy), Assignment.forRequest(req));
    return placement.ok ? undefined : placement.reason;
  }

  /** Addresses in use and free, per family, exact at any size. Unknown pool: all zero. */
  poolStats(pool: string): PoolStats {
    return (
      this.pools.get(pool)?.stats() ?? { assignedIPv4: 0n, assignedIPv6: 0n, availableIPv4: 0n, availableIPv6: 0n }
    );
  }

  /** The pool whose ranges contain the address (avoidBuggyIPs does not matter here), if any. */
  poolOfIP(ip: IPAddress): string | undefined {
    return this.index.find(ip.family, ip.value)?.owner.name;
  }

  // ---- choosing addresses ------------------------------------------------------------------------

  /** Tries the pools of `first`, then of `second`, in order; stores the service's assignment on success. */
  private allocateFromTiers(
    first: readonly PoolAllocation[],
    second: readonly PoolAllocation[],
    req: AllocationRequest,
    plan: FamilyPlan,
    fresh: Assignment,
  ): AllocationResult {
    if (this.pickFrom(first, plan, fresh) || this.pickFrom(second, plan, fresh)) {
      this.attach(fresh);
      this.assignments.set(req.key, fresh);
      return { ok: true, ips: fresh.ips, pool: fresh.pool };
    }
    return fail(this.shortage([...first, ...second], plan, fresh));
  }

  /** Chooses addresses from `pools` per the family plan and writes them into `fresh` (not yet stored). */
  private pickFrom(pools: readonly PoolAllocation[], plan: FamilyPlan, fresh: Assignment): boolean {
    const primary = plan.families[0]!;
    for (let i = 0; i < pools.length; i++) {
      const pool = pools[i]!;
      const v = this.candidate(pool, primary, fresh);
      if (plan.mode === 'single') {
        if (v === undefined) continue;
        fresh.ips = [{ family: primary, value: v }];
        fresh.pool = pool.name;
        return true;
      }
      if (v === undefined && plan.mode === 'require') continue;
      const secondary = plan.families[1]!;
      const w = this.candidate(pool, secondary, fresh);
      if (v !== undefined && w !== undefined) {
        fresh.ips = [
          { family: primary, value: v },
          { family: secondary, value: w },
        ];
        fresh.pool = pool.name;
        return true;
      }
    }
    if (plan.mode !== 'prefer') return false;
    // PreferDualStack and no pool gives both: the primary family alone, or failing that the other one.
    for (const family of plan.families) {
      for (let i = 0; i < pools.length; i++) {
        const v = this.candidate(pools[i]!, family, fresh);
        if (v === undefined) continue;
        fresh.ips = [{ family, value: v }];
        fresh.pool = pools[i]!.name;
        return true;
      }
    }
    return false;
  }

  /** The lowest address of the family in the pool that the service may take: free, or shareable with it. */
  private candidate(pool: PoolAllocation, family: IPFamily, profile: SharingProfile): bigint | undefined {
    let best = pool.lowestFree(family);
    if (profile.sharingKey !== '') {
      const shared = this.bySharingKey.get(profile.sharingKey);
      if (shared !== undefined) {
        for (const ip of shared.values()) {
          if (ip.family !== family || (best !== undefined && ip.value >= best)) continue;
          const range = this.index.find(family, ip.value);
          if (range === undefined || range.owner !== pool || !range.isUsable(ip.value)) continue;
          if (this.conflictAt(ip, profile) !== undefined) continue;
          best = ip.value;
        }
      }
    }
    return best;
  }

  /** Keeps a still-valid assignment, refreshing what sharing needs (ports, key…); PreferDualStack may gain its second family. */
  private keep(req: AllocationRequest, existing: Assignment, profile: Assignment, plan: FamilyPlan): AllocationResult {
    profile.ips = existing.ips;
    profile.pool = existing.pool;
    let a = profile;
    this.replaceHolder(existing, a, req.key);
    if (plan.mode === 'prefer' && a.ips.length === 1 && req.requestedIPs.length === 0) {
      const pool = this.pools.get(a.pool);
      const missing = plan.families.find((f) => f !== a.ips[0]!.family);
      const v = pool !== undefined && missing !== undefined ? this.candidate(pool, missing, profile) : undefined;
      if (v !== undefined && missing !== undefined) {
        const added: IPAddress = { family: missing, value: v };
        const ips = plan.families[0] === missing ? [added, a.ips[0]!] : [a.ips[0]!, added];
        const upgraded = a.moved(ips, a.pool);
        this.replaceHolder(a, upgraded, req.key);
        this.attachIP(upgraded, added);
        a = upgraded;
      }
    }
    return { ok: true, ips: a.ips, pool: a.pool };
  }

  // ---- validity ----------------------------------------------------------------------------------

  /** The pool that may give `ips` to this service, or why none can. Shared by assign and isStillValid. */
  private placementOf(req: AllocationRequest, ips: readonly IPAddress[], plan: FamilyPlan, profile: SharingProfile): Placement {
    const familyIssue = familyProblem(ips, plan);
    if (familyIssue !== undefined) return { ok: false, reason: familyIssue };
    if (req.requestedIPs.length > 0 && !sameIPSet(req.requestedIPs, ips)) {
      return { ok: false, reason: `the service requests ${ipList(req.requestedIPs)}, not ${ipList(ips)}` };
    }
    let pool: PoolAllocation | undefined;
    for (const ip of ips) {
      const range = this.index.find(ip.family, ip.value);
      if (range === undefined) return { ok: false, reason: `IP ${formatIP(ip)} is not in any address pool` };
      if (pool !== undefined && range.owner !== pool) {
        return {
          ok: false,
          reason: `IPs ${ipList(ips)} are in different pools ("${pool.name}" and "${range.owner.name}"); a service's addresses must come from one pool`,
        };
      }
      pool = range.owner;
      if (!range.isUsable(ip.value)) {
        return { ok: false, reason: `IP ${formatIP(ip)} ends in .0 or .255, which pool "${pool.name}" avoids (avoidBuggyIPs)` };
      }
    }
    if (pool === undefined) return { ok: false, reason: 'no IP given' };
    if (req.poolName !== undefined && req.poolName !== pool.name) {
      if (!this.pools.has(req.poolName)) {
        return { ok: false, reason: `pool "${req.poolName}" named by ${ANNOTATION_POOL} does not exist` };
      }
      return { ok: false, reason: `${ipsAre(ips)} in pool "${pool.name}", not in pool "${req.poolName}" named by ${ANNOTATION_POOL}` };
    }
    const problem = serviceAllocationProblem(pool.pool, req);
    if (problem !== undefined) {
      return { ok: false, reason: `${ipsAre(ips)} in pool "${pool.name}", which does not serve this service: ${problem}` };
    }
    for (const ip of ips) {
      const conflict = this.conflictAt(ip, profile);
      if (conflict !== undefined) return { ok: false, reason: conflict };
    }
    return { ok: true, pool };
  }

  /** Why the service may not hold `ip` next to its other holders, or undefined. */
  private conflictAt(ip: IPAddress, profile: SharingProfile): string | undefined {
    const h = this.holding(ip);
    if (h === undefined) return undefined;
    if (!Array.isArray(h)) return h.key === profile.key ? undefined : sharingConflict(ip, h, profile);
    for (const holder of h) {
      if (holder.key === profile.key) continue;
      const c = sharingConflict(ip, holder, profile);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  private poolHoldingAll(ips: readonly IPAddress[]): PoolAllocation | undefined {
    let pool: PoolAllocation | undefined;
    for (const ip of ips) {
      const owner = this.index.find(ip.family, ip.value)?.owner;
      if (owner === undefined || (pool !== undefined && owner !== pool)) return undefined;
      pool = owner;
    }
    return pool;
  }

  // ---- failure reasons ---------------------------------------------------------------------------

  private noPoolServes(req: AllocationRequest): string {
    if (this.pools.size === 0) return 'no address pools are configured';
    const reasons: string[] = [];
    for (const p of [...this.pools.values()].sort((a, b) => compareNames(a.name, b.name))) {
      if (!p.pool.autoAssign) {
        reasons.push(`pool "${p.name}" has autoAssign disabled (use ${ANNOTATION_POOL} or request an IP)`);
        continue;
      }
      const problem = serviceAllocationProblem(p.pool, req);
      if (problem !== undefined) reasons.push(`pool "${p.name}": ${problem}`);
    }
    return `no address pool serves this service: ${limitList(reasons)}`;
  }

  private shortage(pools: readonly PoolAllocation[], plan: FamilyPlan, profile: SharingProfile): string {
    const sharingHint =
      profile.sharingKey !== '' ? `; no address in use there can be shared with this service` : '';
    const usage = (p: PoolAllocation, f: IPFamily) =>
      p.hasFamily(f) ? `${p.inUse(f)} of ${p.usable(f)} in use` : `no ${f} addresses`;
    const primary = plan.families[0]!;
    const secondary = plan.families[1];
    if (secondary === undefined) {
      if (pools.length === 1) {
        const p = pools[0]!;
        if (!p.hasFamily(primary)) return `pool "${p.name}" has no ${primary} addresses`;
        const fam = p.hasFamily(primary === 'IPv4' ? 'IPv6' : 'IPv4') ? `${primary} ` : '';
        return `no free ${fam}address in pool "${p.name}" (${usage(p, primary)})${sharingHint}`;
      }
      const list = pools.map((p) => `pool "${p.name}" (${usage(p, primary)})`);
      return `no free ${primary} address in any pool that serves this service: ${limitList(list)}${sharingHint}`;
    }
    const both = (p: PoolAllocation) => `pool "${p.name}" (${primary}: ${usage(p, primary)}; ${secondary}: ${usage(p, secondary)})`;
    if (plan.mode === 'require') {
      const dual = pools.filter((p) => p.hasFamily(primary) && p.hasFamily(secondary));
      if (dual.length === 0) {
        return `the service is RequireDualStack, but no pool that serves it has both IPv4 and IPv6 addresses: ${limitList(pools.map(both))}`;
      }
      return `the service is RequireDualStack, but no pool has both a free IPv4 and a free IPv6 address: ${limitList(dual.map(both))}${sharingHint}`;
    }
    return `no free ${primary} or ${secondary} address in any pool that serves this service: ${limitList(pools.map(both))}${sharingHint}`;
  }

  // ---- bookkeeping -------------------------------------------------------------------------------

  private holding(ip: IPAddress, range = this.index.find(ip.family, ip.value)): Holding | undefined {
    return range !== undefined ? range.holderAt(ip.value) : this.stray.get(strayKey(ip))?.holding;
  }

  private setHolding(ip: IPAddress, h: Holding, range = this.index.find(ip.family, ip.value)): void {
    if (range !== undefined) range.setHolder(ip.value, h);
    else this.stray.set(strayKey(ip), { ip, holding: h });
  }

  private attach(a: Assignment): void {
    for (const ip of a.ips) this.attachIP(a, ip);
  }

  private attachIP(a: Assignment, ip: IPAddress): void {
    const range = this.index.find(ip.family, ip.value);
    // A service without a sharing key only ever gets an address nobody holds (placementOf/candidate
    // made sure), so the lookup is skipped on this, the common, path.
    const h = a.sharingKey === '' ? undefined : this.holding(ip, range);
    if (h === undefined) {
      if (range !== undefined) {
        range.setHolder(ip.value, a);
        range.take(ip.value);
      } else {
        this.stray.set(strayKey(ip), { ip, holding: a });
      }
      if (a.sharingKey !== '') this.indexShared(ip, a.sharingKey);
    } else if (Array.isArray(h)) {
      h.push(a);
    } else {
      this.setHolding(ip, [h, a], range);
    }
  }

  private detach(a: Assignment): void {
    for (const ip of a.ips) {
      const range = this.index.find(ip.family, ip.value);
      const h = this.holding(ip, range);
      if (h === a) {
        if (range !== undefined) {
          range.deleteHolder(ip.value);
          range.release(ip.value);
        } else {
          this.stray.delete(strayKey(ip));
        }
        if (a.sharingKey !== '') this.unindexShared(ip, a.sharingKey);
      } else if (Array.isArray(h)) {
        const rest = h.filter((x) => x !== a);
        this.setHolding(ip, rest.length === 1 ? rest[0]! : rest, range);
      }
    }
  }

  /**
   * Puts `next` in place of `prev` as holder of prev's addresses (the addresses stay held). A changed
   * sharing key is only possible for a sole holder (isStillValid made sure), so the key index follows it.
   */
  private replaceHolder(prev: Assignment, next: Assignment, key: string): void {
    for (const ip of prev.ips) {
      const h = this.holding(ip);
      if (h === prev) this.setHolding(ip, next);
      else if (Array.isArray(h)) this.setHolding(ip, h.map((x) => (x === prev ? next : x)));
      if (prev.sharingKey !== next.sharingKey) {
        if (prev.sharingKey !== '') this.unindexShared(ip, prev.sharingKey);
        if (next.sharingKey !== '') this.indexShared(ip, next.sharingKey);
      }
    }
    this.assignments.set(key, next);
  }

  private indexShared(ip: IPAddress, sharingKey: string): void {
    let ips = this.bySharingKey.get(sharingKey);
    if (ips === undefined) this.bySharingKey.set(sharingKey, (ips = new Map()));
    ips.set(sharingIndexKey(ip), ip);
  }

  private unindexShared(ip: IPAddress, sharingKey: string): void {
    const ips = this.bySharingKey.get(sharingKey);
    if (ips === undefined) return;
    ips.delete(sharingIndexKey(ip));
    if (ips.size === 0) this.bySharingKey.delete(sharingKey);
  }
}

function sameIPSet(a: readonly IPAddress[], b: readonly IPAddress[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x) => b.some((y) => x.family === y.family && x.value === y.value));
}

function limitList(items: readonly string[], max = 6): string {
  if (items.length <= max) return items.join('; ');
  return `${items.slice(0, max).join('; ')}; and ${items.length - max} more`;
}
