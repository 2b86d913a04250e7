// Least privilege, checked against the real API server's RBAC authorizer: the static manifests' RBAC and
// the chart's (in a fresh namespace) are applied for real, then every permission each daemon needs is
// allowed, and what it must not do is denied, asked as its ServiceAccount (impersonation and
// SelfSubjectAccessReview: `kubectl auth can-i --as system:serviceaccount:NS:NAME`). kubectl itself
// confirms the answers where it is installed, and a few real requests are made with the accounts' tokens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { freshNamespace, testCluster } from '../harness/cluster.ts';
import { type Access, apply, canI, describeAccess, kubectl, kubectlPath, serviceAccountKubeconfig, serviceAccountUser, statusCode } from './cluster-ops.ts';
import { type KObj, renderChart, staticObjects } from './manifests.ts';

const rbacKinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Secret']);
const configKinds = ['ipaddresspools', 'l2advertisements', 'bgpadvertisements', 'bgppeers', 'communities', 'bfdprofiles'];
const statusKinds = ['servicel2statuses', 'servicebgpstatuses', 'bgpsessionstates'];
const m = 'metallb.io';

interface Install {
  namespace: string;
  controller: string;
  speaker: string;
  webhookSecret: string;
  memberlistSecret: string;
  webhookConfiguration: string;
}

type Expectation = [allowed: boolean, access: Access];

