// Prefix encoding (RFC 4271 §4.3 NLRI, RFC 4760 §5): a length octet followed by the fewest octets that hold
// that many bits; trailing bits past the length are zero when sent and ignored when received.
import type { IPAddress, IPFamily } from '../../net/address.ts';
import { BgpEncodeError } from './errors.ts';
import { Afi, Safi, type AfiSafi, type Prefix } from './messages.ts';

export const afiOf = (family: IPFamily): number => (family === 'IPv4' ? Afi.IPv4 : Afi.IPv6);

export const afiSafiOf = (family: IPFamily): AfiSafi => ({ afi: afiOf(family), safi: Safi.Unicast });

/** The address family of an AFI/SAFI pair this codec parses NLRI for, or undefined. */
export function familyOf(afi: number, safi: number): IPFamily | undefined {
  if (safi !== Safi.Unicast) return undefined;
  if (afi === Afi.IPv4) return 'IPv4';
  if (afi === Afi.IPv6) return 'IPv6';
  return undefined;
}

/** Octets a prefix takes on the wire, length octet included. */
export const prefixWireLength = (p: Prefix): number => 1 + ((p.prefixLength + 7) >> 3);

const scratch = Buffer.alloc(16);
const LIMIT4 = 1n << 32n;
const LIMIT6 = 1n << 128n;

/**
 * Appends the prefixes in `buf[start, end)` to `out`. Returns undefined, or why the field is malformed
 * (a prefix longer than the family allows, or one running past `end`).
 */
export function decodePrefixes(buf: Buffer, start: number, end: number, family: IPFamily, out: Prefix[]): string | undefined {
  let p = start;
  if (family === 'IPv4') {
    while (p < end) {
      const len = buf[p]!;
      if (len > 32) return `IPv4 prefix length ${len} is longer than 32`;
      const n = (len + 7) >> 3;
      if (p + 1 + n > end) return `prefix /${len} runs past the end of the field`;
      let v = 0;
      for (let i = 1; i <= n; i++) v = v * 256 + buf[p + i]!;
      v *= 2 ** (8 * (4 - n));
      if (len < 32) v -= v % 2 ** (32 - len); // clear host bits
      out.push({ address: { family: 'IPv4', value: BigInt(v) }, prefixLength: len });
      p += 1 + n;
    }
    return undefined;
  }
  // IPv6 values are 128-bit bigints, and bigint arithmetic dominates the cost: reuse the upper half while
  // consecutive prefixes share it (they usually do: one /64 of service addresses), and build small lower
  // halves from a plain number.
  let upperA = -1;
  let upperB = -1;
  let upper = 0n;
  while (p < end) {
    const len = buf[p]!;
    if (len > 128) return `IPv6 prefix length ${len} is longer than 128`;
    const n = (len + 7) >> 3;
    if (p + 1 + n > end) return `prefix /${len} runs past the end of the field`;
    let src = buf;
    let at = p + 1;
    if (n < 16 || len & 7) {
      scratch.fill(0);
      buf.copy(scratch, 0, p + 1, p + 1 + n);
      if (len & 7) scratch[n - 1]! &= (0xff << (8 - (len & 7))) & 0xff;
      src = scratch;
      at = 0;
    }
    const a = src.readUInt32BE(at);
    const b = src.readUInt32BE(at + 4);
    const c = src.readUInt32BE(at + 8);
    const d = src.readUInt32BE(at + 12);
    if (a !== upperA || b !== upperB) {
      upperA = a;
      upperB = b;
      upper = ((BigInt(a) << 32n) | BigInt(b)) << 64n;
    }
    const value = c === 0 && d === 0 ? upper : c < 0x200000 ? upper + BigInt(c * 4294967296 + d) : upper + ((BigInt(c) << 32n) | BigInt(d));
    out.push({ address: { family: 'IPv6', value }, prefixLength: len });
    p += 1 + n;
  }
  return undefined;
}

// The last IPv6 upper half written, split into 32-bit words (see decodePrefixes).
let lastUpper = -1n;
let lastUpperA = 0;
let lastUpperB = 0;
const TWO_53 = 1n << 53n;

/** Writes one prefix at `at` (the caller has made room); returns the offset after it. */
export function writePrefix(buf: Buffer, at: number, prefix: Prefix): number {
  const len = prefix.prefixLength;
  const n = (len + 7) >> 3;
  buf[at] = len;
  if (n === 0) return at + 1;
  if (prefix.address.family === 'IPv4') {
    const v = Number(prefix.address.value) >>> 0;
    buf[at + 1] = v >>> 24;
    if (n > 1) buf[at + 2] = (v >>> 16) & 0xff;
    if (n > 2) buf[at + 3] = (v >>> 8) & 0xff;
    if (n > 3) buf[at + 4] = v & 0xff;
  } else {
    const value = prefix.address.value;
    const lower = BigInt.asUintN(64, value);
    const upper = value - lower;
    if (upper !== lastUpper) {
      const u = upper >> 64n;
      lastUpperA = Number(u >> 32n);
      lastUpperB = Number(BigInt.asUintN(32, u));
      lastUpper = upper;
    }
    let c: number;
    let d: number;
    if (lower < TWO_53) {
      const l = Number(lower);
      c = Math.floor(l / 4294967296);
      d = l >>> 0;
    } else {
      c = Number(lower >> 32n);
      d = Number(BigInt.asUintN(32, lower));
    }
    if (n === 16) {
      buf.writeUInt32BE(lastUpperA, at + 1);
      buf.writeUInt32BE(lastUpperB, at + 5);
      buf.writeUInt32BE(c, at + 9);
      buf.writeUInt32BE(d, at + 13);
    } else {
      scratch.writeUInt32BE(lastUpperA, 0);
      scratch.writeUInt32BE(lastUpperB, 4);
      scratch.writeUInt32BE(c, 8);
      scratch.writeUInt32BE(d, 12);
      scratch.copy(buf, at + 1, 0, n);
    }
  }
  if (len & 7) buf[at + n]! &= (0xff << (8 - (len & 7))) & 0xff;
  return at + 1 + n;
}

/** Throws BgpEncodeError unless `prefix` is a well-formed prefix of `family`. */
export function checkPrefix(prefix: Prefix, family: IPFamily): void {
  const a = prefix.address;
  const len = prefix.prefixLength;
  if (
    a.family !== family ||
    !(len >= 0 && len <= (family === 'IPv4' ? 32 : 128) && (len | 0) === len) ||
    !(a.value >= 0n && a.value < (family === 'IPv4' ? LIMIT4 : LIMIT6))
  ) {
    throw new BgpEncodeError(`not an ${family} prefix: ${String(a.value)}/${prefix.prefixLength} (${a.family})`);
  }
}

/** Throws BgpEncodeError unless `ip` is an address of `family`. */
export function checkAddress(ip: IPAddress, family: IPFamily, what: string): void {
  if (ip.family !== family || typeof ip.value !== 'bigint' || ip.value < 0n || ip.value >= (family === 'IPv4' ? LIMIT4 : LIMIT6)) {
    throw new BgpEncodeError(`${what} must be an ${family} address`);
  }
}
