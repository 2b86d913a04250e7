// Which services a pool's serviceAllocation lets in, and the order pinned pools are tried in.
import type { Pool } from '../config/model.ts';
import { selectorMatches } from '../config/selector.ts';

export interface ServiceIdentity {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespaceLabels: Readonly<Record<string, string>>;
}

/**
 * Why the pool's serviceAllocation refuses the service, or undefined if it serves it (or has none).
 * As in MetalLB, `namespaces` and `namespaceSelectors` together name one set of namespaces (a namespace
 * listed OR selected is in), and `serviceSelectors` must then also match (any one of them).
 */
export function serviceAllocationProblem(pool: Pool, svc: ServiceIdentity): string | undefined {
  const sa = pool.serviceAllocation;
  if (sa === undefined) return undefined;
  if (sa.namespaces.length > 0 || sa.namespaceSelectors.length > 0) {
    const inNamespaces =
      sa.namespaces.includes(svc.namespace) || sa.namespaceSelectors.some((s) => selectorMatches(s, svc.namespaceLabels));
    if (!inNamespaces) {
      return `its serviceAllocation does not include namespace "${svc.namespace}"`;
    }
  }
  if (sa.serviceSelectors.length > 0 && !sa.serviceSelectors.some((s) => selectorMatches(s, svc.labels))) {
    return "the service's labels match none of its serviceAllocation serviceSelectors";
  }
  return undefined;
}

/** Pinned pools: lower priority first, unset priority last, then by name. */
export function comparePinnedPools(a: Pool, b: Pool): number {
  const pa = a.serviceAllocation?.priority;
  const pb = b.serviceAllocation?.priority;
  if (pa !== pb) {
    if (pa === undefined) return 1;
    if (pb === undefined) return -1;
    return pa - pb;
  }
  return compareNames(a.name, b.name);
}

export const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
