// src/k8s/api.ts and src/k8s/watch-cache.ts against the real API server: the verbs the daemons use,
// errors that carry the HTTP status and the server's message, paging, and a cache that follows changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, KubeApi } from '../../src/k8s/api.ts';
import { waitForMemberlistKey } from '../../src/k8s/memberlist-key.ts';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.ts';
import { WatchCache } from '../../src/k8s/watch-cache.ts';
import { createLogger } from '../../src/log/logger.ts';
import { freshNamespace, testCluster, waitFor } from '../harness/cluster.ts';

interface ConfigMap {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; resourceVersion?: string; managedFields?: object[] };
  data?: Record<string, string>;
}

describe('KubeApi and WatchCache (real API server)', () => {
  let api: KubeApi;
  let kubeconfigPath: string;
  let ns: string;
  const cm = (name?: string) => ({ apiVersion: 'v1', plural: 'configmaps', namespace: ns, name });

  before(async () => {
    const cluster = await testCluster();
    kubeconfigPath = cluster.kubeconfigPath;
    api = new KubeApi(loadKubeConfig(kubeconfigPath));
    ns = await freshNamespace(cluster.kubeConfig(), 'kube-api');
  });
  after(async () => {
    await api.delete({ apiVersion: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
  });

  test('create, get, merge patch (null removes), replace, delete; errors name the status and the object', async () => {
    const created = await api.create<ConfigMap>(cm(), { metadata: { name: 'a', annotations: { keep: '1', drop: '2' } }, data: { x: '1' } });
    assert.equal(created.metadata?.name, 'a');
    const dup = await api.create(cm(), { metadata: { name: 'a' } }).catch((e: unknown) => e);
    assert.ok(dup instanceof ApiError);
    assert.equal(dup.code, 409);
    assert.equal(dup.reason, 'AlreadyExists');
    assert.match(dup.message, /configmaps "a" already exists/);

    const patched = await api.mergePatch<ConfigMap>(cm('a'), { metadata: { annotations: { drop: null } }, data: { y: '2' } });
    assert.deepEqual(patched.metadata?.annotations, { keep: '1' });
    assert.deepEqual(patched.data, { x: '1', y: '2' });

    const got = await api.get<ConfigMap>(cm('a'));
    const replaced = await api.replace<ConfigMap>(cm('a'), { ...got, data: { z: '3' } });
    assert.deepEqual(replaced.data, { z: '3' });
    // A replace of a stale version is a conflict, not a silent overwrite.
    const stale = await api.replace(cm('a'), { ...got, data: { z: '4' } }).catch((e: unknown) => e);
    assert.equal((stale as ApiError).code, 409);

    await api.delete(cm('a'));
    const missing = await api.get(cm('a')).catch((e: unknown) => e);
    assert.ok(missing instanceof ApiError);
    assert.equal(missing.code, 404);
    assert.match(missing.message, /GET .*\/configmaps\/a: HTTP 404: configmaps "a" not found/);
  });

  test('list follows continue tokens past one page', async () => {
    const n = 620; // pages are 500
    for (let i = 0; i < n; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => api.create(cm(), { metadata: { name: `p-${i + j}` } })));
    }
    const list = await api.list<ConfigMap>(cm());
    const names = new Set(list.items.map((o) => o.metadata?.name));
    for (let i = 0; i < n; i++) assert.ok(names.has(`p-${i}`), `p-${i}`);
    assert.ok(list.metadata?.resourceVersion);
  });

  test('WatchCache: lists, then follows adds, updates and deletes; objects come without managedFields', async (t) => {
    await api.create(cm(), { metadata: { name: 'w-before' } });
    const cache = new WatchCache<ConfigMap & { metadata: { name: string } }>(
      loadKubeConfig(kubeconfigPath),
      { apiVersion: 'v1', plural: 'configmaps', namespace: ns },
      createLogger('error', 'test'),
    );
    const seen: string[] = [];
    cache.onChange((kind, o) => {
      if (o.metadata?.name?.startsWith('w-')) seen.push(`${kind} ${o.metadata.name}`);
    });
    await cache.start();
    t.after(() => cache.stop());
    assert.ok(cache.get('w-before', ns));
    assert.equal(cache.get('w-before', ns)?.metadata?.managedFields, undefined);

    await api.create(cm(), { metadata: { name: 'w-new' }, data: { v: '1' } });
    await api.mergePatch(cm('w-new'), { data: { v: '2' } });
    await api.delete(cm('w-before'));
    await waitFor(() => cache.get('w-new', ns)?.data?.v === '2' && !cache.get('w-before', ns), { what: 'the cache to follow the changes' });
    assert.deepEqual(seen, ['add w-before', 'add w-new', 'update w-new', 'delete w-before']);
  });

  test('WatchCache with a projection: listed and watched objects are cached and handed on projected', async (t) => {
    await api.create(cm(), { metadata: { name: 'p-before', annotations: { big: 'x'.repeat(1000) } }, data: { keep: '1', drop: '2' } });
    const project = (o: ConfigMap): ConfigMap => ({
      metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion },
      data: { keep: o.data?.keep ?? '' },
    });
    const cache = new WatchCache<ConfigMap & { metadata: { name: string } }>(
      loadKubeConfig(kubeconfigPath),
      { apiVersion: 'v1', plural: 'configmaps', namespace: ns },
      createLogger('error', 'test'),
      { project: project as (o: ConfigMap & { metadata: { name: string } }) => ConfigMap & { metadata: { name: string } } },
    );
    const handed: ConfigMap[] = [];
    cache.onChange((_kind, o) => handed.push(o));
    await cache.start();
    t.after(() => cache.stop());
    assert.deepEqual(cache.get('p-before', ns)?.data, { keep: '1' }, 'listed: projected');
    assert.equal(cache.get('p-before', ns)?.metadata?.annotations, undefined);
    await api.create(cm(), { metadata: { name: 'p-new', annotations: { big: 'y' } }, data: { keep: '3', drop: '4' } });
    await waitFor(() => cache.get('p-new', ns), { what: 'the watched object' });
    assert.deepEqual(cache.get('p-new', ns)?.data, { keep: '3' }, 'watched: projected');
    assert.ok(handed.length >= 2 && handed.every((o) => o.data?.drop === undefined && o.metadata?.annotations === undefined), 'listeners get the projection');
    // The projection keeps resourceVersion: an update is still seen as one.
    await api.mergePatch(cm('p-new'), { data: { keep: '5' } });
    await waitFor(() => cache.get('p-new', ns)?.data?.keep === '5', { what: 'the update' });
  });

  test('WatchCache of a kind that is not installed is synced and empty, not an error', async (t) => {
    const cache = new WatchCache(loadKubeConfig(kubeconfigPath), { apiVersion: 'example.ironlb.test/v1', plural: 'widgets' }, createLogger('error', 'test'));
    await cache.start(5_000);
    t.after(() => cache.stop());
    assert.equal(cache.isSynced(), true);
    assert.equal(cache.list().length, 0);
  });
});

