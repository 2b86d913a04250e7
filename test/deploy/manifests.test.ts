// The static install (deploy/): what is in it, that it is consistent, and that the real API server accepts
// every object (server-side apply, dry run). The kustomize base renders the same objects, and an overlay
// can move everything to another namespace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { sourceLists } from '../../src/config/sources.ts';
import { testCluster } from '../harness/cluster.ts';
import { apply, kubectl, kubectlPath } from './cluster-ops.ts';
import { type KObj, allInOnePath, allInOneText, argValue, defaultImage, deployDir, find, isCRD, kustomizationResources, loadDocs, packageVersion, podSpec, staticObjects } from './manifests.ts';

/** The plural resource names of the configuration kinds the parser reads. */
const configPlurals = sourceLists.map(([kind]) => `${kind.toLowerCase()}s`).map((p) => p.replace(/ys$/, 'ies')).sort();

describe('deploy/: the static manifests', () => {
  let kc: KubeConfig;
  before(async () => {
    kc = (await testCluster()).kubeConfig();
  });

  test('the kustomize base lists every CRD and manifest file', () => {
    const listed = [...kustomizationResources()].sort();
    const onDisk = [
      ...readdirSync(join(deployDir, 'crds')).filter((f) => f.endsWith('.yaml')).map((f) => `crds/${f}`),
      ...readdirSync(join(deployDir, 'manifests')).filter((f) => f.endsWith('.yaml')).map((f) => `manifests/${f}`),
    ].sort();
    assert.deepEqual(listed, onDisk);
  });

  test('deploy/ironlb.yaml is up to date (IRONLB_UPDATE_MANIFEST=1 rewrites it)', () => {
    const want = allInOneText();
    if (process.env.IRONLB_UPDATE_MANIFEST) writeFileSync(allInOnePath, want);
    assert.equal(readFileSync(allInOnePath, 'utf8'), want, `${relative(process.cwd(), allInOnePath)} is stale: run IRONLB_UPDATE_MANIFEST=1 npm test -- test/deploy/manifests`);
  });

  test('every CRD version has an OpenAPI schema and printer columns', () => {
    for (const crd of staticObjects().filter(isCRD)) {
      const versions = (crd as unknown as { spec: { versions: { name: string; schema?: { openAPIV3Schema?: unknown }; additionalPrinterColumns?: unknown[] }[] } }).spec.versions;
      for (const v of versions) {
        assert.ok(v.schema?.openAPIV3Schema, `${crd.metadata.name} ${v.name}: schema`);
        assert.ok((v.additionalPrinterColumns ?? []).length > 0, `${crd.metadata.name} ${v.name}: printer columns`);
      }
    }
  });

  test('every object applies with server-side dry run', async () => {
    const objects = staticObjects();
    assert.equal(objects.filter(isCRD).length, 10);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Secret', 'Deployment', 'DaemonSet', 'Service', 'ValidatingWebhookConfiguration']) {
      assert.ok(kinds.has(k), `has a ${k}`);
    }
    assert.deepEqual(await apply(kc, objects, { dryRun: true }), []);
    // The check has teeth: a broken object is refused.
    const broken = structuredClone(find(objects, 'DaemonSet', 'ironlb-speaker'));
    podSpec(broken).containers[0]!.ports[0]!.containerPort = 70000;
    const errors = await apply(kc, [broken], { dryRun: true });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /containerPort/);
  });

  test('the speaker: host network, all capabilities dropped but NET_RAW and NET_BIND_SERVICE, probes, ports, resources', () => {
    const ds = find(staticObjects(), 'DaemonSet', 'ironlb-speaker');
    const spec = podSpec(ds);
    assert.equal(spec.hostNetwork, true);
    const c = spec.containers[0]!;
    assert.equal(c.args[0], 'speaker');
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'NET_BIND_SERVICE'] });
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.runAsUser, 0, 'root: Kubernetes grants added capabilities to root processes only');
    assert.deepEqual(
      c.ports.map((p) => `${p.name}=${p.containerPort}/${p.protocol}`),
      ['metrics=7473/TCP', 'memberlist=7946/UDP'],
    );
    assert.equal(argValue(c, 'metrics-port'), '7473');
    assert.equal(argValue(c, 'memberlist-port'), '7946');
    assert.equal(argValue(c, 'memberlist-secret'), 'ironlb-memberlist');
    assert.equal(argValue(c, 'node-name'), '$(NODE_NAME)');
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory);
    assert.ok((spec.tolerations ?? []).length > 0, 'runs on control-plane nodes too');
  });

  test('the controller: non-root, no capabilities, read-only root, probes, ports, resources, webhook wiring', () => {
    const objects = staticObjects();
    const spec = podSpec(find(objects, 'Deployment', 'ironlb-controller'));
    assert.equal(spec.hostNetwork, undefined);
    assert.deepEqual([spec.securityContext?.runAsNonRoot, spec.securityContext?.runAsUser], [true, 65532]);
    const c = spec.containers[0]!;
    assert.equal(c.args[0], 'controller');
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(c.ports.map((p) => `${p.name}=${p.containerPort}/${p.protocol}`), ['metrics=7472/TCP', 'webhook=9443/TCP']);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory);
    assert.equal(argValue(c, 'namespace'), '$(POD_NAMESPACE)');
    assert.equal(argValue(c, 'webhook-mode'), 'enabled');
    // The names in the flags are the objects that exist, and the RBAC names exactly those.
    const service = find(objects, 'Service', argValue(c, 'webhook-service')!) as unknown as { spec: { ports: { port: number; targetPort: string }[] } };
    assert.deepEqual(service.spec.ports.map((p) => [p.port, p.targetPort]), [[443, 'webhook']]);
    find(objects, 'Secret', argValue(c, 'webhook-secret')!);
    find(objects, 'Secret', argValue(c, 'memberlist-secret')!);
    const vwc = find(objects, 'ValidatingWebhookConfiguration', argValue(c, 'webhook-configuration')!) as unknown as {
      webhooks: { clientConfig: { service: { name: string; namespace: string; port: number } }; rules: { resources: string[]; apiVersions: string[]; operations: string[] }[]; failurePolicy: string; sideEffects: string }[];
    };
    assert.equal(vwc.webhooks.length, 1);
    const hook = vwc.webhooks[0]!;
    assert.deepEqual(hook.clientConfig.service, { name: 'ironlb-webhook-service', namespace: 'metallb-system', path: '/validate', port: 443 });
    assert.deepEqual([...hook.rules[0]!.resources].sort(), configPlurals, 'the webhook sees every configuration kind');
    assert.deepEqual(hook.rules[0]!.operations, ['CREATE', 'UPDATE', 'DELETE']);
    assert.deepEqual(hook.rules[0]!.apiVersions, ['v1beta1', 'v1beta2']);
    assert.equal(hook.sideEffects, 'None');
    const role = find(objects, 'Role', 'ironlb-controller') as unknown as { rules: { resources: string[]; resourceNames?: string[] }[] };
    assert.deepEqual(role.rules.find((r) => r.resources.includes('secrets'))?.resourceNames, ['ironlb-webhook-cert', 'ironlb-memberlist']);
    const clusterRole = find(objects, 'ClusterRole', 'ironlb-controller') as unknown as { rules: { resources: string[]; resourceNames?: string[] }[] };
    assert.deepEqual(clusterRole.rules.find((r) => r.resources.includes('validatingwebhookconfigurations'))?.resourceNames, ['ironlb-webhook-configuration']);
  });

  test('images and versions agree', () => {
    for (const o of staticObjects().filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      for (const c of podSpec(o).containers) assert.equal(c.image, defaultImage, `${o.kind} ${o.metadata.name}`);
    }
    const chart = readFileSync(join(deployDir, '..', 'charts', 'ironlb', 'Chart.yaml'), 'utf8');
    assert.match(chart, new RegExp(`^appVersion: "${packageVersion.replace(/\./g, '\\.')}"$`, 'm'));
  });

  test('kubectl kustomize renders the same objects as deploy/ironlb.yaml', { skip: kubectlPath() ? false : 'kubectl is not installed' }, async () => {
    const cluster = await testCluster();
    const r = await kubectl(cluster.kubeconfigPath, ['kustomize', deployDir]);
    assert.equal(r.code, 0, r.stderr);
    const key = (o: KObj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const byKey = (list: KObj[]) => new Map(list.map((o) => [key(o), o]));
    const rendered = byKey(loadDocs(r.stdout, 'kubectl kustomize'));
    const expected = byKey(staticObjects());
    assert.deepEqual([...rendered.keys()].sort(), [...expected.keys()].sort());
    for (const [k, o] of expected) assert.deepEqual(rendered.get(k), o, k);
  });

  describe('a kustomize overlay', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ironlb-overlay-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('moves everything to another namespace and image', { skip: kubectlPath() ? false : 'kubectl is not installed' }, async () => {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'namespace: lb-system',
          'resources:',
          `  - ${relative(dir, deployDir)}`,
          'images:',
          '  - name: ghcr.io/ironlb/ironlb',
          '    newName: registry.example/ironlb',
          '    newTag: dev',
          '',
        ].join('\n'),
      );
      const cluster = await testCluster();
      const r = await kubectl(cluster.kubeconfigPath, ['kustomize', dir]);
      assert.equal(r.code, 0, r.stderr);
      const objects = loadDocs(r.stdout, 'overlay');
      const notCRDs = objects.filter((o) => !isCRD(o));
      assert.ok(!JSON.stringify(notCRDs).includes('metallb-system'), 'no object still names metallb-system');
      assert.equal(find(objects, 'Namespace', 'lb-system').metadata.name, 'lb-system');
      for (const o of notCRDs.filter((x) => x.metadata.namespace !== undefined)) assert.equal(o.metadata.namespace, 'lb-system', `${o.kind} ${o.metadata.name}`);
      for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
        assert.equal(podSpec(o).containers[0]!.image, 'registry.example/ironlb:dev');
      }
    });
  });
});
