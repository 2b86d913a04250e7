// A list+watch cache of one resource kind: list once, then watch from the list's resourceVersion,
// resuming from the last version seen when a watch ends and listing again when that version has
// expired (410 Gone) or the API server cannot be reached (with capped backoff). A kind whose CRD is not
// installed reads as empty until it appears. Objects are cached as the API server sends them (plain
// JSON, see api.ts), without metadata.managedFields, or reduced further by a projection.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { KubeApi, resourcePath, type Query } from './api.ts';

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

export interface WatchCacheOptions<T> {
  /**
   * Applied to every object before it is cached and handed to listeners: a reader that needs a few
   * fields keeps only those (client-go's SetTransform). It must keep metadata.name, namespace and
   * resourceVersion.
   */
  readonly project?: (obj: T) => T;
}

/**
 * Drops what no reader uses but every object carries: metadata.managedFields (server-side apply
 * bookkeeping, often larger than the rest of the object). Objects are cached as long as they exist.
 */
function slim<T extends KubernetesObject>(obj: T): T {
  if (obj?.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
  return obj;
}

const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class WatchCache<T extends KubernetesObject> {
  private readonly api: KubeApi;
  private readonly watch: Watch;
  private readonly objects = new Map<string, T>();
  private readonly listeners: ((kind: ChangeKind, obj: T) => void)[] = [];
  private resourceVersion: string | undefined;
  private abort: AbortController | undefined;
  private synced = false;
  private stopped = false;
  private retryMs = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  /** Bumped on every (re)start, so callbacks of a superseded watch are ignored. */
  private generation = 0;

  private readonly project: (obj: T) => T;

  constructor(
    kc: KubeConfig,
    readonly resource: Resource,
    private readonly log: Logger,
    options: WatchCacheOptions<T> = {},
  ) {
    this.project = options.project ?? slim;
    this.api = new KubeApi(kc);
    this.watch = new Watch(kc);
  }

  onChange(listener: (kind: ChangeKind, obj: T) => void): void {
    this.listeners.push(listener);
  }

  private emit(kind: ChangeKind, obj: T): void {
    for (const l of this.listeners) {
      try {
        l(kind, obj);
      } catch (err) {
        // client-node's watch swallows exceptions from its callback: say so here instead.
        this.log.error({ resource: this.resource.plural, err: (err as Error).stack ?? String(err) }, 'change listener failed');
      }
    }
  }

  private selectors(): Query {
    return {
      labelSelector: this.resource.labelSelector,
      fieldSelector: this.resource.name ? `metadata.name=${this.resource.name}` : undefined,
    };
  }

  /** Lists and starts watching; resolves once the first list arrived (or the kind does not exist). */
  async start(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    void this.listAndWatch();
    while (!this.synced) {
      if (this.stopped) return;
      if (Date.now() > deadline) throw new Error(`timed out listing ${this.resource.plural}: ${this.lastError ?? 'no answer'}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  isSynced(): boolean {
    return this.synced;
  }

  list(): readonly T[] {
    return [...this.objects.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  get size(): number {
    return this.objects.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  private async listAndWatch(): Promise<void> {
    const gen = ++this.generation;
    this.abort?.abort();
    if (this.stopped) return;
    try {
      const list = await this.api.list<T>({ apiVersion: this.resource.apiVersion, plural: this.resource.plural, namespace: this.resource.namespace }, this.selectors());
      if (gen !== this.generation) return;
      this.replaceAll(list.items.map((o) => this.project(o)));
      this.resourceVersion = list.metadata?.resourceVersion;
      this.synced = true;
      this.retryMs = 500;
      this.lastError = undefined;
    } catch (err) {
      if (gen !== this.generation) return;
      const code = (err as { code?: number }).code;
      if (code === 404) {
        // The CRD is not installed: an empty list is the truth until it appears.
        this.replaceAll([]);
        this.synced = true;
      }
      this.retry(err);
      return;
    }
    await this.startWatch(gen);
  }

  private async startWatch(gen: number): Promise<void> {
    const path = resourcePath({ apiVersion: this.resource.apiVersion, plural: this.resource.plural, namespace: this.resource.namespace });
    const query = { ...this.selectors(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
    let expired = false;
    const abort = await this.watch.watch(
      path,
      query,
      (phase: string, obj: T & { code?: number; message?: string }) => {
        if (gen !== this.generation) return;
        switch (phase) {
          case 'ADDED':
          case 'MODIFIED': {
            const kept = this.project(obj);
            const key = keyOf(kept);
            const had = this.objects.has(key);
            this.objects.set(key, kept);
            this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
            this.emit(had ? 'update' : 'add', kept);
            break;
          }
          case 'DELETED': {
            const key = keyOf(obj);
            const had = this.objects.get(key);
            this.objects.delete(key);
            this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
            if (had) this.emit('delete', obj);
            break;
          }
          case 'BOOKMARK':
            this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
            break;
          case 'ERROR':
            // A Status object; 410 Gone: our resourceVersion is older than the API server keeps.
            if (obj.code === 410) expired = true;
            this.lastError = `${obj.code ?? ''} ${obj.message ?? 'watch error'}`.trim();
            break;
        }
      },
      (err: unknown) => {
        if (gen !== this.generation || this.stopped) return;
        if (err || expired) {
          if ((err as { statusCode?: number } | null)?.statusCode === 410) expired = true;
          if (expired) this.resourceVersion = undefined;
          this.retry(err ?? new Error(this.lastError ?? 'watch expired'));
          return;
        }
        // A watch ends normally after the server's timeout: resume from the last version seen.
        void this.startWatch(gen);
      },
    );
    if (gen !== this.generation) abort.abort();
    else this.abort = abort;
  }

  private retry(err: unknown): void {
    const e = err as { statusCode?: number; code?: number; message?: string };
    this.lastError = `${e.statusCode ?? e.code ?? ''} ${e.message ?? String(err)}`.trim();
    if (this.stopped) return;
    this.log.debug({ resource: this.resource.plural, err: this.lastError, retryInMs: this.retryMs }, 'list/watch failed, retrying');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.listAndWatch(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }

  /** A fresh list: what vanished is deleted, what is new added, what changed updated. */
  private replaceAll(items: T[]): void {
    const fresh = new Map(items.map((o) => [keyOf(o), o]));
    for (const [key, old] of this.objects) {
      if (!fresh.has(key)) {
        this.objects.delete(key);
        this.emit('delete', old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.objects.get(key);
      this.objects.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj);
    }
  }
}
