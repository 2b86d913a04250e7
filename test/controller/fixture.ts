// A controller under test against the real API server. Each test file gets its own config namespace and
// its own loadBalancerClass, so controllers of concurrently running test files never see each other's
// services or pools.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { Controller } from '../../src/controller/controller.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { ControllerMetrics } from '../../src/metrics/metrics.ts';
import { freshNamespace, testCluster, waitFor } from '../harness/cluster.ts';

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface ServiceSpec {
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: { port: number; protocol?: string }[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  loadBalancerIP?: string;
  externalTrafficPolicy?: string;
  selector?: Record<string, string>;
  loadBalancerClass?: string | null;
  namespace?: string;
}

export class ControllerFixture {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  controller: Controller | undefined;
  metrics = new ControllerMetrics(false);
  private child: ChildProcess | undefined;

  private constructor(
    readonly kc: KubeConfig,
    readonly kubeconfigPath: string,
    /** Where the pools live (the controller's --namespace). */
    readonly configNs: string,
    /** Where the test's services live. */
    readonly svcNs: string,
    readonly lbClass: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  static async create(prefix: string): Promise<ControllerFixture> {
    const cluster = await testCluster();
    const kc = cluster.kubeConfig();
    const configNs = await freshNamespace(kc, `${prefix}-cfg`);
    const svcNs = await freshNamespace(kc, `${prefix}-svc`);
    return new ControllerFixture(kc, cluster.kubeconfigPath, configNs, svcNs, `ironlb.test/${randomBytes(4).toString('hex')}`);
  }

  /** Runs the controller in this process. */
  async startInProcess(): Promise<Controller> {
    this.metrics = new ControllerMetrics(false);
    this.controller = new Controller(this.kc, {
      namespace: this.configNs,
      lbClass: this.lbClass,
      log: silentLogger(),
      metrics: this.metrics,
    });
    await this.controller.start();
    return this.controller;
  }

  async stopInProcess(): Promise<void> {
    await this.controller?.stop();
    this.controller = undefined;
  }

  /** Runs the real `ironlb controller` command as a child process (for kill/restart tests). */
  startProcess(extraArgs: string[] = []): ChildProcess {
    const child = spawn(
      process.execPath,
      ['bin/ironlb.js', 'controller', '--kubeconfig', this.kubeconfigPath, '--namespace', this.configNs, '--lb-class', this.lbClass, '--log-level', 'warn', ...extraArgs],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      if (code && code !== 0) console.error(`controller exited ${code} ${signal ?? ''}: ${stderr}`);
    });
    this.child = child;
    return child;
  }

  killProcess(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async cleanup(): Promise<void> {
    await this.stopInProcess();
    await this.killProcess();
    for (const ns of [this.svcNs, this.configNs]) {
      await this.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
  }

  async createPool(name: string, addresses: string[], spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      group: 'metallb.io',
      version: 'v1beta1',
      namespace: this.configNs,
      plural: 'ipaddresspools',
      body: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: this.configNs, labels }, spec: { addresses, ...spec } },
    });
  }

  async patchPool(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { group: 'metallb.io', version: 'v1beta1', namespace: this.configNs, plural: 'ipaddresspools', name, body: { spec } },
      mergePatch,
    );
  }

  async deletePool(name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: this.configNs, plural: 'ipaddresspools', name });
  }

  async getPool(name: string): Promise<{ status?: Record<string, unknown> }> {
    return (await this.custom.getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: this.configNs, plural: 'ipaddresspools', name })) as never;
  }

  async createService(name: string, s: ServiceSpec = {}): Promise<V1Service> {
    const namespace = s.namespace ?? this.svcNs;
    return this.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name, namespace, annotations: s.annotations, labels: s.labels },
        spec: {
          type: 'LoadBalancer',
          loadBalancerClass: s.loadBalancerClass === null ? undefined : (s.loadBalancerClass ?? this.lbClass),
          ports: (s.ports ?? [{ port: 80 }]).map((p) => ({ port: p.port, protocol: p.protocol ?? 'TCP', name: `p${p.port}-${(p.protocol ?? 'tcp').toLowerCase()}` })),
          ipFamilies: s.ipFamilies,
          ipFamilyPolicy: s.ipFamilyPolicy,
          loadBalancerIP: s.loadBalancerIP,
          externalTrafficPolicy: s.externalTrafficPolicy,
          selector: s.selector ?? { app: name },
        },
      },
    });
  }

  async getService(name: string, namespace = this.svcNs): Promise<V1Service> {
    return this.core.readNamespacedService({ name, namespace });
  }

  async ingressIPs(name: string, namespace = this.svcNs): Promise<string[]> {
    const svc = await this.getService(name, namespace);
    return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
  }

  async waitForIPs(name: string, count = 1, timeoutMs = 10_000, namespace = this.svcNs): Promise<string[]> {
    return waitFor(
      async () => {
        const ips = await this.ingressIPs(name, namespace);
        return ips.length >= count ? ips : undefined;
      },
      { timeoutMs, what: `service ${namespace}/${name} to get ${count} IP(s)` },
    );
  }

  async events(name: string, namespace = this.svcNs): Promise<{ reason: string; type: string; message: string }[]> {
    const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return list.items.map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
  }

  async waitForEvent(name: string, reason: string, contains: string, namespace = this.svcNs, timeoutMs = 10_000) {
    return waitFor(
      async () => (await this.events(name, namespace)).find((e) => e.reason === reason && e.message.includes(contains)),
      { timeoutMs, what: `event ${reason} containing "${contains}" on ${namespace}/${name}` },
    );
  }

  async configState(name = 'controller'): Promise<{ result?: string; errorSummary?: string } | undefined> {
    try {
      const obj = (await this.custom.getNamespacedCustomObject({
        group: 'metallb.io',
        version: 'v1beta1',
        namespace: this.configNs,
        plural: 'configurationstates',
        name,
      })) as { status?: { result?: string; errorSummary?: string } };
      return obj.status;
    } catch {
      return undefined;
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
