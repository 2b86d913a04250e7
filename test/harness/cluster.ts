// What integration tests use: one API server per test run (shared, started by scripts/test.mjs and
// passed as IRONLB_TEST_KUBECONFIG) or, when a test file runs alone, a private one for this process.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from './apiserver.ts';

export interface TestCluster {
  kubeconfigPath: string;
  server: string;
  /** A fresh KubeConfig for this cluster (callers may mutate it, e.g. to impersonate). */
  kubeConfig(): KubeConfig;
  /** Stops a private control plane; a no-op on the shared one. */
  stop(): Promise<void>;
  /** True when this is the server shared by the whole test run. */
  shared: boolean;
}

let privatePlane: Promise<ControlPlane> | undefined;

/**
 * The cluster for this test process. With IRONLB_TEST_KUBECONFIG set, that server (stop() is a no-op);
 * otherwise one private control plane per process, started on first call and stopped at process exit
 * (or by stop()).
 */
export async function testCluster(): Promise<TestCluster> {
  const shared = process.env.IRONLB_TEST_KUBECONFIG;
  if (shared) {
    const kubeConfig = (): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromFile(shared);
      return kc;
    };
    const server = kubeConfig().getCurrentCluster()?.server;
    if (!server) throw new Error(`IRONLB_TEST_KUBECONFIG=${shared}: no current cluster`);
    return { kubeconfigPath: shared, server, kubeConfig, stop: async () => {}, shared: true };
  }
  privatePlane ??= startControlPlane().catch((e: unknown) => {
    privatePlane = undefined;
    throw e;
  });
  const cp = await privatePlane;
  return {
    kubeconfigPath: cp.kubeconfigPath,
    server: cp.server,
    kubeConfig: cp.kubeConfig,
    stop: async () => {
      privatePlane = undefined;
      await cp.stop();
    },
    shared: false,
  };
}

/** Creates a namespace named `<prefix>-<random>` (labelled ironlb.test=true) and returns its name. */
export async function freshNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const base = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({
    body: { metadata: { name, labels: { 'ironlb.test': 'true' } } },
  });
  return name;
}

export interface WaitOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Default 100 ms. */
  intervalMs?: number;
  /** What we wait for, named in the timeout error ("service to get an IP"). */
  what: string;
}

/**
 * Calls `fn` until it returns a value other than undefined/null/false (which is returned) or the
 * timeout passes; then throws `timed out after N ms waiting for <what>` with fn's last error or value.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as Exclude<T, undefined | null | false>;
      last = `last result: ${String(v)}`;
    } catch (e) {
      last = `last error: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what} (${last})`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
