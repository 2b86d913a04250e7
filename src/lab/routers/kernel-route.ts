// A route in a namespace's kernel table, read with `ip -j -n NS route show PREFIX` (exact match, main
// table). ECMP shows as `.nexthops[]`; some kernels print an IPv6 multipath route as several entries
// with one gateway each, so entries with the same metric are merged.
import { runCommandAsync } from '../network/command.ts';
import { familyOf, normalizeAddress, normalizePrefix } from './address.ts';

export interface KernelNexthop {
  readonly gateway?: string;
  readonly dev?: string;
  readonly weight: number;
}

export interface KernelRoute {
  readonly prefix: string;
  readonly nexthops: readonly KernelNexthop[];
  /** "bgp" (FRR's zebra), "bird", "kernel", "static", … */
  readonly protocol?: string;
  readonly metric?: number;
  /** "unicast" unless blackhole, unreachable, … */
  readonly type: string;
}

interface IpRouteJson {
  dst?: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  nexthops?: { gateway?: string; dev?: string; weight?: number }[];
}

/** Parses `ip -j route show PREFIX` output; undefined when there is no such route. */
export function parseKernelRoute(json: string, prefix: string): KernelRoute | undefined {
  const text = json.trim();
  if (text === '') return undefined;
  const entries = JSON.parse(text) as IpRouteJson[];
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  const first = entries[0]!;
  const same = entries.filter((e) => (e.metric ?? 0) === (first.metric ?? 0) && (e.type ?? 'unicast') === (first.type ?? 'unicast'));
  const nexthops: KernelNexthop[] = [];
  for (const e of same) {
    if (e.nexthops && e.nexthops.length > 0) {
      for (const nh of e.nexthops) nexthops.push(nexthop(nh.gateway, nh.dev, nh.weight));
    } else if (e.gateway || e.dev) {
      nexthops.push(nexthop(e.gateway, e.dev, 1));
    }
  }
  return {
    prefix: normalizePrefix(first.dst && first.dst !== 'default' ? first.dst : prefix),
    nexthops,
    ...(first.protocol !== undefined && { protocol: first.protocol }),
    ...(first.metric !== undefined && { metric: first.metric }),
    type: first.type ?? 'unicast',
  };
}

function nexthop(gateway: string | undefined, dev: string | undefined, weight: number | undefined): KernelNexthop {
  return { ...(gateway !== undefined && { gateway: normalizeAddress(gateway) }), ...(dev !== undefined && { dev }), weight: weight ?? 1 };
}

/** The kernel route for exactly `prefix` in namespace `ns` (main table), or undefined. */
export async function kernelRoute(ns: string, prefix: string): Promise<KernelRoute | undefined> {
  const family = familyOf(prefix) === 'ipv6' ? '-6' : '-4';
  const r = await runCommandAsync('ip', ['-j', family, '-n', ns, 'route', 'show', normalizePrefix(prefix)]);
  if (r.status !== 0) throw new Error(`ip route show ${prefix} in ${ns} failed: ${r.stderr.trim()}`);
  return parseKernelRoute(r.stdout, prefix);
}
