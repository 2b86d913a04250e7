// Builders for allocator tests: pools from address strings, requests with defaults, results as text.
import type { LabelSelector, Pool, ServiceAllocation } from '../config/model.ts';
import { formatIP, parseAddressRange, parseIP, type AddressRange, type IPAddress } from '../net/address.ts';
import type { AllocationRequest, AllocationResult } from './allocator.ts';

export function pool(
  name: string,
  addresses: readonly string[],
  opts: { autoAssign?: boolean; avoidBuggyIPs?: boolean; serviceAllocation?: Partial<ServiceAllocation> } = {},
): Pool {
  const ranges = addresses.map((a) => {
    const r = parseAddressRange(a);
    if (typeof r === 'string') throw new Error(`${a} ${r}`);
    return r;
  });
  ranges.sort((a, b) => (a.family !== b.family ? (a.family === 'IPv4' ? -1 : 1) : a.first < b.first ? -1 : 1));
  return {
    name,
    labels: {},
    ranges: ranges as readonly AddressRange[],
    autoAssign: opts.autoAssign ?? true,
    avoidBuggyIPs: opts.avoidBuggyIPs ?? false,
    serviceAllocation:
      opts.serviceAllocation === undefined
        ? undefined
        : {
            priority: opts.serviceAllocation.priority,
            namespaces: opts.serviceAllocation.namespaces ?? [],
            namespaceSelectors: opts.serviceAllocation.namespaceSelectors ?? [],
            serviceSelectors: opts.serviceAllocation.serviceSelectors ?? [],
          },
  };
}

export const matchLabels = (labels: Record<string, string>): LabelSelector => ({ matchLabels: labels, matchExpressions: [] });

export function ip(text: string): IPAddress {
  const a = parseIP(text);
  if (a === undefined) throw new Error(`not an IP: ${text}`);
  return a;
}

/** A request for service `key` ("namespace/name"); everything else defaults to a plain IPv4 Cluster service on TCP/80. */
export function req(key: string, opts: Partial<Omit<AllocationRequest, 'requestedIPs'>> & { requestedIPs?: readonly string[] } = {}): AllocationRequest {
  const namespace = key.split('/')[0]!;
  const { requestedIPs, ...rest } = opts;
  return {
    key,
    namespace,
    labels: {},
    namespaceLabels: {},
    families: ['IPv4'],
    familyPolicy: 'SingleStack',
    poolName: undefined,
    sharingKey: undefined,
    ports: [{ protocol: 'TCP', port: 80 }],
    externalTrafficPolicy: 'Cluster',
    selector: { app: key },
    ...rest,
    requestedIPs: (requestedIPs ?? []).map(ip),
  };
}

/** "10.0.0.1" / "10.0.0.1,fd00::1 @pool" for a success, "✗ reason" for a failure. */
export function show(r: AllocationResult): string {
  return r.ok ? `${r.ips.map(formatIP).join(',')} @${r.pool}` : `✗ ${r.reason}`;
}
