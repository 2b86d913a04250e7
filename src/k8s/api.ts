// The daemons' Kubernetes API calls: plain JSON over client-node's credentials and connections.
//
// client-node's typed API classes (CoreV1Api, CustomObjectsApi, ...) pull its ObjectSerializer and
// all ~2,500 generated model classes into memory: about 60 MB of RSS in every process, measured,
// more than the speaker's whole budget. The daemons only need a handful of verbs on a few kinds, so
// they go through this class instead: KubeConfig still resolves the cluster, credentials (client
// certificates, tokens, exec plugins, in-cluster service accounts) and the keep-alive agent; this
// class only sends JSON and reads JSON back, with objects exactly as the API server writes them.
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** An API answer that is not 2xx. `code` is the HTTP status (what callers test: 404, 409, ...). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The HTTP status of a failed API call (ApiError.code, or client-node's statusCode), if any. */
export function statusCodeOf(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown } | undefined;
  const c = x?.code ?? x?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

/** Where an object or a collection of a kind lives in the API. */
export interface ResourceRef {
  /** "v1" or "group/version". */
  readonly apiVersion: string;
  readonly plural: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

export function resourcePath(r: ResourceRef): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  const name = r.name ? `/${encodeURIComponent(r.name)}` : '';
  const sub = r.name && r.subresource ? `/${r.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface ObjectList<T> {
  readonly metadata?: { resourceVersion?: string; continue?: string };
  readonly items: T[];
}

/**
 * How long the connection options (CA, client certificate, token, agent) from the kubeconfig are reused.
 * Resolving them decodes certificates (or reads their files) each time; tokens that rotate (projected
 * service-account tokens, exec plugins) stay valid far longer than this.
 */
const optionsTtlMs = 10_000;

export class KubeApi {
  private options: { at: number; value: Promise<RequestOptions> } | undefined;

  constructor(readonly kc: KubeConfig) {}

  private requestOptions(): Promise<RequestOptions> {
    const now = Date.now();
    if (!this.options || now - this.options.at > optionsTtlMs) {
      const opts: RequestOptions = {};
      const value = this.kc.applyToHTTPSOptions(opts).then(() => opts);
      value.catch(() => {
        if (this.options?.value === value) this.options = undefined;
      });
      this.options = { at: now, value };
    }
    return this.options.value;
  }

  get<T>(ref: ResourceRef, query?: Query): Promise<T> {
    return this.call<T>('GET', ref, query);
  }

  /** Every item of a collection, following `continue` tokens. */
  async list<T>(ref: ResourceRef, query: Query = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let metadata: ObjectList<T>['metadata'];
    do {
      const page = await this.call<ObjectList<T>>('GET', ref, { ...query, limit: 500, continue: cont });
      items.push(...(page.items ?? []));
      metadata = page.metadata;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { metadata: { resourceVersion: metadata?.resourceVersion }, items };
  }

  create<T>(ref: ResourceRef, body: unknown): Promise<T> {
    return this.call<T>('POST', ref, undefined, body, 'application/json');
  }

  /** RFC 7386 merge patch: only the fields in `body` change; null removes a field. */
  mergePatch<T>(ref: ResourceRef, body: unknown): Promise<T> {
    return this.call<T>('PATCH', ref, undefined, body, 'application/merge-patch+json');
  }

  replace<T>(ref: ResourceRef, body: unknown): Promise<T> {
    return this.call<T>('PUT', ref, undefined, body, 'application/json');
  }

  async delete(ref: ResourceRef): Promise<void> {
    await this.call<unknown>('DELETE', ref);
  }

  private async call<T>(method: string, ref: ResourceRef, query?: Query, body?: unknown, contentType?: string): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server + resourcePath(ref));
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const base = await this.requestOptions();
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { ...(base.headers as Record<string, string>), accept: 'application/json' };
    if (data) Object.assign(headers, { 'content-type': contentType ?? 'application/json', 'content-length': data.length });
    const opts: RequestOptions = { ...base, method, headers };
    return new Promise<T>((resolve, reject) => {
      const req = request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const st = parsed as { message?: string; reason?: string } | undefined;
          reject(new ApiError(status, `${method} ${url.pathname}: HTTP ${status}${st?.message ? `: ${st.message}` : text ? `: ${text.slice(0, 200)}` : ''}`, st?.reason));
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }
}

/**
 * Calls `fn` until it succeeds, retrying what waiting can fix: no connection (the API server, or the
 * local path to it, is not up yet), 429 and 5xx. Anything else, or the deadline, ends it with the error.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: { deadlineMs?: number; onRetry?: (err: unknown) => void } = {}): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await fn();
    } catch (err) {
      const code = statusCodeOf(err);
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || Date.now() + delay > deadline) throw err;
      opts.onRetry?.(err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
