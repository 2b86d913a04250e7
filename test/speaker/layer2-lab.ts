// What the Layer2 speaker tests and the l2-failover benchmark share: one whole lab (startLab: real
// kube-apiserver, controller, a speaker and a backend per node), a Layer2 pool, and the ways to look at it
// from outside as a user would: ARP/NDP answers and neighbour entries seen from the client namespace,
// ServiceL2Status objects, each speaker's own /metrics (curl inside its node's namespace), and a client
// program (layer2-probe.ts) that sends a request every few ms. Speakers are found, stopped and restarted
// by PID through the lab's LabProcess objects, never by name.
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveExecutable } from '../../src/lab/network/command.ts';
import type { LabProcess } from '../../src/lab/network/lab-process.ts';
import { kubeBinaries } from '../../src/lab/control-plane.ts';
import { labNamespace, repoRoot, startLab, type Lab } from '../../src/lab/lab.ts';
import { createContext, until, type ScenarioContext } from '../../src/lab/scenario.ts';
import { applyConfig, applyService } from '../../src/lab/scenarios/objects.ts';
import { createLogger } from '../../src/log/logger.ts';
import { netnsSkipReason } from '../net/netns.test-support.ts';
import type { ProbeRecord } from './layer2-probe.ts';

export type { ProbeRecord } from './layer2-probe.ts';

export const POOL = 'l2-test';
export const POOL_RANGES = ['10.99.0.200-10.99.0.219', 'fd99::200-fd99::219'];
export const SPEAKER = 'ironlb-speaker';
const group = { group: 'metallb.io', namespace: 'metallb-system', version: 'v1beta1' };

/** Why the lab cannot run here, or undefined. */
export function l2LabSkipReason(): string | undefined {
  const netns = netnsSkipReason(['arping', 'ndisc6', 'curl']);
  if (netns) return netns;
  try {
    kubeBinaries();
  } catch (err) {
    return (err as Error).message;
  }
  if (!haveExecutable('/usr/lib/frr/zebra')) return 'FRR is not installed (the lab router)';
  return undefined;
}

/** One speaker's /metrics, parsed just enough. */
export class SpeakerMetrics {
  constructor(readonly text: string) {}

  /** The value of an unlabelled gauge, or undefined. */
  gauge(name: string): number | undefined {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(this.text);
    return m ? Number(m[1]) : undefined;
  }

  /** "namespace/name" of every service in metallb_speaker_announced with value 1. */
  announced(): Set<string> {
    const out = new Set<string>();
    for (const m of this.text.matchAll(/^metallb_speaker_announced\{([^}]*)\} (\S+)$/gm)) {
      if (Number(m[2]) !== 1) continue;
      const svc = /service="([^"]*)"/.exec(m[1]!)?.[1];
      if (svc) out.add(svc);
    }
    return out;
  }
}

export interface Probe {
  readonly records: ProbeRecord[];
  readonly process: LabProcess;
  /** Resolves when the probe sent its ready line. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export class L2Lab {
  readonly ctx: ScenarioContext;
  readonly nodes: readonly string[];
  readonly #speakerArgs = new Map<string, readonly string[]>();
  readonly #macs = new Map<string, string>();
  readonly #stateDir: string;

  private constructor(
    readonly lab: Lab,
    stateDir: string,
  ) {
    this.#stateDir = stateDir;
    this.ctx = createContext(lab.state, () => undefined);
    this.nodes = lab.state.nodes;
    for (const p of lab.topology.processes()) {
      if (p.name !== SPEAKER) continue;
      const host = this.nodes.find((n) => lab.topology.ns(n) === p.ns);
      if (host) this.#speakerArgs.set(host, p.args);
    }
  }

  static async start(nodes: number, progress?: (line: string) => void): Promise<L2Lab> {
    const stateDir = mkdtempSync(join(tmpdir(), 'ironlb-l2-'));
    try {
      const lab = await startLab({ nodes, router: 'frr', log: createLogger(process.env.IRONLB_LOG_LEVEL ?? 'warn', 'lab'), stateDir, progress });
      return new L2Lab(lab, stateDir);
    } catch (err) {
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    try {
      await this.lab.stop();
    } finally {
      rmSync(this.#stateDir, { recursive: true, force: true });
    }
  }

  get topology() {
    return this.lab.topology;
  }

  /** The Layer2 pool (both families) and an L2Advertisement for it. */
  async configurePool(): Promise<void> {
    await applyConfig(this.ctx, 'IPAddressPool', 'ipaddresspools', 'v1beta1', POOL, { addresses: POOL_RANGES });
    await applyConfig(this.ctx, 'L2Advertisement', 'l2advertisements', 'v1beta1', POOL, { ipAddressPools: [POOL] });
  }

