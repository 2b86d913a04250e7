import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { freshNamespace, testCluster, waitFor } from './cluster.ts';

const cluster = await testCluster();
after(() => cluster.stop());

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

test('creates a namespace and a ConfigMap, and reads it back', async () => {
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await freshNamespace(kc, 'harness-cm');
  assert.match(ns, /^harness-cm-[0-9a-f]{8}$/);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'probe' }, data: { answer: '42' } } });
  const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'probe' });
  assert.deepEqual(cm.data, { answer: '42' });
  const system = await core.readNamespace({ name: 'metallb-system' });
  assert.equal(system.metadata?.name, 'metallb-system');
});

test('RBAC is enforced: an unbound service account may not list secrets', async () => {
  const admin = cluster.kubeConfig();
  const user = admin.getCurrentUser()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: [{ ...user, name: 'nobody', impersonateUser: 'system:serviceaccount:default:nobody' }],
    contexts: [{ name: 'nobody', cluster: admin.getCurrentCluster()!.name, user: 'nobody' }],
    currentContext: 'nobody',
  });
  await assert.rejects(
    kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'default' }),
    (e: unknown) => {
      assert.equal(code(e), 403, `expected 403, got ${code(e)}: ${(e as Error).message}`);
      assert.match(String((e as { body?: unknown }).body), /system:serviceaccount:default:nobody/);
      return true;
    },
  );
  // ... while the admin may.
  await admin.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'default' });
});

test('a dual-stack LoadBalancer Service gets an IPv4 and an IPv6 cluster IP', async () => {
  const kc = cluster.kubeConfig();
  const ns = await freshNamespace(kc, 'harness-svc');
  const svc = await kc.makeApiClient(CoreV1Api).createNamespacedService({
    namespace: ns,
    body: {
      metadata: { name: 'dual' },
      spec: {
        type: 'LoadBalancer',
        ipFamilyPolicy: 'RequireDualStack',
        ipFamilies: ['IPv4', 'IPv6'],
        selector: { app: 'dual' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    },
  });
  const ips = svc.spec?.clusterIPs ?? [];
  assert.equal(ips.length, 2, `clusterIPs: ${JSON.stringify(ips)}`);
  assert.ok(isIPv4(ips[0]!), `${ips[0]} is IPv4`);
  assert.ok(isIPv6(ips[1]!), `${ips[1]} is IPv6`);
  assert.deepEqual(svc.spec?.ipFamilies, ['IPv4', 'IPv6']);
  assert.ok((svc.spec?.ports?.[0]?.nodePort ?? 0) > 0, 'a LoadBalancer Service gets a node port');
});

const crdDir = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));
const haveCrds = existsSync(crdDir) && readdirSync(crdDir).some((f) => /\.ya?ml$/.test(f));

test('the metallb.io CRDs from deploy/crds are served', { skip: !haveCrds && 'deploy/crds is empty' }, async () => {
  const kc = cluster.kubeConfig();
  const crd = await waitFor(
    async () => {
      try {
        return await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'ipaddresspools.metallb.io' });
      } catch (e) {
        if (code(e) === 404) return undefined;
        throw e;
      }
    },
    { what: 'CRD ipaddresspools.metallb.io', timeoutMs: 5000 },
  );
  assert.ok(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
  const version = crd.spec.versions.find((v) => v.storage)!.name;
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: 'metallb.io',
    version,
    namespace: 'metallb-system',
    plural: 'ipaddresspools',
  })) as { items?: unknown[] };
  assert.ok(Array.isArray(list.items));
});

test('waitFor names what it waited for on timeout', async () => {
  await assert.rejects(
    waitFor(() => false, { what: 'the impossible', timeoutMs: 150, intervalMs: 20 }),
    /timed out after 150 ms waiting for the impossible \(last result: false\)/,
  );
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { what: 'three calls', intervalMs: 1 }), 3);
});
