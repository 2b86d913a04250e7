// controller-e2e: the real `ironlb controller` process against a real kube-apiserver + etcd.
// Figures: create→IP latency at a steady 100 creations/s (p50/p99), time until 1,000 and 10,000
// services all have an IP, allocations per second for 10,000, and the controller's peak RSS.
// The API server's own create rate is printed too, to show when it (not the controller) is the bound.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonEnv } from '../src/cli/daemon-heap.ts';
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { freePort, startControlPlane } from '../src/lab/control-plane.ts';
import { KubeApi, statusCodeOf } from '../src/k8s/api.ts';
import { loadKubeConfig } from '../src/k8s/kubeconfig.ts';
import { bundle } from '../scripts/build-dist.ts';

const bench = 'controller-e2e';
const emit = (metric: string, value: number, unit: string, n: number) =>
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit, n }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** Watches a namespace's services and resolves each name's IP arrival time. */
class IPWatcher {
  readonly arrived = new Map<string, number>();
  /** When the watch first showed each Service (it exists in the API): the controller can start there. */
  readonly seen = new Map<string, number>();
  private abort: AbortController | undefined;
  private waiters: { count: number; resolve: () => void }[] = [];
  constructor(private readonly kc: KubeConfig, private readonly namespace: string) {}
  async start(): Promise<void> {
    this.abort = await new Watch(this.kc).watch(
      `/api/v1/namespaces/${this.namespace}/services`,
      {},
      (_phase, obj: { metadata?: { name?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } }) => {
        const name = obj.metadata?.name ?? '';
        if (!this.seen.has(name)) this.seen.set(name, performance.now());
        if ((obj.status?.loadBalancer?.ingress?.length ?? 0) > 0 && !this.arrived.has(name)) {
          this.arrived.set(name, performance.now());
          this.waiters = this.waiters.filter((w) => (this.arrived.size >= w.count ? (w.resolve(), false) : true));
        }
      },
      () => undefined,
    );
  }
  /**
   * Resolves once `count` services have an IP. A watch can end early (server timeout, dropped
   * connection); a slow list every few seconds catches what it missed, timestamped when seen (an
   * overestimate, never an underestimate).
   */
  async waitForCount(count: number): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    while (this.arrived.size < count) {
      const done = new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
      const before = this.arrived.size;
      await Promise.race([done, sleep(10_000)]);
      if (this.arrived.size >= count) return;
      // Only when the watch has gone quiet: listing thousands of Services is itself load.
      if (this.arrived.size > before) continue;
      const list = await core.listNamespacedService({ namespace: this.namespace });
      for (const svc of list.items) {
        const name = svc.metadata?.name ?? '';
        if ((svc.status?.loadBalancer?.ingress?.length ?? 0) > 0 && !this.arrived.has(name)) this.arrived.set(name, performance.now());
      }
    }
  }
  stop(): void {
    this.abort?.abort();
  }
}


function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The bench's own creates go through the daemons' lean JSON client (src/k8s/api.ts), not client-node's
 * typed API: on 2 cores the load generator's CPU is taken from the API server and the controller.
 * Resolves with the HTTP status (0: no answer).
 */
function createService(api: KubeApi, namespace: string, name: string, lbClass: string): Promise<number> {
  // No node ports: a default node-port range holds 2,768, and the 10,000 run needs more services.
  const body = {
    metadata: { name },
    spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, loadBalancerClass: lbClass, ports: [{ port: 80 }], selector: { app: name } },
  };
  return api.create({ apiVersion: 'v1', plural: 'services', namespace }, body).then(
    () => 201,
    (err: unknown) => statusCodeOf(err) ?? 0,
  );
}

