// What one kind of a speaker's status objects is on the API server, as far as the speaker knows, against
// what it should be. Decides the next write for each object without reading the server: its knowledge
// comes from the results of its own writes and from the watch on these objects. Pure; StatusSet does
// the writes and reports back.
//
// The watch also echoes the speaker's own writes, sometimes late (an object's ADDED event, without a
// status, can arrive after the status was written). An event carrying a resourceVersion one of our own
// writes returned is such an echo and teaches nothing; any other event is someone's change (or the state
// a previous run of the speaker left) and is believed.

export interface StatusObject {
  /** Stable identity; the object name is derived from it. */
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly status: Record<string, unknown>;
}

export type StatusAction =
  | { readonly kind: 'create'; readonly object: StatusObject }
  | { readonly kind: 'patch'; readonly object: StatusObject; readonly key: string }
  | { readonly kind: 'delete' };

/** JSON with object keys sorted at every level: equal statuses give equal keys, whatever the key order. */
export function statusKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(statusKey).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${statusKey((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** How many of an object's own resourceVersions are remembered (an echo lags a write or two at most). */
const ownVersionsKept = 4;

export class StatusLedger {
  /** Object name → desired object and its status key. Undefined until the first desired state: nothing is touched before. */
  private desired: Map<string, { readonly object: StatusObject; readonly key: string }> | undefined;
  /** Names that exist on the server. */
  private readonly existing = new Set<string>();
  /** Name → key of the status on the server. */
  private readonly onServer = new Map<string, string>();
  /** Name → resourceVersions our own writes produced. */
  private readonly ownVersions = new Map<string, string[]>();

  /**
   * The new desired state (object name → object). Returns the names whose server state differs from it;
   * an object whose status key is unchanged costs two map lookups.
   */
  want(objects: ReadonlyMap<string, StatusObject>): string[] {
    const previous = this.desired;
    const next = new Map<string, { object: StatusObject; key: string }>();
    for (const [name, object] of objects) {
      const before = previous?.get(name);
      // The same object (or an equal status) again: reuse its key instead of serialising it.
      const key = before && (before.object === object || before.object.status === object.status) ? before.key : statusKey(object.status);
      next.set(name, { object, key });
    }
    this.desired = next;
    const out: string[] = [];
    for (const name of next.keys()) if (this.needsWork(name)) out.push(name);
    for (const name of this.existing) if (!next.has(name)) out.push(name);
    return out;
  }

  /** A watch event about one of these objects. Returns true when that object now needs a write. */
  observe(kind: 'add' | 'update' | 'delete', name: string, resourceVersion: string | undefined, status: unknown): boolean {
    if (kind === 'delete') {
      this.forget(name);
    } else {
      this.existing.add(name);
      const own = resourceVersion !== undefined && (this.ownVersions.get(name)?.includes(resourceVersion) ?? false);
      if (!own) this.onServer.set(name, statusKey(status ?? {}));
    }
    return this.needsWork(name);
  }

  needsWork(name: string): boolean {
    if (!this.desired) return false;
    const want = this.desired.get(name);
    if (!want) return this.existing.has(name);
    return !this.existing.has(name) || this.onServer.get(name) !== want.key;
  }

  /** The next write that brings this object to its desired state, or undefined when it is there. */
  next(name: string): StatusAction | undefined {
    if (!this.desired) return undefined;
    const want = this.desired.get(name);
    if (!want) return this.existing.has(name) ? { kind: 'delete' } : undefined;
    if (!this.existing.has(name)) return { kind: 'create', object: want.object };
    if (this.onServer.get(name) !== want.key) return { kind: 'patch', object: want.object, key: want.key };
    return undefined;
  }

  /** The object was created (resourceVersion undefined: it existed already). */
  created(name: string, resourceVersion: string | undefined): void {
    this.existing.add(name);
    this.remember(name, resourceVersion);
  }

  /** The status with this key was written. */
  patched(name: string, key: string, resourceVersion: string | undefined): void {
    this.existing.add(name);
    this.onServer.set(name, key);
    this.remember(name, resourceVersion);
  }

  /** The object was deleted (or was already gone). */
  deleted(name: string): void {
    this.forget(name);
  }

  private forget(name: string): void {
    this.existing.delete(name);
    this.onServer.delete(name);
    this.ownVersions.delete(name);
  }

  private remember(name: string, resourceVersion: string | undefined): void {
    if (resourceVersion === undefined) return;
    const versions = this.ownVersions.get(name) ?? [];
    versions.push(resourceVersion);
    if (versions.length > ownVersionsKept) versions.shift();
    this.ownVersions.set(name, versions);
  }
}