  /** A dual-stack Service in the lab namespace (the backends give it endpoints on every node); its IPs. */
  async service(name: string): Promise<{ v4: string; v6: string }> {
    await applyService(this.ctx, name, POOL);
    return this.waitForIPs(labNamespace, name);
  }

  async waitForIPs(namespace: string, name: string, timeoutMs = 60_000): Promise<{ v4: string; v6: string }> {
    return until(
      `IPs for Service ${namespace}/${name}`,
      async () => {
        const svc = await this.ctx.core.readNamespacedService({ name, namespace });
        const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
        const v4 = ips.find((ip) => !ip.includes(':'));
        const v6 = ips.find((ip) => ip.includes(':'));
        const wantV6 = (svc.spec?.ipFamilies ?? []).includes('IPv6');
        return v4 && (v6 || !wantV6) ? { v4, v6: v6 ?? '' } : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** Nodes whose ServiceL2Status says they announce namespace/name (normally exactly one). */
  async l2StatusNodes(namespace: string, name: string): Promise<string[]> {
    const list = (await this.ctx.custom.listNamespacedCustomObject({
      ...group,
      plural: 'servicel2statuses',
      labelSelector: `metallb.io/service-name=${name},metallb.io/service-namespace=${namespace}`,
    })) as { items: { status?: { node?: string; serviceName?: string; serviceNamespace?: string } }[] };
    return list.items
      .filter((i) => i.status?.serviceName === name && i.status?.serviceNamespace === namespace)
      .map((i) => i.status?.node)
      .filter((n): n is string => !!n)
      .sort();
  }

  /** Waits until exactly one node's ServiceL2Status names the service (optionally: not `except`). */
  async waitForAnnouncer(namespace: string, name: string, opts: { except?: string; is?: string; timeoutMs?: number } = {}): Promise<string> {
    return until(
      `one ServiceL2Status for ${namespace}/${name}${opts.except ? ` from a node other than ${opts.except}` : ''}${opts.is ? ` from ${opts.is}` : ''}`,
      async () => {
        const nodes = await this.l2StatusNodes(namespace, name);
        if (nodes.length !== 1) return undefined;
        const n = nodes[0]!;
        if (opts.except && n === opts.except) return undefined;
        if (opts.is && n !== opts.is) return undefined;
        return n;
      },
      opts.timeoutMs ?? 60_000,
      250,
    );
  }

  /** The MAC of a host's eth0. */
  mac(host: string): string {
    let m = this.#macs.get(host);
    if (!m) {
      const out = this.topology.mustExec(host, ['ip', '-j', 'link', 'show', 'eth0']);
      m = ((JSON.parse(out) as { address: string }[])[0]!.address ?? '').toLowerCase();
      this.#macs.set(host, m);
    }
    return m;
  }

  /** The node whose eth0 has this MAC. */
  nodeOfMac(mac: string | undefined): string | undefined {
    return mac ? this.nodes.find((n) => this.mac(n) === mac.toLowerCase()) : undefined;
  }

  /** MACs in the ARP replies to `arping -c count -I eth0 ip` from the client. */
  async arping(ip: string, count = 2): Promise<string[]> {
    const r = await this.topology.execAsync('client', ['arping', '-c', String(count), '-w', String(count + 2), '-I', 'eth0', ip], { timeoutMs: (count + 5) * 1000 });
    return [...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]+)\]/g)].map((m) => m[1]!.toLowerCase());
  }

  /** The target link-layer address in the answer to `ndisc6 -1 ip eth0` from the client, if any. */
  async ndisc6(ip: string): Promise<string | undefined> {
    const r = await this.topology.execAsync('client', ['ndisc6', '-1', '-r', '3', '-w', '1000', ip, 'eth0'], { timeoutMs: 10_000 });
    return /Target link-layer address: ([0-9A-Fa-f:]+)/.exec(r.stdout)?.[1]?.toLowerCase();
  }

  /** The client's neighbour entry (MAC) for ip, if it has one with a MAC. */
  neighbour(ip: string): string | undefined {
    const out = this.topology.exec('client', ['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0']).stdout;
    return (JSON.parse(out || '[]') as { lladdr?: string }[])[0]?.lladdr?.toLowerCase();
  }

  /** One HTTP GET from the client (new connection); the answering node's name, or undefined. */
  async httpGet(ip: string, timeoutS = 2): Promise<string | undefined> {
    const url = ip.includes(':') ? `http://[${ip}]/` : `http://${ip}/`;
    const r = await this.topology.execAsync('client', ['curl', '-s', '--max-time', String(timeoutS), url], { timeoutMs: timeoutS * 1000 + 5000 });
    return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
  }

  /** A speaker's /metrics, fetched inside its node's namespace (works with the node's link down). */
  async metrics(host: string): Promise<SpeakerMetrics | undefined> {
    const r = await this.topology.execAsync(host, ['curl', '-s', '--max-time', '5', 'http://127.0.0.1:7473/metrics'], { timeoutMs: 10_000 });
    return r.status === 0 && r.stdout.includes('# HELP') ? new SpeakerMetrics(r.stdout) : undefined;
  }

  /** The running speaker process of a node (a LabProcess: stop() signals its PID). */
  speaker(host: string): LabProcess | undefined {
    const ns = this.topology.ns(host);
    return this.topology.processes().find((p) => p.name === SPEAKER && p.ns === ns);
  }

  /** Starts a node's speaker again with the lab's arguments, or with a different membership key. */
  startSpeaker(host: string, opts: { memberlistKey?: string } = {}): LabProcess {
    const args = [...(this.#speakerArgs.get(host) ?? [])];
    if (args.length === 0) throw new Error(`no speaker arguments recorded for ${host}`);
    if (opts.memberlistKey !== undefined) {
      const i = args.indexOf('--memberlist-key');
      if (i < 0) throw new Error('the lab speaker has no --memberlist-key');
      args[i + 1] = opts.memberlistKey;
    }
    return this.topology.spawn(host, args, { name: SPEAKER });
  }

  /** Until a node's speaker serves /readyz (it has a configuration). */
  async waitForSpeakerReady(host: string, timeoutMs = 90_000): Promise<void> {
    await until(
      `${host}'s speaker to be ready`,
      async () => (await this.topology.execAsync(host, ['curl', '-sf', '--max-time', '3', 'http://127.0.0.1:7473/readyz'], { timeoutMs: 8000 })).status === 0,
      timeoutMs,
      300,
    );
  }

  /**
   * Until each of `nodes` (default all) reports exactly those members alive and is not isolated (after a restore or a
   * restart), the service has exactly one announcer, and the client's requests are answered by it.
   */
  async waitForSteadyState(service: { namespace: string; name: string; ip: string }, nodes: readonly string[] = this.nodes, timeoutMs = 90_000): Promise<string> {
    await until(
      `${nodes.join(', ')} to see ${nodes.length} members each and none isolated`,
      async () => {
        for (const n of nodes) {
          const m = await this.metrics(n);
          if (!m || m.gauge('ironlb_membership_members_alive') !== nodes.length || m.gauge('ironlb_membership_isolated_bool') !== 0) return false;
        }
        return true;
      },
      timeoutMs,
      300,
    );
    const announcer = await this.waitForAnnouncer(service.namespace, service.name, { timeoutMs });
    await until(`the client to be answered by ${announcer}`, async () => (await this.httpGet(service.ip, 1)) === announcer, timeoutMs, 200);
    return announcer;
  }

  /** Starts layer2-probe.ts in the client namespace; its records are collected as they arrive. */
  startProbe(ip: string, opts: { intervalMs: number; timeoutMs: number }): Probe {
    const proc = this.topology.spawn(
      'client',
      [process.execPath, '--import', 'tsx', join(repoRoot, 'test/speaker/layer2-probe.ts'), '--ip', ip, '--interval-ms', String(opts.intervalMs), '--timeout-ms', String(opts.timeoutMs)],
      { name: 'l2-probe', output: 'pipe' },
    );
    const records: ProbeRecord[] = [];
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((r) => (onReady = r));
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as ProbeRecord & { ready?: boolean };
        if (rec.ready) onReady();
        else records.push(rec);
      } catch {
        // not a record
      }
    });
    void proc.exited.then(() => onReady());
    return {
      records,
      process: proc,
      ready: ready.then(() => {
        if (!proc.running) throw new Error(`the probe exited: ${proc.tail()}`);
      }),
      stop: async () => {
        await proc.stop({ timeoutMs: 3000 });
        lines.close();
      },
    };
  }

  /** The last lines of every speaker's log, for failure messages. */
  speakerLogs(lines = 12): string {
    const out: string[] = [];
    for (const n of this.nodes) {
      const p = this.speaker(n);
      out.push(`--- ${n} speaker${p ? ` (pid ${p.pid})` : ' (not running)'}\n${p?.tail(lines) ?? ''}`);
    }
    return out.join('\n');
  }
}
