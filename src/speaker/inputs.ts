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

/** Every managed LoadBalancer Service with an IP, as the planner sees it, sorted by key. */
export function serviceInfos(
  services: readonly ServiceObject[],
  slices: readonly EndpointSliceObject[],
  lbClass: string | undefined,
): ServiceInfo[] {
  return [...new ServiceInfoIndex(lbClass).update(services, slices)];
}

const noNodes: ReadonlySet<string> = new Set();

interface IndexedService {
  readonly svc: ServiceObject;
  readonly endpointNodes: ReadonlySet<string>;
  readonly info: ServiceInfo | undefined;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * ServiceInfos for a speaker that recomputes on every change: a Service whose
 * object and serving nodes did not change keeps its ServiceInfo object, and when nothing changed the
 * very same array comes back. Later stages reuse their results by identity, so a burst of events does
 * not rebuild (and keep alive) a fresh copy of everything per recompute.
 */
export class ServiceInfoIndex {
  /** Per EndpointSlice object (the watch cache replaces an object when it changes): its service and serving nodes. */
  private readonly sliceNodes = new WeakMap<EndpointSliceObject, { readonly key: string; readonly nodes: ReadonlySet<string> }>();
  /** Per managed Service: the object and serving nodes its info was made from (no info: it has no IP yet). */
  private byKey = new Map<string, IndexedService>();
  private sorted: readonly ServiceInfo[] = [];

  constructor(private readonly lbClass: string | undefined) {}

  update(services: readonly ServiceObject[], slices: readonly EndpointSliceObject[]): readonly ServiceInfo[] {
    const endpoints = new Map<string, ReadonlySet<string>>();
    for (const slice of slices) {
      let entry = this.sliceNodes.get(slice);
      if (!entry) {
        const svc = slice.metadata?.labels?.[serviceNameLabel];
        const nodes = new Set<string>();
        for (const ep of slice.endpoints ?? []) if (ep.nodeName && endpointServing(ep.conditions)) nodes.add(ep.nodeName);
        entry = { key: svc ? `${slice.metadata?.namespace ?? ''}/${svc}` : '', nodes };
        this.sliceNodes.set(slice, entry);
      }
      if (entry.key === '') continue;
      const had = endpoints.get(entry.key);
      endpoints.set(entry.key, had === undefined ? entry.nodes : new Set([...had, ...entry.nodes]));
    }
    const next = new Map<string, IndexedService>();
    let changed = false;
    for (const svc of services) {
      if (!isManagedService(svc, this.lbClass)) continue;
      const key = serviceKey(svc);
      const endpointNodes = endpoints.get(key) ?? noNodes;
      const before = this.byKey.get(key);
      if (before && before.svc === svc && sameSet(before.endpointNodes, endpointNodes)) {
        next.set(key, before);
        continue;
      }
      changed = true;
      const ips = statusIPs(svc);
      const info: ServiceInfo | undefined =
        ips.length === 0
          ? undefined
          : { key, labels: svc.metadata?.labels ?? {}, ips, externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster', endpointNodes };
      next.set(key, { svc, endpointNodes, info });
    }
    if (!changed && next.size === this.byKey.size) return this.sorted;
    this.byKey = next;
    const infos: ServiceInfo[] = [];
    for (const e of next.values()) if (e.info) infos.push(e.info);
    this.sorted = infos.sort((a, b) => localeOrder(a.key, b.key));
    return this.sorted;
  }
}

// ---------- What the speaker keeps of each watched object ----------
// The speaker caches every Service, EndpointSlice and Node of the cluster but reads a few fields of
// each; keeping only those (no annotations such as kubectl's last-applied copy, no ports, addresses,
// targetRefs, or a Node's image list) makes its live heap, and so its RSS, several times smaller.

type Meta = { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; deletionTimestamp?: string | Date };

function keptMetadata(md: Meta | undefined): Meta {
  return {
    name: md?.name,
    namespace: md?.namespace,
    resourceVersion: md?.resourceVersion,
    ...(md?.labels !== undefined && { labels: md.labels }),
    ...(md?.deletionTimestamp !== undefined && { deletionTimestamp: md.deletionTimestamp }),
  };
}

/** What serviceInfos reads of a Service. */
export function serviceForSpeaker<T extends ServiceObject>(svc: T): T {
  const spec = svc.spec;
  return {
    metadata: keptMetadata(svc.metadata as Meta | undefined),
    spec: {
      type: spec?.type,
      ...(spec?.loadBalancerClass !== undefined && { loadBalancerClass: spec.loadBalancerClass }),
      ...(spec?.externalTrafficPolicy !== undefined && { externalTrafficPolicy: spec.externalTrafficPolicy }),
    },
    status: { loadBalancer: { ingress: (svc.status?.loadBalancer?.ingress ?? []).map((i) => ({ ip: i.ip })) } },
  } as T;
}

/** What endpointNodesByService reads of an EndpointSlice. */
export function endpointSliceForSpeaker<T extends EndpointSliceObject>(slice: T): T {
  return {
    metadata: keptMetadata(slice.metadata as Meta | undefined),
    endpoints: (slice.endpoints ?? []).map((ep) => ({ nodeName: ep.nodeName, conditions: ep.conditions })),
  } as T;
}

/** What the planner (nodeInfo, nodeReady) and the configuration's node-address rule read of a Node. */
export function nodeForSpeaker<T extends NodeObject>(node: T): T {
  return {
    metadata: keptMetadata(node.metadata as Meta | undefined),
    spec: { unschedulable: node.spec?.unschedulable },
    status: {
      conditions: (node.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status })),
      addresses: (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    },
  } as T;
}
