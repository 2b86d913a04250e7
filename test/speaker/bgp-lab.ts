// Test support for the API-server-driven BGP tests and the bgp-e2e bench: a whole lab (startLab: real
// kube-apiserver, the real controller and `ironlb speaker` processes, a real router), the metallb.io
// objects and Services they are driven with, and router-neutral questions about what the router got.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import { startLab, type Lab, type LabOptions } from '../../src/lab/lab.ts';
import { haveExecutable } from '../../src/lab/network/command.ts';
import { labUnavailable } from '../../src/lab/network/requirements.ts';
import { waitFor } from '../../src/lab/network/wait-for.ts';
import { familyOf, normalizePrefix } from '../../src/lab/routers/address.ts';
import { BirdRouter } from '../../src/lab/routers/bird.ts';
import { parseBirdProtocols } from '../../src/lab/routers/bird-output.ts';
import { FrrRouter } from '../../src/lab/routers/frr.ts';
import { GobgpRouter } from '../../src/lab/routers/gobgp.ts';
import type { BgpPath, RouterKind } from '../../src/lab/routers/router.ts';
import { silentLogger } from '../../src/log/logger.ts';

export const installNamespace = 'metallb-system';
const group = 'metallb.io';

/** Why a lab with this router cannot run here, or undefined. */
export function labSkip(kind: RouterKind): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  const tools = { frr: ['vtysh'], bird: ['bird', 'birdc'], gobgp: ['gobgpd', 'gobgp'] }[kind];
  const why = labUnavailable(tools);
  if (why) return why;
  if (kind === 'frr' && !existsSync('/usr/lib/frr/bgpd')) return 'FRR is not installed';
  if (kind !== 'frr' && !haveExecutable(tools[0]!)) return `${tools[0]} is not installed`;
  const cache = process.env.IRONLB_CACHE || '/var/cache/ironlb';
  if (!existsSync(join(cache, 'bin', 'kube-apiserver'))) return `kube-apiserver not found in ${cache}/bin (scripts/setup)`;
  return undefined;
}

interface StatusItem<S> {
  metadata: { name: string; labels?: Record<string, string> };
  status?: S;
}
export interface SessionStateStatus {
  node?: string;
  peer?: string;
  peerName?: string;
  bgpStatus?: string;
  bfdStatus?: string;
  prefixesSent?: number;
  lastError?: string;
  lastTransitionTime?: string;
}
export interface ServiceBGPStatusStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
  peers?: string[];
}

export interface SessionMark {
  readonly id: string;
  /** When the session came up (epoch seconds), where the router reports it only approximately. */
  readonly upSince?: number;
  /** How long it has been up (FRR), to make sure a reset would move upSince by more than the wobble. */
  readonly upMs?: number;
}

/** The same session: equal ids and (where present) up-since within a second of each other. */
export function sameSession(a: SessionMark, b: SessionMark): boolean {
  return a.id === b.id && (a.upSince === undefined || b.upSince === undefined || Math.abs(a.upSince - b.upSince) <= 1);
}

/** A running lab plus API clients and the questions the tests ask. */
export class ApiLab {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly discovery: DiscoveryV1Api;

  private constructor(
    readonly lab: Lab,
    readonly kc: KubeConfig,
    private readonly stateDir: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
  }

  static async start(opts: Omit<LabOptions, 'log' | 'stateDir'> & Partial<Pick<LabOptions, 'log'>>): Promise<ApiLab> {
    const stateDir = mkdtempSync(join(tmpdir(), 'ironlb-bgp-lab-'));
    try {
      const lab = await startLab({ log: silentLogger(), ...opts, stateDir });
      return new ApiLab(lab, lab.controlPlane.kubeConfig(), stateDir);
    } catch (err) {
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    }
  }

  get router() {
    return this.lab.router;
  }

  get kind(): RouterKind {
    return this.lab.router.kind;
  }

  async stop(): Promise<void> {
    try {
      await this.lab.stop();
    } finally {
      rmSync(this.stateDir, { recursive: true, force: true });
    }
  }

  // ---- objects ------------------------------------------------------------------------------------

  /** Creates or replaces a metallb.io object in the install namespace. */
  async apply(kind: string, plural: string, version: string, name: string, spec: Record<string, unknown>): Promise<void> {
    const base = { group, version, namespace: installNamespace, plural };
    const body = { apiVersion: `${group}/${version}`, kind, metadata: { name, namespace: installNamespace }, spec };
    try {
      await this.custom.createNamespacedCustomObject({ ...base, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const existing = (await this.custom.getNamespacedCustomObject({ ...base, name })) as { metadata: { resourceVersion: string } };
      await this.custom.replaceNamespacedCustomObject({ ...base, name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion } } });
    }
  }