/** What each daemon may and may not do, for an install in `i.namespace`; `other` is any other namespace. */
function expectations(i: Install, other: string): { controller: Expectation[]; speaker: Expectation[] } {
  const ns = i.namespace;
  const yes = (a: Access): Expectation => [true, a];
  const no = (a: Access): Expectation => [false, a];
  const controller: Expectation[] = [
    ...['get', 'list', 'watch', 'patch'].map((verb) => yes({ verb, resource: 'services', namespace: other })),
    yes({ verb: 'list', resource: 'services' }),
    yes({ verb: 'patch', resource: 'services', subresource: 'status', namespace: other }),
    yes({ verb: 'update', resource: 'services', subresource: 'status', namespace: other }),
    ...['get', 'list', 'watch'].map((verb) => yes({ verb, resource: 'namespaces' })),
    yes({ verb: 'list', resource: 'nodes' }),
    yes({ verb: 'watch', resource: 'nodes' }),
    yes({ verb: 'create', resource: 'events', namespace: other }),
    yes({ verb: 'patch', resource: 'events', namespace: other }),
    ...configKinds.flatMap((resource) => ['get', 'list', 'watch'].map((verb) => yes({ verb, resource, group: m, namespace: ns }))),
    yes({ verb: 'patch', resource: 'ipaddresspools', subresource: 'status', group: m, namespace: ns }),
    ...['create', 'get', 'patch'].map((verb) => yes({ verb, resource: 'configurationstates', group: m, namespace: ns })),
    yes({ verb: 'patch', resource: 'configurationstates', subresource: 'status', group: m, namespace: ns }),
    ...['get', 'list', 'watch'].map((verb) => yes({ verb, resource: 'configmaps', namespace: ns, name: 'config' })),
    ...[i.webhookSecret, i.memberlistSecret].flatMap((name) => ['get', 'update', 'patch'].map((verb) => yes({ verb, resource: 'secrets', namespace: ns, name }))),
    ...['get', 'update', 'patch'].map((verb) => yes({ verb, resource: 'validatingwebhookconfigurations', group: 'admissionregistration.k8s.io', name: i.webhookConfiguration })),
    // Denied: Secrets it does not own, or any Secret elsewhere; creating or deleting Secrets.
    ...['get', 'update'].map((verb) => no({ verb, resource: 'secrets', namespace: ns, name: 'bgp-password' })),
    ...['list', 'watch', 'create'].map((verb) => no({ verb, resource: 'secrets', namespace: ns })),
    no({ verb: 'delete', resource: 'secrets', namespace: ns, name: i.webhookSecret }),
    no({ verb: 'get', resource: 'secrets', namespace: other, name: i.webhookSecret }),
    no({ verb: 'list', resource: 'secrets' }),
    // Denied: changing Services beyond the annotation and status, or the configuration itself.
    ...['create', 'update', 'delete'].map((verb) => no({ verb, resource: 'services', namespace: other, name: 'x' })),
    ...configKinds.flatMap((resource) => ['create', 'update', 'patch', 'delete'].map((verb) => no({ verb, resource, group: m, namespace: ns, name: 'x' }))),
    // Denied: other namespaces' configuration.
    ...configKinds.flatMap((resource) => ['list', 'create'].map((verb) => no({ verb, resource, group: m, namespace: other }))),
    no({ verb: 'list', resource: 'ipaddresspools', group: m }),
    // Denied: other ConfigMaps, other webhook configurations, things it never uses.
    no({ verb: 'get', resource: 'configmaps', namespace: ns, name: 'kube-root-ca.crt' }),
    no({ verb: 'list', resource: 'configmaps', namespace: ns }),
    ...['get', 'update'].map((verb) => no({ verb, resource: 'validatingwebhookconfigurations', group: 'admissionregistration.k8s.io', name: 'someone-elses' })),
    no({ verb: 'list', resource: 'validatingwebhookconfigurations', group: 'admissionregistration.k8s.io' }),
    no({ verb: 'create', resource: 'validatingwebhookconfigurations', group: 'admissionregistration.k8s.io' }),
    no({ verb: 'update', resource: 'nodes', name: 'n1' }),
    no({ verb: 'list', resource: 'pods', namespace: ns }),
    no({ verb: 'create', resource: 'servicel2statuses', group: m, namespace: ns }),
  ];
  const speaker: Expectation[] = [
    ...['services', 'nodes', 'namespaces'].flatMap((resource) => ['get', 'list', 'watch'].map((verb) => yes({ verb, resource }))),
    ...['list', 'watch'].map((verb) => yes({ verb, resource: 'endpointslices', group: 'discovery.k8s.io' })),
    yes({ verb: 'create', resource: 'events', namespace: other }),
    ...['list', 'watch'].map((verb) => yes({ verb, resource: 'pods', namespace: ns })),
    ...['get', 'list', 'watch'].map((verb) => yes({ verb, resource: 'secrets', namespace: ns })),
    yes({ verb: 'get', resource: 'secrets', namespace: ns, name: i.memberlistSecret }),
    ...configKinds.flatMap((resource) => ['get', 'list', 'watch'].map((verb) => yes({ verb, resource, group: m, namespace: ns }))),
    yes({ verb: 'get', resource: 'configmaps', namespace: ns, name: 'config' }),
    ...statusKinds.flatMap((resource) => ['create', 'get', 'list', 'watch', 'patch', 'delete'].map((verb) => yes({ verb, resource, group: m, namespace: ns }))),
    ...statusKinds.map((resource) => yes({ verb: 'patch', resource, subresource: 'status', group: m, namespace: ns })),
    ...['create', 'get', 'patch'].map((verb) => yes({ verb, resource: 'configurationstates', group: m, namespace: ns })),
    yes({ verb: 'patch', resource: 'configurationstates', subresource: 'status', group: m, namespace: ns }),
    // Denied: writing Services or their status, writing any Secret, Secrets elsewhere.
    ...['create', 'update', 'patch', 'delete'].map((verb) => no({ verb, resource: 'services', namespace: other, name: 'x' })),
    ...['update', 'patch'].map((verb) => no({ verb, resource: 'services', subresource: 'status', namespace: other, name: 'x' })),
    ...['create', 'update', 'patch', 'delete'].map((verb) => no({ verb, resource: 'secrets', namespace: ns, name: i.memberlistSecret })),
    ...['get', 'list'].map((verb) => no({ verb, resource: 'secrets', namespace: other })),
    no({ verb: 'list', resource: 'secrets' }),
    // Denied: the configuration itself, and other namespaces' configuration or status objects.
    ...configKinds.flatMap((resource) => ['create', 'update', 'patch', 'delete'].map((verb) => no({ verb, resource, group: m, namespace: ns, name: 'x' }))),
    ...configKinds.map((resource) => no({ verb: 'list', resource, group: m, namespace: other })),
    ...statusKinds.map((resource) => no({ verb: 'create', resource, group: m, namespace: other })),
    no({ verb: 'list', resource: 'pods', namespace: other }),
    no({ verb: 'list', resource: 'configmaps', namespace: ns }),
    no({ verb: 'update', resource: 'nodes', name: 'n1' }),
    no({ verb: 'patch', resource: 'ipaddresspools', subresource: 'status', group: m, namespace: ns }),
  ];
  return { controller, speaker };
}

async function checkAll(kc: KubeConfig, user: string, list: Expectation[]): Promise<string[]> {
  const wrong: string[] = [];
  await Promise.all(
    list.map(async ([want, access]) => {
      const got = await canI(kc, user, access);
      if (got !== want) wrong.push(`${user} ${want ? 'cannot' : 'CAN'} ${describeAccess(access)}`);
    }),
  );
  return wrong.sort();
}

async function applyRbac(kc: KubeConfig, objects: KObj[]): Promise<void> {
  const errors = await apply(kc, objects.filter((o) => rbacKinds.has(o.kind)), { dryRun: false });
  assert.deepEqual(errors, []);
}

