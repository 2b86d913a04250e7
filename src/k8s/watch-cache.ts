// A list+watch cache of one resource kind, built on client-node's informer. Restarts itself after errors
// (API server restarts, expired watches, a CRD not installed yet) with capped backoff.
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';

export interface Resource {
  /** "v1" or "group/version". */
  readonly apiVersion: string;
  readonly plural: string;
  /** Limit to one namespace; undefined = all namespaces (or a cluster-scoped kind). */
  readonly namespace?: string;
  /** Only this object name (e.g. the legacy ConfigMap "config"). */
  readonly name?: string;
  readonly labelSelector?: string;
}

export type ChangeKind = 'add' | 'update' | 'delete';

function resourcePath(r: Resource): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return r.namespace ? `${base}/namespaces/${r.namespace}/${r.plural}` : `${base}/${r.plural}`;
}

async function listResource(kc: KubeConfig, r: Resource): Promise<KubernetesListObject<KubernetesObject>> {
  const fieldSelector = r.name ? `metadata.name=${r.name}` : undefined;
  const labelSelector = r.labelSelector;
  if (r.apiVersion === 'discovery.k8s.io/v1' && r.plural === 'endpointslices') {
    const api = kc.makeApiClient(DiscoveryV1Api);
    return (r.namespace
      ? api.listNamespacedEndpointSlice({ namespace: r.namespace, fieldSelector })
      : api.listEndpointSliceForAllNamespaces({ fieldSelector })) as never;
  }
  if (r.apiVersion.includes('/')) {
    const [group, version] = r.apiVersion.split('/') as [string, string];
    const api = kc.makeApiClient(CustomObjectsApi);
    const list = r.namespace
      ? await api.listNamespacedCustomObject({ group, version, namespace: r.namespace, plural: r.plural, fieldSelector, labelSelector })
      : await api.listClusterCustomObject({ group, version, plural: r.plural, fieldSelector, labelSelector });
    return list as KubernetesListObject<KubernetesObject>;
  }
  // Core kinds go through the raw path too, so the cache holds plain JSON objects exactly as watched.
  const api = kc.makeApiClient(CoreV1Api);
  const ns = r.namespace;
  switch (r.plural) {
    case 'services':
      return (ns ? api.listNamespacedService({ namespace: ns, fieldSelector }) : api.listServiceForAllNamespaces({ fieldSelector })) as never;
    case 'namespaces':
      return api.listNamespace({ fieldSelector }) as never;
    case 'nodes':
      return api.listNode({ fieldSelector }) as never;
    case 'configmaps':
      return (ns ? api.listNamespacedConfigMap({ namespace: ns, fieldSelector }) : api.listConfigMapForAllNamespaces({ fieldSelector })) as never;
    case 'secrets':
      return (ns ? api.listNamespacedSecret({ namespace: ns, fieldSelector }) : api.listSecretForAllNamespaces({ fieldSelector })) as never;
    case 'pods':
      return (ns ? api.listNamespacedPod({ namespace: ns, fieldSelector }) : api.listPodForAllNamespaces({ fieldSelector })) as never;
    default:
      throw new Error(`watch-cache: no list function for core resource ${r.plural}`);
  }
}

export class WatchCache<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private synced = false;
  private stopped = false;
  private retryMs = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly listeners: ((kind: ChangeKind, obj: T) => void)[] = [];
  private lastError: string | undefined;

  constructor(
    kc: KubeConfig,
    readonly resource: Resource,
    private readonly log: Logger,
  ) {
    const path = resourcePath(resource);
    this.informer = makeInformer<T>(kc, path, () => listResource(kc, resource) as Promise<KubernetesListObject<T>>, resource.labelSelector);
    if (resource.name) {
      // Field selectors on the watch too: without it, the watch would deliver every object of the kind.
      (this.informer as unknown as { fieldSelector?: string }).fieldSelector = `metadata.name=${resource.name}`;
    }
    this.informer.on('add', (o) => this.emit('add', o));
    this.informer.on('update', (o) => this.emit('update', o));
    this.informer.on('delete', (o) => this.emit('delete', o));
    this.informer.on('connect', () => {
      this.retryMs = 500;
    });
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  onChange(listener: (kind: ChangeKind, obj: T) => void): void {
    this.listeners.push(listener);
  }

  private emit(kind: ChangeKind, obj: T): void {
    for (const l of this.listeners) l(kind, obj);
  }

  private onError(err: unknown): void {
    const e = err as { statusCode?: number; code?: number; message?: string; body?: unknown };
    this.errorSinceStart = true;
    this.lastError = `${e.statusCode ?? e.code ?? ''} ${e.message ?? String(err)}`.trim();
    if (this.stopped) return;
    // 404 means the CRD is not installed: an empty list is the truth until it appears.
    if (e.statusCode === 404 || e.code === 404) this.synced = true;
    this.log.debug({ resource: this.resource.plural, err: this.lastError }, 'watch error, restarting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.restart(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }

  private errorSinceStart = false;

  private async restart(): Promise<void> {
    if (this.stopped) return;
    this.errorSinceStart = false;
    try {
      await this.informer.start();
      if (!this.errorSinceStart) this.synced = true;
    } catch (err) {
      this.onError(err);
    }
  }

  /** Lists and starts watching; resolves once the first list arrived (or the kind does not exist). */
  async start(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.restart();
    while (!this.synced) {
      if (Date.now() > deadline) throw new Error(`timed out listing ${this.resource.plural}: ${this.lastError ?? 'no answer'}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  isSynced(): boolean {
    return this.synced;
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.informer.stop();
  }
}
