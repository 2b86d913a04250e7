// bgp-e2e: BGP mode end to end, in one lab (startLab: network namespaces, kube-apiserver + etcd, the
// real `ironlb controller` and one real `ironlb speaker` process per node; FRR as the router, 2 nodes).
// Every speaker has 2 peers: FRR on the router (10.99.0.1) and a GoBGP on the LAN's client host
// (10.99.0.100), both dynamic-neighbour listeners.
//
// Figures:
//   p50_ms, p99_ms        a Service created in the API server → its /32 in the router's kernel (first
//                         path), ≥ 50 Services one after another (namespace `lab`: the lab's backends
//                         create the EndpointSlices, as the EndpointSlice controller would)
//   ecmp_p50_ms, ecmp_p99_ms   … → the kernel route has both nodes as next hops
//   ip_p50_ms             … → the controller's IP in the Service's status (seen through a watch): the
//                         part of p50 that is not the speakers' and the router's
//   announce_1000_s       1,000 Services created (8 at a time, each with its EndpointSlice) → all 1,000
//                         ECMP routes in the router's kernel and all 2,000 paths in the GoBGP peer
//   speaker_rss_mb_1000   the speakers' peak RSS (VmHWM, max over the nodes) with 1,000 services, 2 peers
//   speaker_rss_mb_1000_settled   their RSS (VmRSS, max) once every ServiceBGPStatus is written and 30 s
//                         have passed (how much of the peak was garbage not yet collected)
//   speaker_rss_mb_idle   the speakers' RSS (VmRSS, max) with the sessions up and nothing announced
//   speaker_cpu_s_1000    CPU time (user + system, max over the speakers) spent during the scale run
//
// Kernel route changes are read with `ip monitor route` inside the router's namespace, timestamped as
// each line arrives.
//
//   npm run bench -- bgp-e2e [--services 50] [--scale 1000]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Watch } from '@kubernetes/client-node';
import { nodeASN, routerASN } from '../src/lab/lab.ts';
import { waitFor } from '../src/lab/network/wait-for.ts';
import { LAN, nodeIPv4, nodeName } from '../src/lab/network/standard-lab.ts';
import { startGobgp, type GobgpRouter } from '../src/lab/routers/gobgp.ts';
import { ApiLab, labSkip, speakerPids } from '../test/speaker/bgp-lab.ts';
import { buildDist } from '../scripts/build-dist.ts';

const bench = 'bgp-e2e';
const { values } = parseArgs({ options: { services: { type: 'string', default: '50' }, scale: { type: 'string', default: '1000' } } });
const latencyN = Number(values.services);
const scaleN = Number(values.scale);
const emit = (metric: string, value: number, unit: string, n: number, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit, n, ...extra }));
const say = (text: string) => console.error(`[bgp-e2e] ${text}`);
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const CLIENT_IP = '10.99.0.100';
const nodes = [1, 2].map((i) => ({ node: nodeName(i), ipv4: nodeIPv4(i) }));

/** `ip monitor route` in a namespace: when each IPv4 prefix first appeared, and when it first had k next hops. */
class RouteMonitor {
  private readonly child: ChildProcess;
  /** prefix (as `ip` prints it, e.g. "10.97.0.10") → arrival time of its first route. */
  readonly firstSeen = new Map<string, number>();
  /** prefix → arrival time when it first had 2+ next hops. */
  readonly multipathSeen = new Map<string, number>();
  private current: { dst: string; at: number; hops: number } | undefined;
  private waiters: (() => void)[] = [];

  constructor(ns: string) {
    this.child = spawn('ip', ['-n', ns, '-4', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line, performance.now()));
  }

  private onLine(line: string, at: number): void {
    if (/^\s/.test(line)) {
      // "\tnexthop via 10.99.0.11 dev eth0 weight 1" belongs to the route above.
      if (this.current && /nexthop via/.test(line)) this.current.hops++;
      this.flush();
      return;
    }
    this.current = undefined;
    if (line.startsWith('Deleted ')) return;
    const dst = line.split(/\s+/)[0] ?? '';
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(dst)) return; // routes to networks, "local …", nexthop objects
    this.current = { dst, at, hops: / via /.test(line) ? 1 : 0 };
    if (!this.firstSeen.has(dst)) this.firstSeen.set(dst, at);
    this.flush();
  }

  private flush(): void {
    const c = this.current;
    if (c && c.hops >= 2 && !this.multipathSeen.has(c.dst)) this.multipathSeen.set(c.dst, c.at);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `done()` holds (checked on every route line), or rejects after timeoutMs. */
  until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
}

