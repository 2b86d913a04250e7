// The status objects a speaker owns (ServiceL2Status, ServiceBGPStatus, BGPSessionState), kept equal to
// a desired set by diffing against what exists with this node's label. Names are derived from their
// content's identity, so a restarted speaker finds and reuses its objects instead of leaking new ones.
import { createHash } from 'node:crypto';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { WatchCache } from './watch-cache.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const nodeLabel = 'metallb.io/node';
export const serviceNameLabel = 'metallb.io/service-name';
export const serviceNamespaceLabel = 'metallb.io/service-namespace';

export interface StatusObject {
  /** Stable identity; the object name is derived from it. */
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly status: Record<string, unknown>;
}

export type StatusKind = 'servicel2statuses' | 'servicebgpstatuses' | 'bgpsessionstates';

const kindOf: Record<StatusKind, string> = {
  servicel2statuses: 'ServiceL2Status',
  servicebgpstatuses: 'ServiceBGPStatus',
  bgpsessionstates: 'BGPSessionState',
};
const prefixOf: Record<StatusKind, string> = { servicel2statuses: 'l2', servicebgpstatuses: 'bgp', bgpsessionstates: 'session' };

export function statusObjectName(kind: StatusKind, node: string, id: string): string {
  return `${prefixOf[kind]}-${createHash('sha256').update(`${node}\0${id}`).digest('hex').slice(0, 16)}`;
}

/** JSON with object keys sorted at every level, to compare what the API returns with what we want. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Keeps one kind of status object for one node equal to the desired set. Writes are serialized. */
export class StatusSet {
  private readonly cache: WatchCache<KubernetesObject & { status?: Record<string, unknown> }>;
  private readonly api: CustomObjectsApi;
  private desired = new Map<string, StatusObject>();
  private running: Promise<void> = Promise.resolve();
  private again = false;
  private busy = false;

  constructor(
    kc: KubeConfig,
    private readonly kind: StatusKind,
    private readonly namespace: string,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.cache = new WatchCache(kc, { apiVersion: 'metallb.io/v1beta1', plural: kind, namespace, labelSelector: `${nodeLabel}=${node}` }, log);
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  set(objects: readonly StatusObject[]): Promise<void> {
    this.desired = new Map(objects.map((o) => [statusObjectName(this.kind, this.node, o.id), o]));
    if (this.busy) {
      this.again = true;
      return this.running;
    }
    this.busy = true;
    this.running = this.sync().finally(() => {
      this.busy = false;
    });
    return this.running;
  }

  private async sync(): Promise<void> {
    do {
      this.again = false;
      const common = { group: 'metallb.io', version: 'v1beta1', namespace: this.namespace, plural: this.kind };
      const existing = new Map(this.cache.list().map((o) => [o.metadata?.name ?? '', o]));
      for (const [name, want] of this.desired) {
        const have = existing.get(name);
        const labels = { ...want.labels, [nodeLabel]: this.node };
        try {
          if (!have) {
            await this.api.createNamespacedCustomObject({
              ...common,
              body: { apiVersion: 'metallb.io/v1beta1', kind: kindOf[this.kind], metadata: { name, namespace: this.namespace, labels } },
            }).catch((err: { code?: number }) => {
              if (err.code !== 409) throw err;
            });
          }
          if (!have || stable(have.status ?? {}) !== stable(want.status)) {
            await this.api.patchNamespacedCustomObjectStatus({ ...common, name, body: { status: want.status } }, mergePatch);
          }
        } catch (err) {
          this.log.warn({ kind: this.kind, name, err: (err as Error).message }, 'could not write status object');
        }
      }
      for (const name of existing.keys()) {
        if (this.desired.has(name)) continue;
        try {
          await this.api.deleteNamespacedCustomObject({ ...common, name });
        } catch (err) {
          if ((err as { code?: number }).code !== 404) this.log.warn({ kind: this.kind, name, err: (err as Error).message }, 'could not delete status object');
        }
      }
    } while (this.again);
  }
}
