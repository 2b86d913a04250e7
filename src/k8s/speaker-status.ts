// The status objects a speaker owns (ServiceL2Status, ServiceBGPStatus, BGPSessionState), kept equal to
// a desired set. Names are derived from their content's identity, so a restarted speaker finds and
// reuses its objects instead of leaking new ones. A StatusLedger decides what to write from what the
// speaker wrote and what the watch on its objects showed; only objects whose status changed are written,
// a few at a time, and always in their latest desired state.
import { createHash } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { KubeApi } from './api.ts';
import type { Logger } from '../log/logger.ts';
import { StatusLedger, type StatusAction, type StatusObject } from './status-ledger.ts';
import { WatchCache } from './watch-cache.ts';

export type { StatusObject } from './status-ledger.ts';

export const nodeLabel = 'metallb.io/node';
export const serviceNameLabel = 'metallb.io/service-name';
export const serviceNamespaceLabel = 'metallb.io/service-namespace';

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

/** API calls in flight per StatusSet: enough to keep up with 1,000 services, few enough to leave the API server to others. */
export const statusWritesInFlight = 8;

type StatusCacheObject = KubernetesObject & { status?: Record<string, unknown> };

/** Keeps one kind of status object for one node equal to the desired set. */
export class StatusSet {
  private readonly cache: WatchCache<StatusCacheObject>;
  private readonly api: KubeApi;
  private readonly ledger = new StatusLedger();
  /** Object id → object name (a hash), for the ids of the current desired set. */
  private names = new Map<string, string>();
  /** Names that may need a write, oldest first. */
  private readonly dirty = new Set<string>();
  /** Names with a write in flight: one at a time per object. */
  private readonly inFlight = new Set<string>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    kc: KubeConfig,
    private readonly kind: StatusKind,
    private readonly namespace: string,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.api = new KubeApi(kc);
    this.cache = new WatchCache(kc, { apiVersion: 'metallb.io/v1beta1', plural: kind, namespace, labelSelector: `${nodeLabel}=${node}` }, log);
    this.cache.onChange((change, obj) => {
      const name = obj.metadata?.name;
      if (name && this.ledger.observe(change, name, obj.metadata?.resourceVersion, obj.status)) this.markDirty([name]);
    });
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  /**
   * The desired objects. Returns at once with the writes under way; the promise resolves when every
   * object is written as desired (or its write failed: it is retried on the next set()).
   */
  set(objects: readonly StatusObject[]): Promise<void> {
    const names = new Map<string, string>();
    const byName = new Map<string, StatusObject>();
    for (const o of objects) {
      const name = this.names.get(o.id) ?? statusObjectName(this.kind, this.node, o.id);
      names.set(o.id, name);
      byName.set(name, o);
    }
    this.names = names;
    this.markDirty(this.ledger.want(byName));
    return this.idle();
  }

  private idle(): Promise<void> {
    if (this.dirty.size === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private markDirty(names: readonly string[]): void {
    for (const name of names) this.dirty.add(name);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight.size < statusWritesInFlight) {
      let next: string | undefined;
      for (const name of this.dirty) {
        if (!this.inFlight.has(name)) {
          next = name;
          break;
        }
      }
      if (next === undefined) break;
      const name = next;
      this.dirty.delete(name);
      this.inFlight.add(name);
      void this.reconcile(name).finally(() => {
        this.inFlight.delete(name);
        this.pump();
      });
    }
    if (this.dirty.size === 0 && this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Writes one object until it is as desired (the desired state may change while a write is under way). */
  private async reconcile(name: string): Promise<void> {
    for (let action = this.ledger.next(name); action; action = this.ledger.next(name)) {
      try {
        await this.write(name, action);
      } catch (err) {
        const what = action.kind === 'delete' ? 'could not delete status object' : 'could not write status object';
        this.log.warn({ kind: this.kind, name, err: (err as Error).message }, what);
        return;
      }
    }
  }

  private async write(name: string, action: StatusAction): Promise<void> {
    const collection = { apiVersion: 'metallb.io/v1beta1', plural: this.kind, namespace: this.namespace };
    const version = (o: unknown) => (o as KubernetesObject | undefined)?.metadata?.resourceVersion;
    switch (action.kind) {
      case 'create': {
        const labels = { ...action.object.labels, [nodeLabel]: this.node };
        const created = await this.api
          .create(collection, { apiVersion: 'metallb.io/v1beta1', kind: kindOf[this.kind], metadata: { name, namespace: this.namespace, labels } })
          .catch((err: { code?: number }) => {
            if (err.code !== 409) throw err;
            return undefined;
          });
        this.ledger.created(name, version(created));
        return;
      }
      case 'patch': {
        const patched = await this.api.mergePatch({ ...collection, name, subresource: 'status' }, { status: action.object.status });
        this.ledger.patched(name, action.key, version(patched));
        return;
      }
      case 'delete':
        await this.api.delete({ ...collection, name }).catch((err: { code?: number }) => {
          if (err.code !== 404) throw err;
        });
        this.ledger.deleted(name);
        return;
    }
  }
}
