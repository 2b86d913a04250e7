// One named Secret in the install namespace, read and written with optimistic concurrency. The
// controller's RBAC allows get/update/patch on its own Secrets by name only (the manifests ship them
// empty), so it can neither read other Secrets nor create arbitrary ones; create is tried only when the
// Secret is missing, and a refusal says how to fix it.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApi, statusCodeOf as statusCode } from '../k8s/api.ts';

/** A Secret as the API returns it (plain JSON). */
interface SecretObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  type?: string;
  data?: Record<string, string>;
}

export interface StoredSecret {
  /** Decoded (UTF-8) data. */
  readonly data: Readonly<Record<string, string>>;
  /** undefined when the Secret does not exist. */
  readonly resourceVersion: string | undefined;
  /** The Secret as read (kept for a conditional replace). */
  readonly object?: SecretObject;
}

export class SecretConflictError extends Error {
  override readonly name = 'SecretConflictError';
}


function apiMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const m = (JSON.parse(body) as { message?: string }).message;
      if (m) return m;
    } catch {
      /* not JSON */
    }
  }
  return (e as Error).message ?? String(e);
}

export class SecretStore {
  private readonly api: KubeApi;

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    /** Labels set when the Secret is created or written. */
    private readonly labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'ironlb' },
  ) {
    this.api = new KubeApi(kc);
  }

  private ref() {
    return { apiVersion: 'v1', plural: 'secrets', namespace: this.namespace, name: this.name };
  }

  async read(): Promise<StoredSecret> {
    let s: SecretObject;
    try {
      s = await this.api.get<SecretObject>(this.ref());
    } catch (e) {
      if (statusCode(e) === 404) return { data: {}, resourceVersion: undefined };
      throw new Error(`reading Secret ${this.namespace}/${this.name}: ${apiMessage(e)}`);
    }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    return { data, resourceVersion: s.metadata?.resourceVersion, object: s };
  }

  /**
   * Replaces the data of the version read as `previous` (create when it did not exist). Throws
   * SecretConflictError when someone else wrote in between: read again and decide again.
   */
  async write(previous: StoredSecret, data: Readonly<Record<string, string>>): Promise<StoredSecret> {
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
    try {
      const s =
        previous.resourceVersion === undefined
          ? await this.api.create<SecretObject>(
              { apiVersion: 'v1', plural: 'secrets', namespace: this.namespace },
              { metadata: { name: this.name, namespace: this.namespace, labels: this.labels }, type: 'Opaque', data: encoded },
            )
          : // resourceVersion makes the update conditional: 409 if someone else wrote since we read.
            await this.api.replace<SecretObject>(this.ref(), {
              ...previous.object,
              metadata: { ...previous.object?.metadata, labels: { ...previous.object?.metadata?.labels, ...this.labels } },
              data: encoded,
            });
      return { data: { ...data }, resourceVersion: s.metadata?.resourceVersion, object: s };
    } catch (e) {
      const code = statusCode(e);
      if (code === 409) throw new SecretConflictError(`Secret ${this.namespace}/${this.name} changed while we wrote it`);
      if (code === 403 && previous.resourceVersion === undefined) {
        throw new Error(
          `Secret ${this.namespace}/${this.name} does not exist and IronLB may not create it (least-privilege RBAC): ` +
            `re-apply the IronLB manifests, which create it empty (${apiMessage(e)})`,
        );
      }
      throw new Error(`writing Secret ${this.namespace}/${this.name}: ${apiMessage(e)}`);
    }
  }
}

/**
 * Makes sure `key` of the Secret holds a random value (base64 of `bytes` random bytes) and returns it: the
 * speakers' memberlist key, shared by every node. An existing value is never changed.
 */
export async function ensureRandomKey(store: SecretStore, key: string, bytes = 128): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const current = await store.read();
    const existing = current.data[key];
    if (existing) return existing;
    const value = randomBytes(bytes).toString('base64');
    try {
      await store.write(current, { ...current.data, [key]: value });
      return value;
    } catch (e) {
      if (!(e instanceof SecretConflictError) || attempt >= 5) throw e;
    }
  }
}
