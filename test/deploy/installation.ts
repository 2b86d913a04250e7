// IronLB installed from the Helm chart into a fresh namespace of the shared test API server, the way a
// user installs it, with what this cluster cannot do replaced:
//   - no kubelet runs pods, so the controller runs here as a process, with the arguments of the rendered
//     Deployment and the credentials of its ServiceAccount (a TokenRequest token: exactly its RBAC);
//   - no Service routing, so the ValidatingWebhookConfiguration calls the webhook by URL
//     (https://127.0.0.1:PORT/validate), and only for namespaces labelled for this installation, so
//     concurrently running tests never meet it.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { freshNamespace, testCluster, waitFor } from '../harness/cluster.ts';
import { apply, freePort, serviceAccountKubeconfig } from './cluster-ops.ts';
import { type KObj, find, podSpec, renderChart, repoRoot } from './manifests.ts';

export const testLabel = 'ironlb.test/webhook';

export class TestInstallation {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly admission: AdmissionregistrationV1Api;
  readonly dir = mkdtempSync(join(tmpdir(), 'ironlb-install-'));
  private child: ChildProcess | undefined;
  private childLog = '';
  webhookPort = 0;
  metricsPort = 0;

  private constructor(
    readonly kc: KubeConfig,
    readonly kubeconfigPath: string,
    /** The install namespace (labelled so the test webhook configuration applies to it). */
    readonly namespace: string,
    /** A second labelled namespace: "the wrong namespace". */
    readonly otherNamespace: string,
    readonly id: string,
    readonly release: string,
    readonly lbClass: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  /** Fresh namespaces, no IronLB yet. */
  static async prepare(prefix: string): Promise<TestInstallation> {
    const cluster = await testCluster();
    const kc = cluster.kubeConfig();
    const id = randomBytes(4).toString('hex');
    const namespace = await freshNamespace(kc, `${prefix}-sys`);
    const otherNamespace = await freshNamespace(kc, `${prefix}-other`);
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of [namespace, otherNamespace]) {
      await core.patchNamespace({ name, body: [{ op: 'add', path: `/metadata/labels/${testLabel.replace('/', '~1')}`, value: id }] });
    }
    return new TestInstallation(kc, cluster.kubeconfigPath, namespace, otherNamespace, id, `t${id}`, `ironlb.test/${id}`);
  }

  objects: KObj[] = [];

  get fullname(): string {
    return `${this.release}-ironlb`;
  }
  get webhookConfigurationName(): string {
    return `${this.fullname}-webhook-configuration`;
  }
  get webhookSecretName(): string {
    return `${this.fullname}-webhook-cert`;
  }
  get controllerServiceAccount(): string {
    return `${this.fullname}-controller`;
  }

