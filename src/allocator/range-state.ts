// The free/used state of one address range of a pool, without a per-address scan.
//
//   first ........ watermark ........ last
//   [ held or freed ][ free, except `heldAbove` ]
//
// Every usable address below the watermark is either held or sits in the min-heap of freed addresses;
// every usable address at or above it is free unless it is in `heldAbove` (addresses taken out of order,
// e.g. restored from a Service's status or explicitly requested). The watermark always rests on a free
// usable address (or past `last`), so the lowest free address is the heap's top if any, else the
// watermark: O(log n) per operation, O(1) when addresses are taken in order. Addresses that
// avoidBuggyIPs excludes (IPv4 .0 and .255) are skipped arithmetically and never enter the structures.
//
// The range also records who holds each held address, by offset from `first`, in chunks of 2^16 slots
// (plain arrays, found through a small Map of chunks, the last one cached): addresses handed out in order
// cost an array write, not a hash-table insert, whatever the range size.
import type { AddressRange, IPFamily } from '../net/address.ts';
import { BigIntMinHeap } from './min-heap.ts';

/** An IPv4 address ending in .0 or .255, which some CPE firmwares drop as smurf traffic. */
export const isBuggyIPv4 = (value: bigint): boolean => {
  const low = Number(value & 0xffn);
  return low === 0 || low === 255;
};

/** How many x in [first, last] have x mod 256 === residue (first ≥ 0). */
function countResidue(first: bigint, last: bigint, residue: bigint): bigint {
  const upTo = (n: bigint): bigint => (n < residue ? 0n : (n - residue) / 256n + 1n);
  return upTo(last) - (first === 0n ? 0n : upTo(first - 1n));
}

/** Number of IPv4 .0/.255 addresses in [first, last]. */
export const buggyCount = (first: bigint, last: bigint): bigint =>
  countResidue(first, last, 0n) + countResidue(first, last, 255n);

const NUMBER_SAFE = 1n << 53n;
const CHUNK_BITS = 16;
const CHUNK_SIZE = 1 << CHUNK_BITS;

interface Chunk<Holder> {
  readonly slots: (Holder | undefined)[];
  count: number;
}

export class RangeState<Owner = unknown, Holder = unknown> {
  readonly family: IPFamily;
  readonly first: bigint;
  readonly last: bigint;
  readonly avoidBuggy: boolean;
  /** Addresses this range may hand out (all, minus .0/.255 with avoidBuggyIPs). */
  readonly usable: bigint;
  /**
   * Held addresses that are usable / that avoidBuggyIPs excludes (held anyway, e.g. restored). Plain
   * numbers, exact: each held address is an object in memory, so they never come near 2^53. Sizes that
   * can (the range, what is free) are bigints.
   */
  heldUsable = 0;
  heldBuggy = 0;

  private watermark: bigint;
  private readonly heldAbove = new Set<bigint>();
  private readonly freed = new BigIntMinHeap();
  /** Every value in the heap → whether it is still free (false: taken since, stale heap entry). */
  private readonly inHeap = new Map<bigint, boolean>();
  private freeBelow = 0;

  private readonly firstNumber: number;
  private readonly chunks = new Map<number | bigint, Chunk<Holder>>();
  private lastChunkKey: number | bigint = -1;
  private lastChunk: Chunk<Holder> | undefined;

  constructor(
    range: AddressRange,
    avoidBuggyIPs: boolean,
    readonly owner: Owner,
  ) {
    this.family = range.family;
    this.first = range.first;
    this.last = range.last;
    this.avoidBuggy = avoidBuggyIPs && range.family === 'IPv4';
    const size = range.last - range.first + 1n;
    this.usable = this.avoidBuggy ? size - buggyCount(range.first, range.last) : size;
    this.watermark = range.first;
    this.settle();
    this.firstNumber = range.family === 'IPv4' ? Number(range.first) : 0;
  }

  // ---- holders -----------------------------------------------------------------------------------

  /** The chunk holding an address (created on demand) and the address's slot in it. */
  private slot(value: bigint, create: boolean): number {
    let key: number | bigint;
    let index: number;
    if (this.family === 'IPv4') {
      const o = Number(value) - this.firstNumber;
      key = o >>> CHUNK_BITS;
      index = o & (CHUNK_SIZE - 1);
    } else {
      const o = value - this.first;
      if (o < NUMBER_SAFE) {
        const n = Number(o);
        key = Math.floor(n / CHUNK_SIZE);
        index = n % CHUNK_SIZE;
      } else {
        key = o >> BigInt(CHUNK_BITS);
        index = Number(o & BigInt(CHUNK_SIZE - 1));
      }
    }
    if (key !== this.lastChunkKey || this.lastChunk === undefined) {
      let chunk = this.chunks.get(key);
      if (chunk === undefined) {
        if (!create) {
          this.lastChunk = undefined;
          return -1;
        }
        chunk = { slots: [], count: 0 };
        this.chunks.set(key, chunk);
      }
      this.lastChunkKey = key;
      this.lastChunk = chunk;
    }
    return index;
  }

