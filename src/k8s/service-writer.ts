// Writes what the controller decided onto Services and pools: status.loadBalancer.ingress, the
// ip-allocated-from-pool annotation, and IPAddressPool status counters. Merge patches only, so fields
// written by others are left alone.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { annotationPrefix, annotations } from '../controller/service-request.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface PoolStatus {
  readonly assignedIPv4: bigint;
  readonly assignedIPv6: bigint;
  readonly availableIPv4: bigint;
  readonly availableIPv6: bigint;
}

export class ServiceWriter {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
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
    const written = await this.core.patchNamespacedServiceStatus(
      {
        namespace,
        name,
        body: {
          metadata: { annotations: { [key]: pool ?? null } },
          status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } },
        },
      },
      mergePatch,
    );
    if (written.metadata?.annotations?.[key] !== pool) await this.writePoolAnnotation(namespace, name, pool);
  }

  /** Sets (or with pool=undefined removes) the ip-allocated-from-pool annotation. */
  async writePoolAnnotation(namespace: string, name: string, pool: string | undefined): Promise<void> {
    await this.core.patchNamespacedService(
      {
        namespace,
        name,
        body: { metadata: { annotations: { [annotationPrefix + annotations.ipAllocatedFromPool]: pool ?? null } } },
      },
      mergePatch,
    );
  }

  async writePoolStatus(namespace: string, pool: string, status: PoolStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: 'metallb.io',
        version: 'v1beta1',
        namespace,
        plural: 'ipaddresspools',
        name: pool,
        body: { status: poolStatusBody(status) },
      },
      mergePatch,
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
