// IP addresses between their text form (canonical, as address.ts formats them) and wire bytes.
import { formatIP, parseIP } from '../net/address.ts';

/** Dotted quad from 4 bytes at offset. */
export function ipv4FromBytes(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text from 16 bytes at offset. */
export function ipv6FromBytes(bytes: Uint8Array, offset = 0): string {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(bytes[offset + i]!);
  return formatIP({ family: 'IPv6', value: v });
}

/** 4 bytes of an IPv4 address; throws a RangeError if `ip` is not one (a caller's mistake, not wire input). */
export function ipv4ToBytes(ip: string): Uint8Array {
  const parsed = parseIP(ip);
  if (parsed?.family !== 'IPv4') throw new RangeError(`"${ip}" is not an IPv4 address`);
  return valueToBytes(parsed.value, 4);
}

/** 16 bytes of an IPv6 address; throws a RangeError if `ip` is not one. */
export function ipv6ToBytes(ip: string): Uint8Array {
  const parsed = parseIP(ip);
  if (parsed?.family !== 'IPv6') throw new RangeError(`"${ip}" is not an IPv6 address`);
  return valueToBytes(parsed.value, 16);
}

function valueToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