  holderAt(value: bigint): Holder | undefined {
    const i = this.slot(value, false);
    return i < 0 ? undefined : this.lastChunk!.slots[i];
  }

  setHolder(value: bigint, holder: Holder): void {
    const i = this.slot(value, true);
    const chunk = this.lastChunk!;
    if (chunk.slots[i] === undefined) chunk.count++;
    chunk.slots[i] = holder;
  }

  deleteHolder(value: bigint): void {
    const i = this.slot(value, false);
    if (i < 0) return;
    const chunk = this.lastChunk!;
    if (chunk.slots[i] === undefined) return;
    chunk.slots[i] = undefined;
    if (--chunk.count === 0) {
      this.chunks.delete(this.lastChunkKey);
      this.lastChunk = undefined;
    }
  }

  /** Every held address of the range with its holder. */
  *holders(): Generator<[bigint, Holder]> {
    for (const [key, chunk] of this.chunks) {
      const base = this.first + BigInt(key) * BigInt(CHUNK_SIZE);
      for (let i = 0; i < chunk.slots.length; i++) {
        const h = chunk.slots[i];
        if (h !== undefined) yield [base + BigInt(i), h];
      }
    }
  }

  // ---- free addresses ----------------------------------------------------------------------------

  contains(value: bigint): boolean {
    return this.first <= value && value <= this.last;
  }

  isUsable(value: bigint): boolean {
    return !this.avoidBuggy || !isBuggyIPv4(value);
  }

  /** Free usable addresses left (exact). */
  get free(): bigint {
    return this.usable - BigInt(this.heldUsable);
  }

  /** The lowest free usable address, or undefined when the range is full. */
  lowestFree(): bigint | undefined {
    if (this.freeBelow > 0) {
      for (;;) {
        const top = this.freed.peek()!;
        if (this.inHeap.get(top) === true) return top;
        this.freed.pop();
        this.inHeap.delete(top);
      }
    }
    return this.watermark <= this.last ? this.watermark : undefined;
  }

  /** Marks a free address (within the range) as held. */
  take(value: bigint): void {
    if (!this.isUsable(value)) {
      this.heldBuggy++;
      return;
    }
    this.heldUsable++;
    if (value === this.watermark) {
      this.watermark = value + 1n;
      this.settle();
    } else if (value > this.watermark) {
      this.heldAbove.add(value);
    } else {
      if (this.inHeap.get(value) !== true) throw new Error(`allocator: taking ${value}, which is not free`);
      this.freeBelow--;
      if (this.freeBelow === 0) {
        this.freed.clear();
        this.inHeap.clear();
      } else if (this.freed.peek() === value) {
        this.freed.pop();
        this.inHeap.delete(value);
      } else {
        this.inHeap.set(value, false);
        this.compactIfStale();
      }
    }
  }

  /** Marks a held address (within the range) as free again. */
  release(value: bigint): void {
    if (!this.isUsable(value)) {
      this.heldBuggy--;
      return;
    }
    this.heldUsable--;
    if (value > this.watermark) {
      this.heldAbove.delete(value);
      return;
    }
    if (value + 1n === this.watermark) {
      // Released just below the watermark: lower it instead of growing the heap (LIFO stays O(1)).
      this.watermark = value;
      return;
    }
    const entry = this.inHeap.get(value);
    if (entry === true) throw new Error(`allocator: releasing ${value}, which is already free`);
    if (entry === undefined) this.freed.push(value);
    this.inHeap.set(value, true);
    this.freeBelow++;
  }

  /** Moves the watermark past addresses that are buggy or held out of order. */
  private settle(): void {
    for (;;) {
      const w = this.watermark;
      if (w > this.last) return;
      if (this.avoidBuggy) {
        const low = Number(w & 0xffn);
        if (low === 0) {
          this.watermark = w + 1n;
          continue;
        }
        if (low === 255) {
          this.watermark = w + 2n;
          continue;
        }
      }
      if (this.heldAbove.size > 0 && this.heldAbove.delete(w)) {
        this.watermark = w + 1n;
        continue;
      }
      return;
    }
  }

  /** Stale heap entries (taken out of order) are dropped once they outnumber the free ones. */
  private compactIfStale(): void {
    const size = this.freed.size;
    if (size < 64 || size <= 2 * this.freeBelow) return;
    const free: bigint[] = [];
    for (const [value, isFree] of this.inHeap) {
      if (isFree) free.push(value);
      else this.inHeap.delete(value);
    }
    this.freed.rebuild(free);
  }
}