describe('waitForMemberlistKey (real API server)', () => {
  test('waits while the Secret is missing or empty, then returns its decoded key; an abort ends the wait', async (t) => {
    const cluster = await testCluster();
    const api = new KubeApi(loadKubeConfig(cluster.kubeconfigPath));
    const ns = await freshNamespace(cluster.kubeConfig(), 'memberlist-key');
    t.after(() => api.delete({ apiVersion: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined));
    const warnings: string[] = [];
    const log = createLogger('error', 'test');
    const recording = Object.assign(Object.create(log), { warn: (_: unknown, msg: string) => warnings.push(msg) });
    let resolved: string | undefined;
    const waiting = waitForMemberlistKey(api, ns, 'memberlist', recording, { pollMs: 50, logEveryMs: 60_000 }).then((k) => (resolved = k));
    await waitFor(() => warnings.length > 0, { what: 'the wait to be logged' });
    assert.match(warnings[0]!, /does not exist yet/);
    await api.create({ apiVersion: 'v1', plural: 'secrets', namespace: ns }, { metadata: { name: 'memberlist' } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(resolved, undefined, 'an empty Secret is still waited for');
    await api.mergePatch({ apiVersion: 'v1', plural: 'secrets', namespace: ns, name: 'memberlist' }, { data: { secretkey: Buffer.from('s3cret').toString('base64') } });
    assert.equal(await waiting, 's3cret');
    // A shutdown while waiting ends the wait.
    await assert.rejects(waitForMemberlistKey(api, ns, 'absent', log, { pollMs: 20, signal: AbortSignal.timeout(100) }), /gave up waiting for Secret .*\/absent/);
  });
});
