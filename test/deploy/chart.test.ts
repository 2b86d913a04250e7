// The Helm chart (charts/ironlb): lint, its default rendering equals the static manifests (so the two
// cannot drift apart), each value lands where it should, and every rendering applies with server-side
// dry run against the real API server.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { freshNamespace, testCluster } from '../harness/cluster.ts';
import { apply } from './cluster-ops.ts';
import { type KObj, argValue, chartDir, defaultImage, deployDir, find, helm, isCRD, loadDocs, podSpec, renderChart, staticObjects, withoutChartLabels } from './manifests.ts';

const key = (o: KObj) => `${o.kind}/${o.metadata.name}`;

describe('charts/ironlb: the Helm chart', () => {
  let kc: KubeConfig;
  let ns: string;
  before(async () => {
    kc = (await testCluster()).kubeConfig();
    ns = await freshNamespace(kc, 'chart');
  });

  test('helm lint passes', async () => {
    const { stdout } = await helm(['lint', chartDir, '--strict', '--kube-version', '1.34.0']);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('the default rendering is the static install (labels aside)', async () => {
    const chart = await renderChart('ironlb', 'metallb-system');
    const expected = staticObjects().filter((o) => !isCRD(o) && o.kind !== 'Namespace');
    assert.deepEqual(chart.map(key).sort(), expected.map(key).sort());
    for (const o of expected) assert.deepEqual(withoutChartLabels(find(chart, o.kind, o.metadata.name)), withoutChartLabels(o), key(o));
  });

  test('its CRDs are deploy/crds (the chart links them)', async () => {
    const withCrds = await renderChart('ironlb', 'metallb-system', {}, ['--include-crds']);
    const crds = withCrds.filter(isCRD);
    const files = readdirSync(join(deployDir, 'crds')).filter((f) => f.endsWith('.yaml'));
    assert.equal(crds.length, files.length);
    for (const f of files) {
      const [want] = loadDocs(readFileSync(join(deployDir, 'crds', f), 'utf8'), f);
      assert.deepEqual(find(crds, 'CustomResourceDefinition', want!.metadata.name), want);
    }
  });

  test('values: namespace, lb-class, ports, resources, tolerations, node selectors, mode, image', async () => {
    const objects = await renderChart('edge', 'ignored', {
      namespace: 'lb-system',
      createNamespace: true,
      loadBalancerClass: 'example.com/lb',
      logLevel: 'debug',
      image: { repository: 'registry.example/ironlb', tag: 'dev' },
      webhook: { port: 10443, failurePolicy: 'Ignore' },
      controller: { metricsPort: 17472, resources: { requests: { cpu: '10m', memory: '50Mi' } }, nodeSelector: { role: 'infra' }, tolerations: [{ key: 'infra', operator: 'Exists' }] },
      speaker: { mode: 'layer2', metricsPort: 17473, memberlist: { port: 17946 }, nodeSelector: { edge: 'true' }, tolerations: [{ operator: 'Exists' }], resources: { limits: { memory: '1Gi' } } },
    });
    assert.equal(find(objects, 'Namespace', 'lb-system').metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const o of objects.filter((x) => x.metadata.namespace !== undefined)) assert.equal(o.metadata.namespace, 'lb-system', key(o));
    const controller = podSpec(find(objects, 'Deployment', 'edge-ironlb-controller'));
    const c = controller.containers[0]!;
    assert.equal(c.image, 'registry.example/ironlb:dev');
    assert.equal(argValue(c, 'lb-class'), 'example.com/lb');
    assert.equal(argValue(c, 'log-level'), 'debug');
    assert.equal(argValue(c, 'metrics-port'), '17472');
    assert.equal(argValue(c, 'webhook-port'), '10443');
    assert.equal(argValue(c, 'webhook-service'), 'edge-ironlb-webhook-service');
    assert.deepEqual(c.ports.map((p) => p.containerPort), [17472, 10443]);
    assert.deepEqual(c.resources, { requests: { cpu: '10m', memory: '50Mi' }, limits: { memory: '384Mi' } }, 'merged with the defaults');
    assert.deepEqual((controller as unknown as { nodeSelector: unknown }).nodeSelector, { 'kubernetes.io/os': 'linux', role: 'infra' });
    assert.deepEqual(controller.tolerations, [{ key: 'infra', operator: 'Exists' }]);
    const speaker = podSpec(find(objects, 'DaemonSet', 'edge-ironlb-speaker'));
    const s = speaker.containers[0]!;
    assert.equal(argValue(s, 'lb-class'), 'example.com/lb');
    assert.equal(argValue(s, 'metrics-port'), '17473');
    assert.equal(argValue(s, 'memberlist-port'), '17946');
    assert.deepEqual(s.ports.map((p) => `${p.containerPort}/${p.protocol}`), ['17473/TCP', '17946/UDP']);
    assert.deepEqual(s.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_RAW'] }, 'layer2 mode: no NET_BIND_SERVICE');
    assert.equal(argValue(s, 'bgp-listen'), '0', 'layer2 mode: no BGP listener on port 179');
    assert.ok(!s.args.includes('--no-layer2'));
    assert.deepEqual(s.resources, { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '1Gi' } });
    assert.deepEqual(speaker.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual((speaker as unknown as { nodeSelector: unknown }).nodeSelector, { 'kubernetes.io/os': 'linux', edge: 'true' });
    const vwc = find(objects, 'ValidatingWebhookConfiguration', 'edge-ironlb-webhook-configuration') as unknown as { webhooks: { failurePolicy: string; clientConfig: { service: { namespace: string; name: string } } }[] };
    assert.equal(vwc.webhooks[0]!.failurePolicy, 'Ignore');
    assert.deepEqual(vwc.webhooks[0]!.clientConfig.service, { name: 'edge-ironlb-webhook-service', namespace: 'lb-system', path: '/validate', port: 443 });
    const role = find(objects, 'Role', 'edge-ironlb-controller') as unknown as { rules: { resources: string[]; resourceNames?: string[] }[] };
    assert.deepEqual(role.rules.find((r) => r.resources.includes('secrets'))?.resourceNames, ['edge-ironlb-webhook-cert', 'edge-ironlb-memberlist']);
    const binding = find(objects, 'ClusterRoleBinding', 'edge-ironlb-speaker') as unknown as { subjects: { namespace: string; name: string }[] };
    assert.deepEqual(binding.subjects.map((x) => `${x.namespace}/${x.name}`), ['lb-system/edge-ironlb-speaker']);

    const bgp = podSpec(find(await renderChart('edge', 'x', { speaker: { mode: 'bgp' } }), 'DaemonSet', 'edge-ironlb-speaker'));
    assert.deepEqual(bgp.containers[0]!.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    assert.ok(bgp.containers[0]!.args.includes('--no-layer2'), 'bgp mode: no ARP/NDP');
    assert.equal(argValue(bgp.containers[0]!, 'bgp-listen'), undefined);
  });

  test('webhook disabled: no webhook objects, no rights for them, the controller told so', async () => {
    const objects = await renderChart('ironlb', 'metallb-system', { webhook: { enabled: false } });
    assert.ok(!objects.some((o) => o.kind === 'ValidatingWebhookConfiguration' || o.metadata.name.includes('webhook')));
    const c = podSpec(find(objects, 'Deployment', 'ironlb-controller')).containers[0]!;
    assert.equal(argValue(c, 'webhook-mode'), 'disabled');
    assert.deepEqual(c.ports.map((p) => p.name), ['metrics']);
    const clusterRole = find(objects, 'ClusterRole', 'ironlb-controller') as unknown as { rules: { resources: string[] }[] };
    assert.ok(!clusterRole.rules.some((r) => r.resources.includes('validatingwebhookconfigurations')));
    const onlyController = await renderChart('ironlb', 'metallb-system', { speaker: { enabled: false } });
    assert.ok(!onlyController.some((o) => o.metadata.name.includes('speaker') && o.kind !== 'Secret'));
  });

  test('invalid values are refused by the chart schema', async () => {
    await assert.rejects(renderChart('ironlb', 'x', { speaker: { mode: 'arp' } }), /'\/speaker\/mode': value must be one of 'all', 'layer2', 'bgp'/);
    await assert.rejects(renderChart('ironlb', 'x', { webhook: { failurePolicy: 'Sometimes' } }), /failurePolicy/);
  });

  test('renderings apply with server-side dry run', async () => {
    for (const values of [{}, { loadBalancerClass: 'x.example/lb', speaker: { mode: 'bgp' } }, { webhook: { enabled: false } }]) {
      const objects = await renderChart('dryrun', ns, values);
      assert.ok(objects.some((o) => o.kind === 'Deployment'));
      assert.deepEqual(await apply(kc, objects, { dryRun: true }), [], JSON.stringify(values));
    }
  });

  test('the values file documents every value the templates use', () => {
    const values = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    const used = new Set<string>();
    for (const f of readdirSync(join(chartDir, 'templates'))) {
      for (const m of readFileSync(join(chartDir, 'templates', f), 'utf8').matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) used.add(m[1]!.split('.').pop()!);
    }
    for (const v of used) assert.match(values, new RegExp(`^\\s*${v}:`, 'm'), `values.yaml has ${v}`);
    assert.match(values, new RegExp(`repository: ${defaultImage.split(':')[0]!.replace(/\./g, '\\.')}$`, 'm'), 'the default image is the manifests\' image');
  });
});