describe('RBAC: least privilege, checked by impersonation against the real API server', () => {
  let kc: KubeConfig;
  let other: string;
  let chartNs: string;
  let chartObjects: KObj[] = [];
  let dir: string;
  const staticInstall: Install = {
    namespace: 'metallb-system',
    controller: 'ironlb-controller',
    speaker: 'ironlb-speaker',
    webhookSecret: 'ironlb-webhook-cert',
    memberlistSecret: 'ironlb-memberlist',
    webhookConfiguration: 'ironlb-webhook-configuration',
  };

  before(async () => {
    kc = (await testCluster()).kubeConfig();
    other = await freshNamespace(kc, 'rbac-other');
    chartNs = await freshNamespace(kc, 'rbac-chart');
    dir = mkdtempSync(join(tmpdir(), 'ironlb-rbac-'));
    await applyRbac(kc, staticObjects());
    chartObjects = await renderChart('rbac-test', chartNs);
    await applyRbac(kc, chartObjects);
  });
  after(async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    for (const o of chartObjects) {
      if (o.kind === 'ClusterRole') await rbac.deleteClusterRole({ name: o.metadata.name }).catch(() => undefined);
      if (o.kind === 'ClusterRoleBinding') await rbac.deleteClusterRoleBinding({ name: o.metadata.name }).catch(() => undefined);
    }
    const core = kc.makeApiClient(CoreV1Api);
    for (const ns of [other, chartNs]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const which of ['static manifests', 'Helm chart'] as const) {
    const install = (): Install =>
      which === 'static manifests'
        ? staticInstall
        : {
            namespace: chartNs,
            controller: 'rbac-test-ironlb-controller',
            speaker: 'rbac-test-ironlb-speaker',
            webhookSecret: 'rbac-test-ironlb-webhook-cert',
            memberlistSecret: 'rbac-test-ironlb-memberlist',
            webhookConfiguration: 'rbac-test-ironlb-webhook-configuration',
          };

    test(`${which}: the controller has what it needs and nothing more`, async () => {
      const i = install();
      const { controller } = expectations(i, other);
      assert.deepEqual(await checkAll(kc, serviceAccountUser(i.namespace, i.controller), controller), []);
    });

    test(`${which}: the speaker has what it needs and nothing more`, async () => {
      const i = install();
      const { speaker } = expectations(i, other);
      assert.deepEqual(await checkAll(kc, serviceAccountUser(i.namespace, i.speaker), speaker), []);
    });
  }

  test('kubectl auth can-i --as gives the same answers', { skip: kubectlPath() ? false : 'kubectl is not installed' }, async () => {
    const cluster = await testCluster();
    const { controller, speaker } = expectations(staticInstall, other);
    const wrong: string[] = [];
    for (const [sa, list] of [[staticInstall.controller, controller], [staticInstall.speaker, speaker]] as const) {
      // Every fourth entry keeps this quick; the SelfSubjectAccessReviews above cover them all.
      for (const [want, a] of list.filter((_, idx) => idx % 4 === 0)) {
        const resource = `${a.resource}${a.group ? `.${a.group}` : ''}${a.name ? `/${a.name}` : ''}`;
        const args = ['auth', 'can-i', a.verb, resource, `--as=${serviceAccountUser(staticInstall.namespace, sa)}`];
        if (a.subresource) args.push(`--subresource=${a.subresource}`);
        args.push(...(a.namespace ? ['-n', a.namespace] : ['--all-namespaces']));
        const r = await kubectl(cluster.kubeconfigPath, args);
        const got = r.stdout.trim() === 'yes';
        if (got !== want) wrong.push(`kubectl ${args.join(' ')} said ${r.stdout.trim()} ${r.stderr.trim()}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('real requests with the ServiceAccounts\' tokens', async () => {
    const as = async (sa: string) => {
      const k = new KubeConfig();
      k.loadFromFile(await serviceAccountKubeconfig(kc, staticInstall.namespace, sa, dir));
      return k.makeApiClient(CoreV1Api);
    };
    const ns = staticInstall.namespace;
    const controller = await as(staticInstall.controller);
    const code = (p: Promise<unknown>) => p.then(() => 200, (e) => statusCode(e) ?? 0);
    assert.equal(await code(controller.readNamespacedSecret({ name: staticInstall.webhookSecret, namespace: ns })), 200, 'its own Secret');
    assert.equal(await code(controller.listNamespacedSecret({ namespace: ns })), 403, 'no listing of Secrets');
    assert.equal(await code(controller.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=config' })), 200, 'the legacy ConfigMap, by field selector');
    assert.equal(await code(controller.listNamespacedConfigMap({ namespace: ns })), 403, 'not every ConfigMap');
    const speaker = await as(staticInstall.speaker);
    assert.equal(await code(speaker.readNamespacedSecret({ name: staticInstall.memberlistSecret, namespace: ns })), 200);
    assert.equal(await code(speaker.patchNamespacedService({ name: 'kubernetes', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels', value: {} }] })), 403);
    assert.equal(await code(speaker.listNamespacedSecret({ namespace: other })), 403);
  });
});