  async deleteObject(plural: string, version: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group, version, namespace: installNamespace, plural, name }).catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  }

  /** A kubernetes.io/basic-auth Secret in the install namespace (created or replaced). */
  async applySecret(name: string, password: string): Promise<void> {
    const body = { metadata: { name, namespace: installNamespace }, type: 'kubernetes.io/basic-auth', stringData: { username: 'ironlb', password } };
    try {
      await this.core.createNamespacedSecret({ namespace: installNamespace, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      await this.core.replaceNamespacedSecret({ name, namespace: installNamespace, body });
    }
  }

  async ensureNamespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
  }

  /** A dual-stack LoadBalancer Service (port 80). */
  async createService(namespace: string, name: string, opts: { externalTrafficPolicy?: 'Cluster' | 'Local'; pool?: string; singleStack?: boolean } = {}): Promise<void> {
    await this.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name, namespace, ...(opts.pool && { annotations: { 'metallb.io/address-pool': opts.pool } }) },
        spec: {
          type: 'LoadBalancer',
          ...(opts.singleStack ? { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] } : { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] }),
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          selector: { app: name },
          ...(opts.externalTrafficPolicy && { externalTrafficPolicy: opts.externalTrafficPolicy }),
        },
      },
    });
  }

  async setExternalTrafficPolicy(namespace: string, name: string, policy: 'Cluster' | 'Local'): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const svc = await this.core.readNamespacedService({ namespace, name });
      svc.spec!.externalTrafficPolicy = policy;
      try {
        await this.core.replaceNamespacedService({ namespace, name, body: svc });
        return;
      } catch (err) {
        // Someone (the controller) wrote the Service between our read and our write: read again.
        if ((err as { code?: number }).code !== 409 || attempt >= 5) throw err;
      }
    }
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedService({ namespace, name }).catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  }

  /** The Service's LoadBalancer IPs once the controller assigned them (all families it asked for). */
  async ingress(namespace: string, name: string, count = 2, timeoutMs = 120_000): Promise<string[]> {
    return waitFor(
      async () => {
        const svc = await this.core.readNamespacedService({ namespace, name });
        const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
        return ips.length >= count && ips;
      },
      { timeoutMs, intervalMs: 100, what: `LoadBalancer IPs for Service ${namespace}/${name}` },
    );
  }

  /** An EndpointSlice (per family) naming serving endpoints on the given nodes, as the EndpointSlice controller would. */
  async setEndpoints(namespace: string, service: string, nodes: readonly { node: string; ipv4: string; ipv6: string }[]): Promise<void> {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const name = `${service}-${family === 'IPv4' ? '4' : '6'}`;
      const body = {
        metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'test.ironlb.io' } },
        addressType: family,
        endpoints: nodes.map((n) => ({ addresses: [family === 'IPv4' ? n.ipv4 : n.ipv6], nodeName: n.node, conditions: { ready: true, serving: true, terminating: false } })),
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      };
      try {
        await this.discovery.createNamespacedEndpointSlice({ namespace, body });
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
        const existing = await this.discovery.readNamespacedEndpointSlice({ namespace, name });
        await this.discovery.replaceNamespacedEndpointSlice({ namespace, name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
      }
    }
  }

  async deleteEndpoints(namespace: string, service: string): Promise<void> {
    await this.discovery.deleteCollectionNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  }

  // ---- status objects the speakers write ----------------------------------------------------------

  async sessionStates(): Promise<SessionStateStatus[]> {
    const list = (await this.custom.listNamespacedCustomObject({ group, version: 'v1beta1', namespace: installNamespace, plural: 'bgpsessionstates' })) as {
      items: StatusItem<SessionStateStatus>[];
    };
    return list.items.map((i) => i.status ?? {});
  }

  async sessionState(node: string): Promise<SessionStateStatus | undefined> {
    return (await this.sessionStates()).find((s) => s.node === node);
  }

  async serviceBGPStatuses(namespace: string, service: string): Promise<ServiceBGPStatusStatus[]> {
    const list = (await this.custom.listNamespacedCustomObject({
      group,
      version: 'v1beta1',
      namespace: installNamespace,
      plural: 'servicebgpstatuses',
      labelSelector: `metallb.io/service-name=${service},metallb.io/service-namespace=${namespace}`,
    })) as { items: StatusItem<ServiceBGPStatusStatus>[] };
    return list.items.map((i) => i.status ?? {}).sort((a, b) => (a.node ?? '').localeCompare(b.node ?? ''));
  }

  // ---- the router's view ----------------------------------------------------------------------------

  /** Every path the router holds for the prefix (empty when it has none). */
  async paths(prefix: string): Promise<readonly BgpPath[]> {
    const p = normalizePrefix(prefix);
    return (await this.router.routes(familyOf(p))).get(p)?.paths ?? [];
  }

  /** The next hops of the router's paths for the prefix, sorted. */
  async nexthops(prefix: string): Promise<string[]> {
    return (await this.paths(prefix)).map((p) => p.nexthop ?? '').sort();
  }

  /** The gateways of the router's kernel route for the prefix, sorted (empty: no route). */
  async kernelNexthops(prefix: string): Promise<string[]> {
    const k = await this.router.kernelRoute(normalizePrefix(prefix));
    return (k?.nexthops ?? []).map((n) => n.gateway ?? n.dev ?? '').sort();
  }

  /**
   * The router's identity of its current session with a peer; a reset changes it (a dynamic neighbour
   * deleted and re-created included). FRR: state, established/dropped counts and the time it came up
   * (`upSince`, seconds, computed by FRR from its uptime: it may wobble by a second, so compare it with
   * sameSession()); BIRD: the protocol's name and "since"; GoBGP: the session's established timestamp.
   */
  async sessionMark(peer: string): Promise<SessionMark> {
    const r = this.router;
    if (r instanceof FrrRouter) {
      const [json] = await r.vtyshJson([`show bgp neighbor ${peer} json`]);
      const n = (json as Record<string, Record<string, unknown>>)[peer] ?? {};
      return {
        id: `state=${String(n.bgpState)} established=${String(n.connectionsEstablished)} dropped=${String(n.connectionsDropped)}`,
        upSince: Number(n.bgpTimerUpEstablishedEpoch),
        upMs: Number(n.bgpTimerUpMsec),
      };
    }
    if (r instanceof BirdRouter) {
      const protocol = parseBirdProtocols(await r.birdc('show', 'protocols', 'all')).find((p) => p.session.peer === peer);
      if (!protocol) return { id: 'none' };
      const out = await r.birdc('show', 'protocols', protocol.name);
      return { id: out.split('\n').find((l) => l.startsWith(protocol.name))?.replace(/\s+/g, ' ') ?? 'none' };
    }
    if (r instanceof GobgpRouter) {
      const n = JSON.parse(await r.gobgp('neighbor', peer, '-j')) as { state?: { session_state?: number }; timers?: { state?: { uptime?: { seconds?: number } } } };
      return { id: `state=${String(n.state?.session_state)} up-since=${String(n.timers?.state?.uptime?.seconds)}` };
    }
    return { id: 'unknown router' };
  }

  /** Everything the node's `ironlb speaker` logged so far. */
  speakerLog(node: string): string {
    const logs = join(this.lab.topology.dir, 'logs');
    return readdirSync(logs)
      .filter((f) => f.startsWith(`${node}-ironlb-speaker`))
      .map((f) => readFileSync(join(logs, f), 'utf8'))
      .join('');
  }

  // ---- diagnostics ------------------------------------------------------------------------------------

  /** The tails of the speakers' and the controller's logs, and the router's view, for a failed test. */
  async diagnostics(lines = 40): Promise<string> {
    const out: string[] = [];
    const logs = join(this.lab.topology.dir, 'logs');
    if (existsSync(logs)) {
      for (const f of readdirSync(logs).filter((f) => /speaker|controller/.test(f)).sort()) {
        const text = readFileSync(join(logs, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
        out.push(`--- ${f} (last ${lines} lines)\n${text}`);
      }
    }
    try {
      out.push(`--- router sessions\n${JSON.stringify([...(await this.router.sessions()).values()])}`);
      out.push(`--- router routes\n${JSON.stringify([...(await this.router.routes()).values()].map((r) => ({ prefix: r.prefix, nexthops: r.nexthops })))}`);
      out.push(`--- BGPSessionStates\n${JSON.stringify(await this.sessionStates())}`);
    } catch (err) {
      out.push(`(router/API not answering: ${(err as Error).message})`);
    }
    return out.join('\n');
  }
}

/** Speaker processes of the lab (the real `ironlb speaker`, one per node). */
export function speakerPids(lab: Lab): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of lab.topology.processes()) {
    if (p.name !== 'ironlb-speaker') continue;
    const host = [...lab.topology.hosts.keys()].find((h) => lab.topology.ns(h) === p.ns);
    if (host) out.set(host, p.pid);
  }
  return out;
}