  /**
   * Renders the chart for this namespace and applies it for real, except the Deployment and DaemonSet
   * (nothing would run them) and the ValidatingWebhookConfiguration, which is created calling the
   * webhook by URL on a free port, for the labelled namespaces only.
   */
  async install(values: Record<string, unknown> = {}): Promise<void> {
    this.objects = await renderChart(this.release, this.namespace, { loadBalancerClass: this.lbClass, ...values });
    const skip = new Set(['Deployment', 'DaemonSet', 'ValidatingWebhookConfiguration']);
    const errors = await apply(this.kc, this.objects.filter((o) => !skip.has(o.kind)), { dryRun: false });
    if (errors.length > 0) throw new Error(`installing: ${errors.join('; ')}`);
    const rendered = this.objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as V1ValidatingWebhookConfiguration | undefined;
    if (!rendered) return; // webhook disabled
    this.webhookPort = await freePort();
    const body: V1ValidatingWebhookConfiguration = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: this.webhookConfigurationName, labels: { [testLabel]: this.id } },
      webhooks: rendered.webhooks!.map((w) => ({
        ...w,
        clientConfig: { url: `https://127.0.0.1:${this.webhookPort}/validate` },
        namespaceSelector: { matchLabels: { [testLabel]: this.id } },
      })),
    };
    await this.admission.createValidatingWebhookConfiguration({ body });
  }

  /** The controller's arguments from the rendered Deployment, as the kubelet would expand them. */
  controllerArgs(): string[] {
    const c = podSpec(find(this.objects, 'Deployment', `${this.fullname}-controller`)).containers[0]!;
    return c.args.map((a) => a.replace('$(POD_NAMESPACE)', this.namespace));
  }

  /**
   * Runs `ironlb controller` with the rendered arguments, as its ServiceAccount, with the webhook on
   * 127.0.0.1 (named in its certificate) and metrics on free ports.
   */
  async startController(extraArgs: string[] = []): Promise<void> {
    const kubeconfig = await serviceAccountKubeconfig(this.kc, this.namespace, this.controllerServiceAccount, this.dir);
    this.metricsPort = await freePort();
    const args = this.controllerArgs()
      .filter((a) => !a.startsWith('--metrics-port=') && !a.startsWith('--webhook-port=') && !a.startsWith('--log-level='))
      .concat([
        `--kubeconfig=${kubeconfig}`,
        `--metrics-port=${this.metricsPort}`,
        '--metrics-host=127.0.0.1',
        '--webhook-host=127.0.0.1',
        '--webhook-cert-hosts=127.0.0.1',
        `--log-level=${process.env.IRONLB_TEST_CONTROLLER_LOG ?? 'warn'}`,
        ...(this.webhookPort ? [`--webhook-port=${this.webhookPort}`] : []),
        ...extraArgs,
      ]);
    const child = spawn(process.execPath, [join(repoRoot, 'bin/ironlb.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.childLog = '';
    const keep = (d: Buffer) => {
      this.childLog = (this.childLog + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`controller exited ${child.exitCode}: ${this.childLog}`);
        return (await httpStatus(`http://127.0.0.1:${this.metricsPort}/readyz`)) === 200;
      },
      { timeoutMs: 30_000, what: `the controller to be ready (log: ${this.childLog.slice(-2000)})` },
    );
  }

  get controllerLog(): string {
    return this.childLog;
  }

  async stopController(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** The caBundle of the test webhook configuration (base64), or undefined. */
  async caBundle(): Promise<string | undefined> {
    const vwc = await this.admission.readValidatingWebhookConfiguration({ name: this.webhookConfigurationName });
    return vwc.webhooks?.[0]?.clientConfig.caBundle || undefined;
  }

  async cleanup(): Promise<void> {
    await this.stopController();
    // The webhook configuration first: nothing may call a webhook that is gone.
    await this.admission.deleteValidatingWebhookConfiguration({ name: this.webhookConfigurationName }).catch(() => undefined);
    const rbac = this.kc.makeApiClient(RbacAuthorizationV1Api);
    for (const o of this.objects) {
      if (o.kind === 'ClusterRole') await rbac.deleteClusterRole({ name: o.metadata.name }).catch(() => undefined);
      if (o.kind === 'ClusterRoleBinding') await rbac.deleteClusterRoleBinding({ name: o.metadata.name }).catch(() => undefined);
    }
    for (const ns of [this.namespace, this.otherNamespace]) await this.core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  // --- configuration objects, as a user would write them ---------------------------------------------

  plural(kind: string): string {
    return { IPAddressPool: 'ipaddresspools', L2Advertisement: 'l2advertisements', BGPAdvertisement: 'bgpadvertisements', BGPPeer: 'bgppeers', Community: 'communities', BFDProfile: 'bfdprofiles' }[kind]!;
  }

  /** Creates a metallb.io object (through the webhook, if installed). */
  async create(o: KObj, opts: { dryRun?: boolean } = {}): Promise<void> {
    const [group, version] = o.apiVersion.split('/') as [string, string];
    await this.custom.createNamespacedCustomObject({
      group,
      version,
      namespace: o.metadata.namespace ?? this.namespace,
      plural: this.plural(o.kind),
      body: { ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? this.namespace } },
      ...(opts.dryRun ? { dryRun: 'All' } : {}),
    });
  }

  async remove(kind: string, name: string, namespace = this.namespace, version = 'v1beta1'): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: 'metallb.io', version, namespace, plural: this.plural(kind), name });
  }
}

export function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

export const obj = (kind: string, name: string, spec: Record<string, unknown>, extra: { namespace?: string; version?: string; labels?: Record<string, string> } = {}): KObj => ({
  apiVersion: `metallb.io/${extra.version ?? (kind === 'BGPPeer' ? 'v1beta2' : 'v1beta1')}`,
  kind,
  metadata: { name, ...(extra.namespace ? { namespace: extra.namespace } : {}), ...(extra.labels ? { labels: extra.labels } : {}) },
  spec,
});
