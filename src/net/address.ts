// IP addresses as (family, bigint) pairs: one representation for v4 and v6, exact at any size,
// so pool arithmetic on a /64 never overflows.
import { isIPv4, isIPv6 } from 'node:net';

export type IPFamily = 'IPv4' | 'IPv6';

export interface IPAddress {
  readonly family: IPFamily;
  readonly value: bigint;
}

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  readonly family: IPFamily;
  readonly first: bigint;
  readonly last: bigint;
}

export const familyBits = (family: IPFamily): number => (family === 'IPv4' ? 32 : 128);

export function parseIP(text: string): IPAddress | undefined {
  const s = text.trim();
  if (isIPv4(s)) {
    let v = 0n;
    for (const part of s.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 'IPv4', value: v };
  }
  if (isIPv6(s)) {
    if (s.includes('%')) return undefined; // zones are meaningless for a service address
    return { family: 'IPv6', value: parseIPv6(s) };
  }
  return undefined;
}

function parseIPv6(s: string): bigint {
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // Embedded IPv4 (::ffff:1.2.3.4): convert to two hextets.
    const v4 = parseIP(s.slice(lastColon + 1))!;
    tailV4 = v4.value;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftParts = left ? left.split(':') : [];
  const rightParts = right !== undefined && right !== '' ? right.split(':') : [];
  const missing = 8 - leftParts.length - rightParts.length;
  const parts = [...leftParts, ...Array<string>(right === undefined ? 0 : missing).fill('0'), ...rightParts];
  let v = 0n;
  for (const p of parts) v = (v << 16n) | BigInt(parseInt(p, 16));
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

export function formatIP(ip: IPAddress): string {
  return ip.family === 'IPv4' ? formatIPv4(ip.value) : formatIPv6(ip.value);
}

function formatIPv4(v: bigint): string {
  // In number arithmetic: the planner formats every announced prefix, and bigint shifts cost.
  const n = Number(v & 0xffffffffn);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** RFC 5952 canonical text: lower case, longest zero run (length ≥ 2) compressed. */
function formatIPv6(v: bigint): string {
  const hextets: number[] = [];
  for (let i = 7; i >= 0; i--) hextets.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function ipToString(family: IPFamily, value: bigint): string {
  return formatIP({ family, value });
}

export function sameIP(a: IPAddress, b: IPAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/**
 * Parses a pool entry: a CIDR ("10.0.0.0/24"), a range ("10.0.0.1-10.0.0.9", spaces allowed around the
 * dash) or a single address (taken as a host route). Returns a reason string on failure.
 */
export function parseAddressRange(text: string): AddressRange | string {
  const s = text.trim();
  if (s === '') return 'is empty';
  if (s.includes('-')) {
    const [a, b, ...rest] = s.split('-');
    if (rest.length > 0 || a === undefined || b === undefined) return 'is not an IP, range or CIDR';
    const first = parseIP(a);
    const last = parseIP(b);
    if (!first || !last) return 'is not an IP, range or CIDR';
    if (first.family !== last.family) return 'mixes IPv4 and IPv6 in one range';
    if (first.value > last.value) return 'has its start after its end';
    return { family: first.family, first: first.value, last: last.value };
  }
  if (s.includes('/')) {
    const cidr = parseCIDR(s);
    if (typeof cidr === 'string') return cidr;
    return cidrRange(cidr.address, cidr.prefixLength);
  }
  const ip = parseIP(s);
  if (!ip) return 'is not an IP, range or CIDR';
  return { family: ip.family, first: ip.value, last: ip.value };
}

export interface CIDR {
  readonly address: IPAddress;
  readonly prefixLength: number;
}

export function parseCIDR(text: string): CIDR | string {
  const [addr, len, ...rest] = text.trim().split('/');
  if (rest.length > 0 || addr === undefined || len === undefined || !/^\d{1,3}$/.test(len)) {
    return 'is not an IP, range or CIDR';
  }
  const ip = parseIP(addr);
  if (!ip) return 'is not an IP, range or CIDR';
  const prefixLength = Number(len);
  if (prefixLength > familyBits(ip.family)) return `has prefix length /${prefixLength}, too long for ${ip.family}`;
  return { address: ip, prefixLength };
}

/** The whole block a CIDR names (host bits of the given address are ignored, as MetalLB does). */
export function cidrRange(address: IPAddress, prefixLength: number): AddressRange {
  const bits = BigInt(familyBits(address.family));
  const hostBits = bits - BigInt(prefixLength);
  const mask = ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
  const first = address.value & mask;
  return { family: address.family, first, last: first | ((1n << hostBits) - 1n) };
}

export const rangeSize = (r: AddressRange): bigint => r.last - r.first + 1n;

export const rangesOverlap = (a: AddressRange, b: AddressRange): boolean =>
  a.family === b.family && a.first <= b.last && b.first <= a.last;

export const rangeContains = (r: AddressRange, ip: IPAddress): boolean =>
  r.family === ip.family && r.first <= ip.value && ip.value <= r.last;

export function formatRange(r: AddressRange): string {
  return r.first === r.last
    ? ipToString(r.family, r.first)
    : `${ipToString(r.family, r.first)}-${ipToString(r.family, r.last)}`;
}
