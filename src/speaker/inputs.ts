// Kubernetes objects → the planner's plain inputs. Pure; tolerant of missing fields.
import { isManagedService, serviceKey, statusIPs, type ServiceObject } from '../controller/service-request.ts';
import { localeOrder, type NodeInfo, type ServiceInfo } from './plan.ts';

export interface NodeObject {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { conditions?: { type?: string; status?: string }[]; addresses?: { type?: string; address?: string }[] };
}

export interface EndpointSliceObject {
  metadata?: { namespace?: string; labels?: Record<string, string> };
  endpoints?: { nodeName?: string; conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } }[];
}

export const serviceNameLabel = 'kubernetes.io/service-name';

export function nodeInfo(n: NodeObject): NodeInfo {
  const cond = (type: string) => n.status?.conditions?.find((c) => c.type === type)?.status;
  return {
    name: n.metadata?.name ?? '',
    labels: n.metadata?.labels ?? {},
    networkUnavailable: cond('NetworkUnavailable') === 'True',
    unschedulable: n.spec?.unschedulable === true,
  };
}

export function nodeReady(n: NodeObject): boolean {
  return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

export function nodeInternalIP(n: NodeObject, family: 'IPv4' | 'IPv6' = 'IPv4'): string | undefined {
  for (const a of n.status?.addresses ?? []) {
    if (a.type !== 'InternalIP' || !a.address) continue;
    if ((family === 'IPv6') === a.address.includes(':')) return a.address;
  }
  return undefined;
}

/** Ready unset or true, or Serving true (MetalLB's rule: terminating-but-serving endpoints still count). */
export function endpointServing(c: { ready?: boolean | null; serving?: boolean | null } | undefined): boolean {
  if (!c) return true;
  return c.ready === undefined || c.ready === null || c.ready === true || c.serving === true;
}

/** service key → nodes with a serving endpoint. */
export function endpointNodesByService(slices: readonly EndpointSliceObject[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[serviceNameLabel];
    if (!svc) continue;
    const key = `${s.metadata?.namespace ?? ''}/${svc}`;
    let nodes = out.get(key);
    if (!nodes) out.set(key, (nodes = new Set()));
    for (const ep of s.endpoints ?? []) if (ep.nodeName && endpointServing(ep.conditions)) nodes.add(ep.nodeName);
  }
  return out;
}

export function serviceInfos(
  services: readonly ServiceObject[],
  slices: readonly EndpointSliceObject[],
  lbClass: string | undefined,
): ServiceInfo[] {
  const endpoints = endpointNodesByService(slices);
  const out: ServiceInfo[] = [];
  for (const svc of services) {
    if (!isManagedService(svc, lbClass)) continue;
    const ips = statusIPs(svc);
    if (ips.length === 0) continue;
    const key = serviceKey(svc);
    out.push({
      key,
      labels: svc.metadata?.labels ?? {},
      ips,
      externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      endpointNodes: endpoints.get(key) ?? new Set(),
    });
  }
  return out.sort((a, b) => localeOrder(a.key, b.key));
}
