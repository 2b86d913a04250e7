// What the deploy tests do to the real API server: server-side apply (dry-run or real), access checks
// as a ServiceAccount (SelfSubjectAccessReview through impersonation, which is what
// `kubectl auth can-i --as system:serviceaccount:NS:NAME` does), and credentials of a ServiceAccount.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { KObj } from './manifests.ts';

const execFileAsync = promisify(execFile);

export function apiMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const m = (JSON.parse(body) as { message?: string }).message;
      if (m) return m;
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return (e as Error).message ?? String(e);
}

export function statusCode(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown };
  const c = x?.code ?? x?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

/**
 * Server-side apply of each object (in order), with dryRun=All when asked. Objects go through loadYaml
 * first: the generated models of known kinds would otherwise drop wire names (x-kubernetes-*).
 * Returns one error line per object that failed.
 */
export async function apply(kc: KubeConfig, objects: readonly KObj[], opts: { dryRun: boolean; fieldManager?: string }): Promise<string[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const errors: string[] = [];
  for (const o of objects) {
    const model = loadYaml<KubernetesObject>(JSON.stringify(o));
    try {
      await api.patch(model, undefined, opts.dryRun ? 'All' : undefined, opts.fieldManager ?? 'ironlb-deploy-test', true, PatchStrategy.ServerSideApply);
    } catch (e) {
      errors.push(`${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}: ${apiMessage(e)}`);
    }
  }
  return errors;
}

export interface Access {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export const describeAccess = (a: Access): string =>
  `${a.verb} ${a.group ? `${a.resource}.${a.group}` : a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` -n ${a.namespace}` : ' (all namespaces / cluster)'}`;

/** A KubeConfig acting as `user` (Impersonate-User), like kubectl --as. */
export function impersonating(kc: KubeConfig, user: string): KubeConfig {
  const out = new KubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const current = kc.getCurrentUser()!;
  out.loadFromOptions({
    clusters: [cluster],
    users: [{ ...current, name: 'impersonated', impersonateUser: user }],
    contexts: [{ name: 'impersonated', cluster: cluster.name, user: 'impersonated' }],
    currentContext: 'impersonated',
  });
  return out;
}

/** Whether `user` may do `a`: a SelfSubjectAccessReview sent as that user. */
export async function canI(kc: KubeConfig, user: string, a: Access): Promise<boolean> {
  const api = impersonating(kc, user).makeApiClient(AuthorizationV1Api);
  const r = await api.createSelfSubjectAccessReview({
    body: {
      spec: {
        resourceAttributes: {
          verb: a.verb,
          resource: a.resource,
          group: a.group ?? '',
          ...(a.subresource ? { subresource: a.subresource } : {}),
          ...(a.namespace ? { namespace: a.namespace } : {}),
          ...(a.name ? { name: a.name } : {}),
        },
      },
    },
  });
  return r.status?.allowed === true;
}

export const serviceAccountUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;

/** kubectl, if this machine has it (the tests that need it say so when it is missing). */
export function kubectlPath(): string | undefined {
  for (const p of [process.env.IRONLB_KUBECTL, '/usr/bin/kubectl', '/usr/local/bin/kubectl'].filter(Boolean) as string[]) {
    if (existsSync(p)) return p;
  }
  return undefined;
}

export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = kubectlPath();
  if (!bin) throw new Error('kubectl is not installed');
  return new Promise((resolve) => {
    const child = execFile(bin, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | undefined) ?? 1 : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * A kubeconfig file for ServiceAccount `namespace/name`, with a token from the TokenRequest API: the
 * daemons run with exactly the RBAC the manifests grant.
 */
export async function serviceAccountKubeconfig(kc: KubeConfig, namespace: string, name: string, dir: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = tr.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  const cluster = kc.getCurrentCluster()!;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token }],
    contexts: [{ name, cluster: cluster.name, user: name, namespace }],
    currentContext: name,
  });
  const path = join(dir, `${namespace}-${name}.kubeconfig`);
  writeFileSync(path, out.exportConfig(), { mode: 0o600 });
  return path;
}

export { freePort } from '../../src/lab/control-plane.ts';

export { execFileAsync };
