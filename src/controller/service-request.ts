// Turns a Service object into what the allocator needs, reading MetalLB's annotations (both prefixes).
// Pure: malformed annotations become a user-facing reason, never an exception.
import type { AllocationRequest } from '../allocator/allocator.ts';
import { formatIP, parseIP, type IPAddress, type IPFamily } from '../net/address.ts';

export const annotationPrefix = 'metallb.io/';
export const deprecatedAnnotationPrefix = 'metallb.universe.tf/';

export const annotations = {
  addressPool: 'address-pool',
  loadBalancerIPs: 'loadBalancerIPs',
  allowSharedIP: 'allow-shared-ip',
  ipAllocatedFromPool: 'ip-allocated-from-pool',
} as const;

/** The subset of a v1 Service the controller reads. */
export interface ServiceObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
  };
  spec?: {
    type?: string;
    loadBalancerClass?: string;
    loadBalancerIP?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    ports?: { protocol?: string; port?: number }[];
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

export interface AnnotationRead {
  readonly value: string | undefined;
  /** Set when the value came only from the deprecated metallb.universe.tf/ prefix. */
  readonly deprecatedKey: string | undefined;
}

export function readAnnotation(svc: ServiceObject, name: string): AnnotationRead {
  const ann = svc.metadata?.annotations ?? {};
  const current = ann[annotationPrefix + name];
  if (current !== undefined) return { value: current, deprecatedKey: undefined };
  const old = ann[deprecatedAnnotationPrefix + name];
  if (old !== undefined) return { value: old, deprecatedKey: deprecatedAnnotationPrefix + name };
  return { value: undefined, deprecatedKey: undefined };
}

export const serviceKey = (svc: ServiceObject): string =>
  `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;

/** Does this controller own the service (type LoadBalancer and the right loadBalancerClass)? */
export function isManagedService(svc: ServiceObject, lbClass: string | undefined): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  if (svc.metadata?.deletionTimestamp) return false;
  const cls = svc.spec.loadBalancerClass;
  return lbClass === undefined ? cls === undefined || cls === '' : cls === lbClass;
}

export type RequestResult =
  | { readonly ok: true; readonly request: AllocationRequest; readonly deprecatedAnnotations: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly deprecatedAnnotations: readonly string[] };

const familyOf = (s: string): IPFamily | undefined => (s === 'IPv4' || s === 'IPv6' ? s : undefined);

export function buildRequest(svc: ServiceObject, namespaceLabels: Readonly<Record<string, string>>): RequestResult {
  const deprecated: string[] = [];
  const read = (name: string): string | undefined => {
    const r = readAnnotation(svc, name);
    if (r.deprecatedKey) deprecated.push(r.deprecatedKey);
    return r.value;
  };
  const fail = (reason: string): RequestResult => ({ ok: false, reason, deprecatedAnnotations: deprecated });

  const ipsAnnotation = read(annotations.loadBalancerIPs);
  const poolName = read(annotations.addressPool)?.trim() || undefined;
  const sharingKey = read(annotations.allowSharedIP)?.trim() || undefined;
  const specIP = svc.spec?.loadBalancerIP?.trim() || undefined;

  if (ipsAnnotation !== undefined && specIP !== undefined) {
    return fail(
      `spec.loadBalancerIP and the ${annotationPrefix}${annotations.loadBalancerIPs} annotation are both set; use only the annotation`,
    );
  }
  const requestedIPs: IPAddress[] = [];
  const rawIPs = ipsAnnotation !== undefined ? ipsAnnotation.split(',').map((s) => s.trim()) : specIP ? [specIP] : [];
  const source = ipsAnnotation !== undefined ? `annotation ${annotationPrefix}${annotations.loadBalancerIPs}` : 'spec.loadBalancerIP';
  for (const raw of rawIPs) {
    const ip = parseIP(raw);
    if (!ip) return fail(`${source}: "${raw}" is not an IP address`);
    if (requestedIPs.some((other) => other.family === ip.family)) {
      return fail(`${source}: "${ipsAnnotation ?? specIP}" has more than one ${ip.family} address; at most one per family`);
    }
    requestedIPs.push(ip);
  }
  if (requestedIPs.length > 2) return fail(`${source}: at most one IPv4 and one IPv6 address`);

  let families = (svc.spec?.ipFamilies ?? []).map(familyOf).filter((f): f is IPFamily => f !== undefined);
  if (families.length === 0) families = ['IPv4'];
  const policyRaw = svc.spec?.ipFamilyPolicy ?? 'SingleStack';
  const familyPolicy =
    policyRaw === 'PreferDualStack' || policyRaw === 'RequireDualStack' ? policyRaw : ('SingleStack' as const);
  for (const ip of requestedIPs) {
    const allowed = familyPolicy === 'SingleStack' ? families.slice(0, 1) : families;
    if (!allowed.includes(ip.family)) {
      return fail(`${source}: ${formatIP(ip)} is ${ip.family}, but the service's IP families are ${allowed.join(', ')}`);
    }
  }

  return {
    ok: true,
    deprecatedAnnotations: deprecated,
    request: {
      key: serviceKey(svc),
      namespace: svc.metadata?.namespace ?? '',
      labels: svc.metadata?.labels ?? {},
      namespaceLabels,
      families,
      familyPolicy,
      requestedIPs,
      poolName,
      sharingKey,
      ports: (svc.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port ?? 0 })),
      externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      selector: svc.spec?.selector,
    },
  };
}

/** IPs currently in status.loadBalancer.ingress (hostnames and junk skipped). */
export function statusIPs(svc: ServiceObject): IPAddress[] {
  const out: IPAddress[] = [];
  for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
    const ip = ing.ip ? parseIP(ing.ip) : undefined;
    if (ip) out.push(ip);
  }
  return out;
}