function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Resident memory by kind of mapping (/proc/PID/smaps): malloc's heap and anonymous memory (V8's heap among it), files. */
function residentByMapping(pid: number): string {
  const kb = new Map<string, number>();
  let current = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!.trim();
      current = name === '' ? 'anonymous' : name.startsWith('/') ? name.split('/').pop()! : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb.set(current, (kb.get(current) ?? 0) + Number(rss[1]));
  }
  return [...kb].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} MB`).join(', ');
}

/** Where a speaker's memory is: the V8 heap (used, committed per space) against the whole RSS by mapping. */
function describeMemory(L: ApiLab, pids: ReadonlyMap<string, number>, when: string): void {
  for (const [node, pid] of pids) {
    const metrics = spawnSync('ip', ['netns', 'exec', L.lab.topology.ns(node), 'curl', '-s', 'http://127.0.0.1:7473/metrics'], { encoding: 'utf8' }).stdout;
    const mb = (name: string) => (Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1]) / 1e6).toFixed(1);
    const spaces = [...metrics.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)]
      .filter((m) => Number(m[2]) >= 1e6)
      .map((m) => `${m[1]} ${(Number(m[2]) / 1e6).toFixed(1)}`);
    say(`${node} ${when}: V8 heap used ${mb('nodejs_heap_size_used_bytes')} MB of ${mb('nodejs_heap_size_total_bytes')} MB (${spaces.join(', ')}), external ${mb('nodejs_external_memory_bytes')} MB`);
    say(`${node} ${when}: resident by mapping: ${residentByMapping(pid)}`);
  }
}

async function main(): Promise<void> {
  const skip = labSkip('frr') ?? labSkip('gobgp');
  if (skip) {
    console.error(`bgp-e2e: cannot run here: ${skip}`);
    process.exit(2);
  }
  // Measure what users run: the speakers and controller from fresh bundles (bin/ironlb.js would fall
  // back to tsx for a build older than the sources).
  say(`bundles built in ${buildDist()}`);
  let lab: ApiLab | undefined;
  let monitor: RouteMonitor | undefined;
  let second: GobgpRouter | undefined;
  const cleanup = async () => {
    monitor?.stop();
    await second?.stop().catch(() => undefined);
    await lab?.stop();
  };
  const abort = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    const t0 = Date.now();
    lab = await ApiLab.start({ nodes: 2, router: 'frr' });
    const L = lab;
    // The second peer: GoBGP on the client host (same LAN), accepting the nodes as dynamic neighbours.
    second = await startGobgp(L.lab.topology, 'client', {
      asn: routerASN,
      routerId: CLIENT_IP,
      maxPaths: 8,
      listenRanges: [{ prefix: LAN.ipv4, asn: nodeASN, families: ['ipv4'] }],
    });
    say(`lab up in ${Date.now() - t0} ms (FRR router, GoBGP second peer, 2 nodes)`);

    await L.apply('BGPPeer', 'bgppeers', 'v1beta2', 'router', { myASN: nodeASN, peerASN: routerASN, peerAddress: LAN.router4, holdTime: '9s' });
    await L.apply('BGPPeer', 'bgppeers', 'v1beta2', 'second', { myASN: nodeASN, peerASN: routerASN, peerAddress: CLIENT_IP, holdTime: '9s' });
    await L.apply('IPAddressPool', 'ipaddresspools', 'v1beta1', 'bench', { addresses: ['10.97.0.0/20'], avoidBuggyIPs: true });
    await L.apply('BGPAdvertisement', 'bgpadvertisements', 'v1beta1', 'bench', { ipAddressPools: ['bench'], communities: ['65000:100'] });
    await waitFor(async () => (await L.sessionStates()).filter((s) => s.bgpStatus === 'Established').length === 4, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: '4 BGP sessions (2 nodes × 2 peers) Established',
    });
    const pids = speakerPids(L.lab);
    if (pids.size !== 2) throw new Error(`expected 2 speaker processes, found ${JSON.stringify([...pids])}`);
    say(`sessions up at ${Date.now() - t0} ms; speakers ${JSON.stringify(Object.fromEntries(pids))}`);
    const idleRss = Math.max(...[...pids.values()].map((p) => status(p, 'VmRSS')));
    describeMemory(L, pids, 'idle');
    // Where in the run the peak falls: every speaker's RSS, sampled.
    const sampled: { t: number; node: string; rss: number }[] = [];
    const sampler = setInterval(() => {
      for (const [node, pid] of pids) sampled.push({ t: Date.now() - t0, node, rss: status(pid, 'VmRSS') });
    }, 200);
    const marks: { t: number; what: string }[] = [];
    const mark = (what: string) => marks.push({ t: Date.now() - t0, what });

    // ---- latency: one Service at a time ---------------------------------------------------------------
    const m = new RouteMonitor(L.lab.topology.ns('router'));
    monitor = m;
    await new Promise((r) => setTimeout(r, 300)); // the monitor subscribed
    const first: number[] = [];
    const ecmp: number[] = [];
    const ipAt = new Map<string, number>();
    const watch = await new Watch(L.kc).watch(
      '/api/v1/namespaces/lab/services',
      {},
      (_phase, obj: { metadata?: { name?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } }) => {
        const name = obj.metadata?.name ?? '';
        if ((obj.status?.loadBalancer?.ingress?.length ?? 0) > 0 && !ipAt.has(name)) ipAt.set(name, performance.now());
      },
      () => undefined,
    );
    const toIP: number[] = [];
    const warmup = 3;
    for (let i = 0; i < warmup + latencyN; i++) {
      const name = `lat-${i}`;
      const known = new Set(m.firstSeen.keys());
      const start = performance.now();
      await L.createService('lab', name, { singleStack: true });
      let dst = '';
      await m.until(() => {
        dst = [...m.firstSeen.keys()].find((k) => !known.has(k) && k.startsWith('10.97.')) ?? '';
        return dst !== '';
      }, 60_000, `a kernel route for Service lab/${name}`);
      await m.until(() => m.multipathSeen.has(dst), 60_000, `an ECMP kernel route for ${dst}`);
      const [ip] = await L.ingress('lab', name, 1);
      if (ip !== dst) throw new Error(`Service lab/${name} got ${ip}, but the new kernel route is ${dst}`);
      if (i >= warmup) {
        first.push(m.firstSeen.get(dst)! - start);
        ecmp.push(m.multipathSeen.get(dst)! - start);
        if (ipAt.has(name)) toIP.push(ipAt.get(name)! - start);
      }
    }
    watch.abort();
    emit('p50_ms', percentile(first, 50), 'ms', latencyN);
    emit('p99_ms', percentile(first, 99), 'ms', latencyN);
    emit('ecmp_p50_ms', percentile(ecmp, 50), 'ms', latencyN);
    emit('ecmp_p99_ms', percentile(ecmp, 99), 'ms', latencyN);
    emit('ip_p50_ms', percentile(toIP, 50), 'ms', toIP.length);
    say(`create → kernel route (ms): min ${Math.min(...first).toFixed(1)}, max ${Math.max(...first).toFixed(1)}; ECMP max ${Math.max(...ecmp).toFixed(1)}`);

    // Back to nothing announced before the scale run.
    for (let i = 0; i < warmup + latencyN; i++) await L.deleteService('lab', `lat-${i}`);
    const bgpRoutes = async () => {
      const r = await L.lab.topology.execAsync('router', ['ip', '-j', '-4', 'route', 'show', 'proto', 'bgp']);
      return (JSON.parse(r.stdout || '[]') as { dst: string; nexthops?: unknown[] }[]).filter((x) => x.dst.startsWith('10.97.'));
    };
    await waitFor(async () => (await bgpRoutes()).length === 0, { timeoutMs: 120_000, intervalMs: 500, what: 'every latency-run route withdrawn' });

    // ---- scale: 1,000 Services ------------------------------------------------------------------------
    const ns = 'bench-scale';
    await L.ensureNamespace(ns);
    const cpuBefore = new Map([...pids].map(([node, pid]) => [node, cpuSeconds(pid)]));
    const scaleStart = performance.now();
    mark('scale run starts');
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < scaleN; i = next++) {
        const name = `svc-${i}`;
        await L.createService(ns, name, { singleStack: true });
        await L.discovery.createNamespacedEndpointSlice({
          namespace: ns,
          body: {
            metadata: { name: `${name}-4`, namespace: ns, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'bench.ironlb.io' } },
            addressType: 'IPv4',
            endpoints: nodes.map((n) => ({ addresses: [n.ipv4], nodeName: n.node, conditions: { ready: true, serving: true, terminating: false } })),
            ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          },
        });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const created = performance.now();
    mark('all created');
    say(`${scaleN} Services + EndpointSlices created in ${((created - scaleStart) / 1000).toFixed(1)} s`);
    await waitFor(async () => (await bgpRoutes()).filter((r) => (r.nexthops?.length ?? 0) >= 2).length >= scaleN, {
      timeoutMs: 600_000,
      intervalMs: 500,
      what: `${scaleN} ECMP routes in the router's kernel`,
    });
    const inKernel = performance.now();
    await waitFor(
      async () => {
        const out = await second!.gobgp('global', 'rib', 'summary', '-a', 'ipv4');
        const paths = Number(/Path:\s*(\d+)/.exec(out)?.[1] ?? 0);
        return paths >= 2 * scaleN;
      },
      { timeoutMs: 600_000, intervalMs: 500, what: `${2 * scaleN} paths in the GoBGP peer` },
    );
    const done = performance.now();
    await waitFor(async () => (await L.sessionStates()).filter((s) => s.bgpStatus === 'Established' && s.prefixesSent === scaleN).length === 4, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `4 sessions reporting prefixesSent ${scaleN}`,
    });
    say(`all ${scaleN} in FRR's kernel after ${((inKernel - scaleStart) / 1000).toFixed(1)} s, in GoBGP after ${((done - scaleStart) / 1000).toFixed(1)} s`);
    emit(`announce_${scaleN}_s`, (Math.max(inKernel, done) - scaleStart) / 1000, 's', scaleN);

    const rss = [...pids].map(([node, pid]) => ({ node, hwm: status(pid, 'VmHWM'), rss: status(pid, 'VmRSS') }));
    for (const r of rss) say(`${r.node}: VmHWM ${r.hwm.toFixed(1)} MB, VmRSS ${r.rss.toFixed(1)} MB`);
    // The speakers go on writing a ServiceBGPStatus per service after the routes are out.
    await waitFor(
      async () => {
        const list = (await L.custom.listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural: 'servicebgpstatuses' })) as { items: unknown[] };
        return list.items.length >= 2 * scaleN;
      },
      { timeoutMs: 600_000, intervalMs: 1000, what: `${2 * scaleN} ServiceBGPStatus objects` },
    );
    const statusesDone = performance.now();
    mark('every status written');
    clearInterval(sampler);
    for (const node of pids.keys()) {
      const mine = sampled.filter((x) => x.node === node);
      const peak = mine.reduce((a, b) => (b.rss > a.rss ? b : a), mine[0]!);
      const phase = [...marks].reverse().find((m) => m.t <= peak.t)?.what ?? 'latency run';
      const every5s = mine.filter((_, i) => i % 25 === 0).map((x) => x.rss.toFixed(0)).join(' ');
      say(`${node}: peak sampled RSS ${peak.rss.toFixed(1)} MB at ${(peak.t / 1000).toFixed(1)} s (after: ${phase}); every 5 s: ${every5s}`);
    }
    const cpu = [...pids].map(([node, pid]) => cpuSeconds(pid) - cpuBefore.get(node)!);
    say(`every ServiceBGPStatus written after ${((statusesDone - scaleStart) / 1000).toFixed(1)} s; speaker CPU during the run: ${cpu.map((c) => c.toFixed(1)).join(' s, ')} s`);
    await new Promise((r) => setTimeout(r, 30_000));
    const settled = [...pids].map(([node, pid]) => ({ node, hwm: status(pid, 'VmHWM'), rss: status(pid, 'VmRSS') }));
    for (const r of settled) say(`${r.node} 30 s later: VmHWM ${r.hwm.toFixed(1)} MB, VmRSS ${r.rss.toFixed(1)} MB`);
    describeMemory(L, pids, 'after the run');
    emit(`speaker_rss_mb_${scaleN}`, Math.max(...settled.map((r) => r.hwm)), 'MB', scaleN, { peers: 2, speakers: rss.length });
    emit(`speaker_rss_mb_${scaleN}_settled`, Math.max(...settled.map((r) => r.rss)), 'MB', scaleN, { peers: 2, speakers: rss.length });
    emit('speaker_rss_mb_idle', idleRss, 'MB', 0, { peers: 2, speakers: rss.length });
    emit(`speaker_cpu_s_${scaleN}`, Math.max(...cpu), 's', scaleN, { peers: 2, speakers: rss.length });
  } finally {
    await cleanup();
  }
}

await main();
