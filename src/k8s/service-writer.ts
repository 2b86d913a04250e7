// Writes what the controller decided onto Services and pools: status.loadBalancer.ingress, the
// ip-allocated-from-pool annotation, and IPAddressPool status counters. Merge patches only, so fields
// written by others are left alone.
import type { KubeConfig } from '@kubernetes/client-node';
import { annotationPrefix, annotations } from '../controller/service-request.ts';
import { KubeApi } from './api.ts';

export interface PoolStatus {
  readonly assignedIPv4: bigint;
  readonly assignedIPv6: bigint;
  readonly availableIPv4: bigint;
  readonly availableIPv6: bigint;
}

export class ServiceWriter {
  private readonly api: KubeApi;

  constructor(kc: KubeConfig) {
    this.api = new KubeApi(kc);
  }

  /**
   * Sets (or with ips=[] and pool=undefined clears) the service's load-balancer ingress and its
   * ip-allocated-from-pool annotation in one write. The Service status subresource resets only the spec,
   * so the annotation rides along: one API write per allocation instead of two, and no moment where a
   * Service has the IP without the annotation. Should an API server drop the metadata, the annotation is
   * written separately.
   */
  async writeAssignment(namespace: string, name: string, ips: readonly string[], pool: string | undefined): Promise<void> {
    const key = annotationPrefix + annotations.ipAllocatedFromPool;
    const written = await this.api.mergePatch<{ metadata?: { annotations?: Record<string, string> } }>(
      { apiVersion: 'v1', plural: 'services', namespace, name, subresource: 'status' },
      {
        metadata: { annotations: { [key]: pool ?? null } },
        status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } },
      },
    );
    if (written.metadata?.annotations?.[key] !== pool) await this.writePoolAnnotation(namespace, name, pool);
  }

  /** Sets (or with pool=undefined removes) the ip-allocated-from-pool annotation. */
  async writePoolAnnotation(namespace: string, name: string, pool: string | undefined): Promise<void> {
    await this.api.mergePatch(
      { apiVersion: 'v1', plural: 'services', namespace, name },
      { metadata: { annotations: { [annotationPrefix + annotations.ipAllocatedFromPool]: pool ?? null } } },
    );
  }

  async writePoolStatus(namespace: string, pool: string, status: PoolStatus): Promise<void> {
    await this.api.mergePatch(
      { apiVersion: 'metallb.io/v1beta1', plural: 'ipaddresspools', namespace, name: pool, subresource: 'status' },
      { status: poolStatusBody(status) },
    );
  }
}

/**
 * IPAddressPool status as MetalLB writes it (integers), except that a count beyond int64 — possible for
 * IPv6 pools larger than a /65 — cannot be an integer in the API, so it is written as its exact decimal string.
 */
export function poolStatusBody(s: PoolStatus): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(s) as [string, bigint][]) {
    out[k] = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  return out;
}
