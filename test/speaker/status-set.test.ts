// StatusSet against a real API server: it writes only what changed, a restarted speaker reuses its
// objects without writing them again, an object deleted behind its back comes back, and an empty
// desired set removes everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { StatusSet, nodeLabel, serviceNameLabel, serviceNamespaceLabel, type StatusObject } from '../../src/k8s/speaker-status.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { freshNamespace, testCluster, waitFor } from '../harness/cluster.ts';

interface Listed {
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  status?: { serviceName?: string; peers?: string[] };
}

const node = 'node-a';
const bgpStatus = (name: string, peers: string[]): StatusObject => ({
  id: `bgp/web/${name}`,
  labels: { [serviceNameLabel]: name, [serviceNamespaceLabel]: 'web' },
  status: { node, serviceName: name, serviceNamespace: 'web', peers },
});

describe('StatusSet (real API server)', () => {
  let kc: KubeConfig;
  let ns: string;
  let custom: CustomObjectsApi;
  const sets: StatusSet[] = [];

  const list = async (): Promise<Map<string, Listed>> => {
    const l = (await custom.listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: ns, plural: 'servicebgpstatuses', labelSelector: `${nodeLabel}=${node}` })) as { items: Listed[] };
    return new Map(l.items.map((o) => [o.status?.serviceName ?? `(no status) ${o.metadata.name}`, o]));
  };
  const started = async (): Promise<StatusSet> => {
    const s = new StatusSet(kc, 'servicebgpstatuses', ns, node, silentLogger());
    sets.push(s);
    await s.start();
    return s;
  };

  before(async () => {
    kc = (await testCluster()).kubeConfig();
    custom = kc.makeApiClient(CustomObjectsApi);
    ns = await freshNamespace(kc, 'status-set');
  });
  after(async () => {
    for (const s of sets) await s.stop().catch(() => undefined);
    if (ns) await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('writes the desired objects, then only what changed; a restart reuses them untouched', async () => {
    const first = await started();
    const desired = Array.from({ length: 40 }, (_, i) => bgpStatus(`svc-${i}`, ['router']));
    await first.set(desired);
    const written = await list();
    assert.equal(written.size, 40);
    for (const [name, o] of written) {
      assert.deepEqual(o.status?.peers, ['router'], name);
      assert.equal(o.metadata.labels?.[nodeLabel], node);
      assert.equal(o.metadata.labels?.[serviceNameLabel], name);
    }

    // One status changes, five objects go away; the set is rebuilt from scratch as the speaker does.
    const changed = Array.from({ length: 35 }, (_, i) => bgpStatus(`svc-${i}`, i === 7 ? ['other', 'router'] : ['router']));
    await first.set(changed);
    const after1 = await list();
    assert.deepEqual([...after1.keys()].sort(), changed.map((o) => o.status.serviceName as string).sort());
    assert.deepEqual(after1.get('svc-7')?.status?.peers, ['other', 'router']);
    assert.notEqual(after1.get('svc-7')?.metadata.resourceVersion, written.get('svc-7')?.metadata.resourceVersion);
    for (const [name, o] of after1) {
      if (name !== 'svc-7') assert.equal(o.metadata.resourceVersion, written.get(name)?.metadata.resourceVersion, `${name} was not written again`);
    }

    // A restarted speaker (a new StatusSet) with the same desired state writes nothing.
    await first.stop();
    const second = await started();
    await second.set(changed);
    const after2 = await list();
    for (const [name, o] of after2) assert.equal(o.metadata.resourceVersion, after1.get(name)?.metadata.resourceVersion, `${name} untouched after a restart`);

    // Deleted behind its back: recreated with its status.
    await custom.deleteNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: ns, plural: 'servicebgpstatuses', name: after2.get('svc-3')!.metadata.name });
    await waitFor(async () => (await list()).get('svc-3')?.status?.peers?.[0] === 'router', { timeoutMs: 30_000, what: 'svc-3 recreated with its status' });

    await second.set([]);
    assert.equal((await list()).size, 0);
  });
});