async function createMany(api: KubeApi, namespace: string, names: string[], inFlight: number, lbClass: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      // A loaded API server sometimes drops a connection or answers 429/5xx; retry rather than lose
      // the run, and fail it loudly if a service cannot be created at all.
      for (let attempt = 1; ; attempt++) {
        const status = await createService(api, namespace, name, lbClass);
        if (status === 201 || status === 409) break;
        if (attempt >= 5) throw new Error(`could not create ${namespace}/${name}: HTTP ${status}`);
        await sleep(100 * attempt);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

async function main(): Promise<void> {
  const cp = await startControlPlane();
  const kc = loadKubeConfig(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const api = new KubeApi(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const lbClass = 'ironlb.bench/e2e';
  const configNs = 'metallb-system';
  await custom.createNamespacedCustomObject({
    group: 'metallb.io',
    version: 'v1beta1',
    namespace: configNs,
    plural: 'ipaddresspools',
    body: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'bench' }, spec: { addresses: ['10.128.0.0/14'] } },
  });
  // 0) The API server alone: how fast it creates LoadBalancer Services with no controller running.
  // (Each create allocates a ClusterIP, an IPAddress object since Kubernetes 1.33.) This bounds every
  // figure below: the controller cannot allocate faster than Services come into existence.
  {
    const ns = 'baseline';
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const n = 1000;
    const t0 = performance.now();
    await createMany(api, ns, Array.from({ length: n }, (_, i) => `x-${i}`), 32, 'ironlb.bench/nobody');
    emit('apiserver_creates_per_s', (n * 1000) / (performance.now() - t0), 'services/s', n);
  }
  const metricsPort = await freePort();
  // Measure what users run: the controller bundle the image ships (npm run build), made fresh here.
  const dist = join(process.cwd(), '.cache', 'bench-dist');
  await bundle(dist);
  const startController = () =>
    spawn(
      process.execPath,
      [join(dist, 'controller.js'), 'controller', '--kubeconfig', cp.kubeconfigPath, '--namespace', configNs, '--lb-class', lbClass, '--metrics-port', String(metricsPort), '--metrics-host', '127.0.0.1', '--log-level', 'error'],
      // As in the image: the daemons' environment (one malloc arena).
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...daemonEnv } },
    );
  const stopController = async (c: ReturnType<typeof startController>) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  };
  let controller = startController();
  const abort = () => {
    controller.kill('SIGKILL');
    void cp.stop().finally(() => process.exit(130));
  };
  process.once('SIGTERM', abort);
  process.once('SIGINT', abort);
  try {
    // Measure the controller, not its start-up: wait until it reports ready.
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      await sleep(200);
    }

    // 1) Steady creation for 10 s: create→IP latency. 100/s is the figure asked for; 50/s shows the
    // same path on a machine that is not saturated (on 2 cores, 100 creations/s plus the controller's
    // two writes per Service keep the API server and etcd near 2 cores by themselves).
    for (const rate of [100, 50]) {
      const ns = `steady-${rate}`;
      await core.createNamespace({ body: { metadata: { name: ns } } });
      const w = new IPWatcher(kc, ns);
      await w.start();
      const sent = new Map<string, number>();
      const created: number[] = [];
      const n = rate * 10;
      const t0 = performance.now();
      const creates: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const name = `s-${i}`;
        sent.set(name, performance.now());
        const at = performance.now();
        creates.push(
          createService(api, ns, name, lbClass).then((status) => {
            if (status !== 201) throw new Error(`create ${name}: HTTP ${status}`);
            created.push(performance.now() - at);
          }),
        );
      }
      await Promise.all(creates);
      await w.waitForCount(n);
      w.stop();
      const suffix = rate === 100 ? '' : `_at_${rate}`;
      const lat = [...sent].map(([name, t]) => w.arrived.get(name)! - t);
      emit(`p50_ms${suffix}`, percentile(lat, 50), 'ms', n);
      emit(`p99_ms${suffix}`, percentile(lat, 99), 'ms', n);
      // The controller's share: from the Service showing up in a watch to its IP showing up.
      const own = [...sent.keys()].filter((name) => w.seen.has(name)).map((name) => w.arrived.get(name)! - w.seen.get(name)!);
      emit(`controller_p50_ms${suffix}`, percentile(own, 50), 'ms', own.length);
      emit(`controller_p99_ms${suffix}`, percentile(own, 99), 'ms', own.length);
      // The API server's share: the create call's own round trip.
      emit(`create_p50_ms${suffix}`, percentile(created, 50), 'ms', n);
      emit(`create_p99_ms${suffix}`, percentile(created, 99), 'ms', n);
    }
    emit('rss_mb_after_steady', peakRssMb(controller.pid!), 'MB', 1500);

    // 2) Bursts of 1,000 and 10,000: time until all have an IP.
    for (const n of [1000, 10_000]) {
      const ns = `burst-${n}`;
      await core.createNamespace({ body: { metadata: { name: ns } } });
      const w = new IPWatcher(kc, ns);
      await w.start();
      const names = Array.from({ length: n }, (_, i) => `b-${i}`);
      const t0 = performance.now();
      await createMany(api, ns, names, 32, lbClass);
      const created = performance.now();
      await w.waitForCount(n);
      const done = performance.now();
      w.stop();
      emit(`all_ip_ms_${n}`, done - t0, 'ms', n);
      emit(`creates_per_s_${n}`, (n * 1000) / (created - t0), 'services/s', n);
      if (n === 10_000) {
        emit('allocs_per_s_10000', (n * 1000) / (done - t0), 'allocs/s', n);
        emit('rss_mb_10000', peakRssMb(controller.pid!), 'MB', n);
      }
    }

    // 3) 10,000 Services waiting while the controller is down, then the controller started: its own
    // allocation rate (its writes only; the creates above are bound by the API server). The creates
    // here, with no controller running, are the API server's own rate at this size.
    {
      await stopController(controller);
      const n = 10_000;
      const ns = 'pending-10000';
      await core.createNamespace({ body: { metadata: { name: ns } } });
      const t0 = performance.now();
      await createMany(api, ns, Array.from({ length: n }, (_, i) => `q-${i}`), 32, lbClass);
      emit('apiserver_creates_per_s_10000', (n * 1000) / (performance.now() - t0), 'services/s', n);
      const w = new IPWatcher(kc, ns);
      await w.start();
      const started = performance.now();
      controller = startController();
      await w.waitForCount(n);
      const done = performance.now();
      w.stop();
      emit('allocs_per_s_10000_pending', (n * 1000) / (done - started), 'allocs/s', n);
      emit('rss_mb_10000_pending', peakRssMb(controller.pid!), 'MB', n);
    }
  } finally {
    await stopController(controller);
    await cp.stop();
  }
}

await main();
