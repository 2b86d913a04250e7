// One configured pool together with the allocation state of each of its ranges.
import type { Pool } from '../config/model.ts';
import type { AddressRange, IPFamily } from '../net/address.ts';
import { RangeState } from './range-state.ts';

export interface PoolStats {
  assignedIPv4: bigint;
  assignedIPv6: bigint;
  availableIPv4: bigint;
  availableIPv6: bigint;
}

/** A pool and the state of its ranges; `H` is what the allocator records as the holder of an address. */
export class PoolState<H = unknown> {
  /** The current configuration of the pool (replaced in place when only non-range fields change). */
  pool: Pool;
  readonly ipv4: readonly RangeState<PoolState<H>, H>[];
  readonly ipv6: readonly RangeState<PoolState<H>, H>[];

  constructor(pool: Pool) {
    this.pool = pool;
    const sorted = [...pool.ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    this.ipv4 = sorted.filter((r) => r.family === 'IPv4').map((r) => new RangeState<PoolState<H>, H>(r, pool.avoidBuggyIPs, this));
    this.ipv6 = sorted.filter((r) => r.family === 'IPv6').map((r) => new RangeState<PoolState<H>, H>(r, pool.avoidBuggyIPs, this));
  }

  get name(): string {
    return this.pool.name;
  }

  ranges(family: IPFamily): readonly RangeState<PoolState<H>, H>[] {
    return family === 'IPv4' ? this.ipv4 : this.ipv6;
  }

  hasFamily(family: IPFamily): boolean {
    return this.ranges(family).length > 0;
  }

  /** The lowest free usable address of the family: the first range (in address order) that is not full. */
  lowestFree(family: IPFamily): bigint | undefined {
    const ranges = family === 'IPv4' ? this.ipv4 : this.ipv6;
    for (let i = 0; i < ranges.length; i++) {
      const v = ranges[i]!.lowestFree();
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Usable addresses of the family (excluding what avoidBuggyIPs skips). */
  usable(family: IPFamily): bigint {
    let n = 0n;
    for (const r of this.ranges(family)) n += r.usable;
    return n;
  }

  /** Usable addresses of the family in use. */
  inUse(family: IPFamily): bigint {
    let n = 0;
    for (const r of this.ranges(family)) n += r.heldUsable;
    return BigInt(n);
  }

  stats(): PoolStats {
    const count = (ranges: readonly RangeState[]) => {
      let assigned = 0;
      let available = 0n;
      for (const r of ranges) {
        assigned += r.heldUsable + r.heldBuggy;
        available += r.free;
      }
      return { assigned: BigInt(assigned), available };
    };
    const v4 = count(this.ipv4);
    const v6 = count(this.ipv6);
    return { assignedIPv4: v4.assigned, assignedIPv6: v6.assigned, availableIPv4: v4.available, availableIPv6: v6.available };
  }

  /** Whether `pool` has exactly the ranges and avoidBuggyIPs of this state, so the state can carry over. */
  sameAddresses(pool: Pool): boolean {
    if (pool.avoidBuggyIPs !== this.pool.avoidBuggyIPs) return false;
    const key = (rs: readonly AddressRange[]) =>
      rs
        .map((r) => `${r.family}:${r.first}-${r.last}`)
        .sort()
        .join(',');
    return key(pool.ranges) === key(this.pool.ranges);
  }
}

/** Finds the range (and so the pool) holding an address: ranges sorted by first address, binary search. */
export class RangeIndex<H = unknown> {
  private readonly ipv4: RangeState<PoolState<H>, H>[];
  private readonly ipv6: RangeState<PoolState<H>, H>[];

  constructor(pools: Iterable<PoolState<H>>) {
    const v4: RangeState<PoolState<H>, H>[] = [];
    const v6: RangeState<PoolState<H>, H>[] = [];
    for (const p of pools) {
      v4.push(...p.ipv4);
      v6.push(...p.ipv6);
    }
    const byFirst = (a: RangeState, b: RangeState) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0);
    this.ipv4 = v4.sort(byFirst);
    this.ipv6 = v6.sort(byFirst);
  }

  find(family: IPFamily, value: bigint): RangeState<PoolState<H>, H> | undefined {
    const rs = family === 'IPv4' ? this.ipv4 : this.ipv6;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (value < r.first) hi = mid - 1;
      else if (value > r.last) lo = mid + 1;
      else return r;
    }
    return undefined;
  }
}
