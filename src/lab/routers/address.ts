// Address and prefix normalization for router output: each daemon prints addresses its own way
// (FRR keeps what was configured, the kernel drops "/32"), so everything is compared in one form.
import { isIPv4, isIPv6 } from 'node:net';
import { formatIP, parseIP } from '../../net/address.ts';
import type { AddressFamily } from './router.ts';

/** Canonical text of an address ("fd99:0::0011" → "fd99::11"); unchanged if it is not one. */
export function normalizeAddress(text: string): string {
  const ip = parseIP(text.replace(/^\*/, ''));
  return ip ? formatIP(ip) : text;
}

/** Canonical prefix: address canonical, host routes get their length ("10.0.0.5" → "10.0.0.5/32"). */
export function normalizePrefix(text: string): string {
  const [addr = '', len] = text.split('/');
  const ip = parseIP(addr);
  if (!ip) return text;
  return `${formatIP(ip)}/${len ?? (ip.family === 'IPv4' ? 32 : 128)}`;
}

export function familyOf(addressOrPrefix: string): AddressFamily {
  const addr = addressOrPrefix.split('/')[0] ?? '';
  if (isIPv4(addr)) return 'ipv4';
  if (isIPv6(addr)) return 'ipv6';
  throw new Error(`"${addressOrPrefix}" is not an IP address or prefix`);
}
