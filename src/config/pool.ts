// IPAddressPool: addresses, autoAssign, avoidBuggyIPs, serviceAllocation; and the checks across pools
// (no address in two places) and against Nodes (no pool holds a node's own address).
import {
  type AddressRange,
  type IPFamily,
  familyBits,
  formatIP,
  parseAddressRange,
} from '../net/address.ts';
import type { LabelSelector, Pool, ServiceAllocation } from './model.ts';
import type { NodeInfo } from './node.ts';
import { type Problems, compareText, describe } from './problems.ts';
import { FieldReader, field, item, own, show } from './reader.ts';
import { isNamespaceName, readSelectors } from './selector-reader.ts';
import type { SourceObject } from './sources.ts';

/** One entry of spec.addresses as written, with the block it names. */
export interface PoolEntry {
  readonly index: number;
  readonly text: string;
  readonly range: AddressRange;
}

export interface PoolDraft {
  readonly source: SourceObject;
  readonly entries: readonly PoolEntry[];
  readonly pool: Pool;
}

const int32 = { min: -2147483648, max: 2147483647 };

export function readPool(source: SourceObject, problems: Problems): PoolDraft {
  const r = new FieldReader(source.origin, problems);
  const spec = source.spec;
  const entries: PoolEntry[] = [];
  const raw = own(spec, 'addresses');
  const list = r.list(raw, 'addresses');
  if (list === undefined) {
    if (raw === undefined || raw === null) r.error('addresses', 'is required: list at least one CIDR or range');
  } else if (list.length === 0) {
    r.error('addresses', 'must not be empty: list at least one CIDR or range');
  }
  (list ?? []).forEach((x, i) => {
    const path = item('addresses', i);
    if (typeof x !== 'string') {
      r.error(path, `must be a string, got ${show(x)}`);
      return;
    }
    if (x.trim() === '') {
      r.error(path, 'must not be empty');
      return;
    }
    const range = parseAddressRange(x);
    if (typeof range === 'string') {
      r.error(path, `${show(x)} ${range}`);
      return;
    }
    entries.push({ index: i, text: x, range });
  });
  const autoAssign = r.boolean(own(spec, 'autoAssign'), 'autoAssign') ?? true;
  const avoidBuggyIPs = r.boolean(own(spec, 'avoidBuggyIPs'), 'avoidBuggyIPs') ?? false;
  if (avoidBuggyIPs) {
    for (const e of entries) {
      if (onlyBuggyIPs(e.range)) {
        r.warn(item('addresses', e.index), `${show(e.text)} has no usable address: avoidBuggyIPs skips addresses ending in .0 or .255`);
      }
    }
  }
  const serviceAllocation = readServiceAllocation(r, own(spec, 'serviceAllocation'));
  const ranges = [...entries.map((e) => e.range)].sort(compareRanges);
  return {
    source,
    entries,
    pool: { name: source.name, labels: source.labels, ranges, autoAssign, avoidBuggyIPs, serviceAllocation },
  };
}

function readServiceAllocation(r: FieldReader, v: unknown): ServiceAllocation | undefined {
  const base = 'serviceAllocation';
  const obj = r.object(v, base);
  if (obj === undefined) return undefined;
  const priority = r.integer(own(obj, 'priority'), field(base, 'priority'), int32.min, int32.max);
  const nsPath = field(base, 'namespaces');
  const namespaces: string[] = [];
  for (const { value: ns, index } of r.stringEntries(own(obj, 'namespaces'), nsPath)) {
    if (isNamespaceName(ns)) namespaces.push(ns);
    else r.error(item(nsPath, index), `${show(ns)} is not a valid namespace name`);
  }
  const namespaceSelectors: LabelSelector[] = readSelectors(r, own(obj, 'namespaceSelectors'), field(base, 'namespaceSelectors'));
  const serviceSelectors: LabelSelector[] = readSelectors(r, own(obj, 'serviceSelectors'), field(base, 'serviceSelectors'));
  return { priority, namespaces: [...namespaces].sort(compareText), namespaceSelectors, serviceSelectors };
}

/** True for an IPv4 entry whose every address ends in .0 or .255 (only entries of one or two can). */
function onlyBuggyIPs(range: AddressRange): boolean {
  if (range.family !== 'IPv4' || range.last - range.first > 1n) return false;
  for (let v = range.first; v <= range.last; v++) {
    const low = v & 0xffn;
    if (low !== 0n && low !== 0xffn) return false;
  }
  return true;
}

const familyOrder = (f: IPFamily): number => (f === 'IPv4' ? 0 : 1);

export function compareRanges(a: AddressRange, b: AddressRange): number {
  return familyOrder(a.family) - familyOrder(b.family) || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0);
}

/**
 * No address may be in two entries, of one pool or of two. Sweeps all entries in address order, keeping
 * the entry that reaches furthest: whatever overlaps anything overlaps that one. Each overlapping entry is
 * reported once, on its own pool, naming the entry (and pool) it overlaps.
 */
export function checkOverlaps(pools: readonly PoolDraft[], problems: Problems): void {
  const all = pools.flatMap((p) => p.entries.map((e) => ({ p, e })));
  all.sort((a, b) => compareRanges(a.e.range, b.e.range) || compareText(a.p.pool.name, b.p.pool.name) || a.e.index - b.e.index);
  let reach: { p: PoolDraft; e: PoolEntry } | undefined;
  for (const cur of all) {
    if (reach && reach.e.range.family === cur.e.range.family && cur.e.range.first <= reach.e.range.last) {
      const at = item('addresses', reach.e.index);
      const where = reach.p === cur.p ? cur.p.source.origin.path(at) : describe(reach.p.source.origin, at);
      problems.error(cur.p.source.origin, item('addresses', cur.e.index), `${show(cur.e.text)} overlaps ${show(reach.e.text)} at ${where}`);
    }
    if (!reach || reach.e.range.family !== cur.e.range.family || cur.e.range.last > reach.e.range.last) reach = cur;
  }
}

/** A pool must not contain a node's InternalIP or ExternalIP: the service would take the node's address. */
export function checkNodeAddresses(pools: readonly PoolDraft[], nodes: readonly NodeInfo[], problems: Problems): void {
  for (const p of pools) {
    for (const e of p.entries) {
      for (const node of nodes) {
        for (const a of node.addresses) {
          if (a.ip.family === e.range.family && e.range.first <= a.ip.value && a.ip.value <= e.range.last) {
            problems.error(
              p.source.origin,
              item('addresses', e.index),
              `${show(e.text)} contains ${formatIP(a.ip)}, the ${a.type} of Node ${node.name}`,
            );
          }
        }
      }
    }
  }
}

/**
 * The shortest prefix length among the CIDR blocks that exactly cover `range` (its own length for a CIDR,
 * 32 or 128 for one address). An aggregated route shorter than this would cover addresses outside the pool.
 */
export function widestPrefix(range: AddressRange): number {
  const bits = familyBits(range.family);
  let widest = bits;
  let cur = range.first;
  // At most 2 × bits blocks: the loop is short even for a whole IPv6 range.
  while (cur <= range.last) {
    let size = 0;
    while (size < bits) {
      const next = 1n << BigInt(size + 1);
      if (cur % next !== 0n || cur + next - 1n > range.last) break;
      size++;
    }
    widest = Math.min(widest, bits - size);
    cur += 1n << BigInt(size);
  }
  return widest;
}
