// The speaker: one per node. Gathers Services, EndpointSlices, Nodes, configuration and live speakers,
// asks the pure planner what THIS node announces, and hands the result to the BGP and Layer2 drivers
// as desired state. Also keeps its status objects and metrics equal to what it announces.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock, type Timer } from '../clock/clock.ts';
import type { ServiceObject } from '../controller/service-request.ts';
import type { Config } from '../config/model.ts';
import { ConfigWatcher } from '../k8s/config-watcher.ts';
import { EventRecorder } from '../k8s/event-recorder.ts';
import { serviceNameLabel, serviceNamespaceLabel, StatusSet, type StatusObject } from '../k8s/speaker-status.ts';
import { WatchCache } from '../k8s/watch-cache.ts';
import type { Logger } from '../log/logger.ts';
import type { SpeakerMetrics } from '../metrics/metrics.ts';
import { formatIP } from '../net/address.ts';
import type { BGPDriver, L2Driver, L2Target, LivenessSource } from './drivers.ts';
import { Coalescer } from './coalescer.ts';
import {
  endpointSliceForSpeaker,
  nodeForSpeaker,
  nodeInfo,
  nodeReady,
  serviceForSpeaker,
  ServiceInfoIndex,
  type EndpointSliceObject,
  type NodeObject,
} from './inputs.ts';
import { BGPPlanner, noRoutes, peersForNode, planL2, prefixKey, type BGPRoute, type NodeInfo, type PlanInput } from './plan.ts';

export interface SpeakerOptions {
  readonly nodeName: string;
  readonly namespace: string;
  readonly lbClass: string | undefined;
  readonly log: Logger;
  readonly metrics: SpeakerMetrics;
  readonly bgp?: BGPDriver;
  readonly l2?: L2Driver;
  /** Membership; without it, Kubernetes' Node Ready condition decides who is alive. */
  readonly liveness?: LivenessSource;
  readonly ignoreExcludeLabel?: boolean;
  /** How long this node keeps answering for an IP that moved to another node (make-before-break). */
  readonly handoverGraceMs?: number;
  readonly clock?: Clock;
}

interface Lingering {
  readonly target: L2Target;
  readonly until: number;
}

type RoutesByPeer = ReadonlyMap<string, readonly BGPRoute[]>;

/**
 * When to recompute after a change (see Coalescer): 5 ms after the first event following quiet (the
 * events of one change arrive together); under a stream of events, pausing at least 4× the last
 * computation (planning takes at most a fifth of the CPU however many Services there are) and, as the
 * stream goes on, longer, up to 250 ms.
 */
export const recomputeTiming = { delayMs: 5, busyFactor: 4, maxPauseMs: 250 } as const;

/** CPU time of this process in ms: what a computation costs, whatever else the machine runs. */
const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

type AnnouncedLabels = { service: string; protocol: string; node: string; ip: string };

interface BuiltStatus {
  readonly fingerprint: string;
  readonly object: StatusObject;
}

export class Speaker {
  private readonly services: WatchCache<ServiceObject & KubernetesObject>;
  private readonly slices: WatchCache<EndpointSliceObject & KubernetesObject>;
  private readonly nodes: WatchCache<NodeObject & KubernetesObject>;
  private readonly config: ConfigWatcher;
  private readonly l2Statuses: StatusSet;
  private readonly bgpStatuses: StatusSet;
  private readonly sessionStatuses: StatusSet;
  private readonly clock: Clock;
  private readonly lingering = new Map<string, Lingering>();
  private currentL2 = new Map<string, L2Target>();
  private readonly recompute: Coalescer;
  private lingerTimer: Timer | undefined;
  private started = false;
  private stopping = false;
  /** metallb_speaker_announced series currently set for Layer2, by their labels joined: only changes touch the registry. */
  private l2Series = new Map<string, AnnouncedLabels>();
  /** The same for BGP, per service: kept up to date for the services whose routes changed. */
  private readonly bgpSeries = new Map<string, Map<string, AnnouncedLabels>>();
  private readonly serviceIndex: ServiceInfoIndex;
  private readonly bgpPlanner = new BGPPlanner();
  /** The routes the BGP status objects and series were last derived from, and, per service, its routes by peer. */
  private statusRoutes: RoutesByPeer = noRoutes;
  private readonly routesByService = new Map<string, Map<string, Set<BGPRoute>>>();
  private readonly updatesCounted = new Map<string, number>();
  /** Last computation's status objects by id, for reuse when unchanged. */
  private l2Built = new Map<string, BuiltStatus>();
  private readonly bgpBuilt = new Map<string, BuiltStatus>();
  /** Per peer: the session's `since` and its wall-clock form, so an unchanged session writes an identical status. */
  private readonly transitionTimes = new Map<string, { since: number; iso: string }>();

  constructor(
    kc: KubeConfig,
    private readonly opts: SpeakerOptions,
  ) {
    const { log, namespace, nodeName } = opts;
    this.clock = opts.clock ?? systemClock;
    this.serviceIndex = new ServiceInfoIndex(opts.lbClass);
    // With an injected (test) clock, costs are measured in its time; for real, in CPU time.
    this.recompute = new Coalescer(this.clock, () => this.compute(), { ...recomputeTiming, ...(opts.clock ? {} : { cpuNow: processCpuMs }) });
    this.services = new WatchCache(kc, { apiVersion: 'v1', plural: 'services' }, log, { project: serviceForSpeaker });
    this.slices = new WatchCache(kc, { apiVersion: 'discovery.k8s.io/v1', plural: 'endpointslices' }, log, { project: endpointSliceForSpeaker });
    this.nodes = new WatchCache(kc, { apiVersion: 'v1', plural: 'nodes' }, log, { project: nodeForSpeaker });
    const recorder = new EventRecorder(kc, 'metallb-speaker', nodeName, log);
    this.config = new ConfigWatcher(kc, {
      namespace,
      stateName: `speaker-${nodeName}`,
      recorder,
      metrics: opts.metrics,
      log,
      nodes: this.nodes,
      onConfig: () => this.schedule(),
      watchSecrets: true,
    });
    this.l2Statuses = new StatusSet(kc, 'servicel2statuses', namespace, nodeName, log);
    this.bgpStatuses = new StatusSet(kc, 'servicebgpstatuses', namespace, nodeName, log);
    this.sessionStatuses = new StatusSet(kc, 'bgpsessionstates', namespace, nodeName, log);
    for (const c of [this.services, this.slices, this.nodes] as WatchCache<KubernetesObject>[]) c.onChange(() => this.schedule());
    opts.liveness?.onChange(() => this.schedule());
    opts.bgp?.onStatusChange(() => this.writeSessionStatus());
  }

  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.slices.start(), this.nodes.start()]);
    await Promise.all([this.config.start(), this.l2Statuses.start(), this.bgpStatuses.start(), this.sessionStatuses.start()]);
    this.started = true;
    this.recompute.runNow();
    this.opts.log.info({ node: this.opts.nodeName }, 'speaker started');
  }

  isReady(): boolean {
    return this.started && this.config.current() !== undefined;
  }

  /**
   * Planned shutdown, make-before-break: tell the other speakers we leave (they elect new owners and
   * announce at once), keep answering for the grace period, then withdraw and close.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.recompute.stop();
    this.lingerTimer?.cancel();
    await this.opts.liveness?.leave().catch(() => undefined);
    if (this.currentL2.size > 0) {
      // Keep answering, but stop announcing: a gratuitous round now would pull clients back from the
      // nodes taking over.
      this.opts.l2?.setTargets([...this.currentL2.values(), ...[...this.lingering.values()].map((l) => l.target)].map((t) => ({ ...t, quiet: true })));
      await new Promise((r) => this.clock.setTimer(this.opts.handoverGraceMs ?? 1000, () => r(undefined)));
    }
    await Promise.all([this.opts.l2?.stop(), this.opts.bgp?.stop()]);
    await this.opts.liveness?.stop();
    await Promise.all([this.l2Statuses.set([]), this.bgpStatuses.set([]), this.sessionStatuses.set([])]).catch(() => undefined);
    await Promise.all([this.services.stop(), this.slices.stop(), this.nodes.stop(), this.config.stop()]);
    await Promise.all([this.l2Statuses.stop(), this.bgpStatuses.stop(), this.sessionStatuses.stop()]);
  }

  private schedule(): void {
    if (!this.started || this.stopping) return;
    this.recompute.request();
  }

  private liveSpeakers(nodes: ReadonlyMap<string, NodeInfo>): ReadonlySet<string> {
    if (this.opts.liveness) return this.opts.liveness.alive();
    const live = new Set<string>();
    for (const n of this.nodes.list()) if (nodeReady(n) && nodes.has(n.metadata?.name ?? '')) live.add(n.metadata!.name!);
    live.add(this.opts.nodeName);
    return live;
  }

  /** Recomputes the whole desired state and hands it to the drivers. */
  compute(): void {
    const config = this.config.current();
    if (!config || this.stopping) return;
    const nodes = new Map<string, NodeInfo>();
    for (const n of this.nodes.list()) {
      const info = nodeInfo(n);
      nodes.set(info.name, info);
    }
    const input: PlanInput = {
      config,
      services: this.serviceIndex.update(this.services.list(), this.slices.list()),
      nodes,
      self: this.opts.nodeName,
      liveSpeakers: this.liveSpeakers(nodes),
      ignoreExcludeLabel: this.opts.ignoreExcludeLabel,
    };
    const routes = this.applyBGP(config, input, nodes.get(this.opts.nodeName));
    const l2 = this.applyL2(input);
    this.writeServiceStatus(routes, l2);
  }

  private applyBGP(config: Config, input: PlanInput, self: NodeInfo | undefined): RoutesByPeer {
    if (!this.opts.bgp) return noRoutes;
    // Sessions stay up on an excluded node; it just advertises nothing (the planner returns no routes).
    const peers = self ? peersForNode(config, self) : [];
    const routes = this.bgpPlanner.plan(input);
    this.opts.bgp.apply(peers, routes, config.bfdProfiles);
    return routes;
  }

  private applyL2(input: PlanInput): Map<string, { target: L2Target; services: readonly string[] }> {
    const out = new Map<string, { target: L2Target; services: readonly string[] }>();
    if (!this.opts.l2) return out;
    const isolated = this.opts.liveness?.isolated() ?? false;
    this.opts.metrics.membershipIsolated.set(isolated ? 1 : 0);
    if (this.opts.liveness) this.opts.metrics.membersAlive.set(this.opts.liveness.alive().size);
    // Self-fence: a node cut off from every other speaker stops answering (see membership.ts).
    const plan = isolated ? [] : planL2(input);
    const now = this.clock.now();
    const desired = new Map<string, L2Target>();
    for (const a of plan) {
      const k = formatIP(a.ip);
      desired.set(k, { ip: a.ip, interfaces: a.interfaces });
      out.set(k, { target: { ip: a.ip, interfaces: a.interfaces }, services: a.services });
      this.lingering.delete(k);
    }
    if (isolated) this.lingering.clear();
    else {
      for (const [k, t] of this.currentL2) {
        if (!desired.has(k) && !this.lingering.has(k)) this.lingering.set(k, { target: t, until: now + (this.opts.handoverGraceMs ?? 1000) });
      }
    }
    const effective = new Map(desired);
    let nextExpiry = Infinity;
    for (const [k, l] of this.lingering) {
      if (l.until <= now) {
        this.lingering.delete(k);
        continue;
      }
      // Handed over: answered, never announced (a gratuitous round would pull clients back to us).
      effective.set(k, { ...l.target, quiet: true });
      nextExpiry = Math.min(nextExpiry, l.until);
    }
    this.opts.l2.setTargets([...effective.values()]);
    this.currentL2 = desired;
    this.lingerTimer?.cancel();
    if (nextExpiry < Infinity) {
      this.lingerTimer = this.clock.setTimer(nextExpiry - now + 1, () => {
        this.lingerTimer = undefined;
        this.recompute.runNow();
      });
    }
    return out;
  }

  /**
   * ServiceL2Status and ServiceBGPStatus objects and the announced metric, from what was just handed to
   * the drivers. Writing them never holds up announcing: the drivers have their state already. An object
   * whose content did not change is the same object as last time, so the StatusSet skips it cheaply.
   */
  private writeServiceStatus(routes: RoutesByPeer, l2: Map<string, { target: L2Target; services: readonly string[] }>): void {
    const node = this.opts.nodeName;
    const series = new Map<string, AnnouncedLabels>();
    const answered = new Map((this.opts.l2?.answeredIPs() ?? []).map((a) => [a.ip, a.interfaces]));
    const l2Interfaces = new Map<string, Set<string>>();
    for (const [ip, a] of l2) {
      for (const svc of a.services) {
        const key = `${svc}\0layer2\0${ip}`;
        if (!series.has(key)) series.set(key, { service: svc, protocol: 'layer2', node, ip });
        let interfaces = l2Interfaces.get(svc);
        if (!interfaces) l2Interfaces.set(svc, (interfaces = new Set()));
        for (const i of answered.get(ip) ?? a.target.interfaces) interfaces.add(i);
      }
    }
    const l2Objects: StatusObject[] = [];
    const l2Built = new Map<string, BuiltStatus>();
    for (const [svc, set] of l2Interfaces) {
      const interfaces = [...set].sort();
      l2Objects.push(
        this.reuseStatus(this.l2Built, l2Built, `l2/${svc}`, interfaces.join('\0'), (ns, name) => ({
          node,
          serviceName: name,
          serviceNamespace: ns,
          interfaces: interfaces.map((n) => ({ name: n })),
        })),
      );
    }
    this.l2Built = l2Built;
    this.updateSeries(this.l2Series, series);
    this.l2Series = series;
    void this.l2Statuses.set(l2Objects);

    if (routes === this.statusRoutes) return;
    for (const svc of this.updateRoutesByService(routes)) this.refreshBGPStatus(svc);
    this.statusRoutes = routes;
    void this.bgpStatuses.set([...this.bgpBuilt.values()].map((b) => b.object));
  }

  /**
   * Brings routesByService from the last routes to `routes`, comparing route objects (the planner keeps
   * an unchanged route's object and an unchanged peer's array). Returns the services whose routes changed.
   */
  private updateRoutesByService(routes: RoutesByPeer): Set<string> {
    const touched = new Set<string>();
    const edit = (peer: string, route: BGPRoute, add: boolean) => {
      for (const svc of route.services) {
        touched.add(svc);
        let byPeer = this.routesByService.get(svc);
        if (!byPeer) this.routesByService.set(svc, (byPeer = new Map()));
        let set = byPeer.get(peer);
        if (!set) byPeer.set(peer, (set = new Set()));
        if (add) set.add(route);
        else set.delete(route);
      }
    };
    for (const peer of new Set([...this.statusRoutes.keys(), ...routes.keys()])) {
      const before = this.statusRoutes.get(peer) ?? [];
      const after = routes.get(peer) ?? [];
      if (before === after) continue;
      const kept = new Set(after);
      for (const r of before) if (!kept.has(r)) edit(peer, r, false);
      const had = new Set(before);
      for (const r of after) if (!had.has(r)) edit(peer, r, true);
    }
    return touched;
  }

  /** One service's ServiceBGPStatus and announced series, from its routes. */
  private refreshBGPStatus(svc: string): void {
    const node = this.opts.nodeName;
    const byPeer = this.routesByService.get(svc);
    const peers: string[] = [];
    const series = new Map<string, AnnouncedLabels>();
    for (const [peer, set] of byPeer ?? []) {
      if (set.size === 0) {
        byPeer!.delete(peer);
        continue;
      }
      peers.push(peer);
      for (const r of set) {
        const ip = prefixKey(r.prefix);
        const key = `${svc}\0bgp\0${ip}`;
        if (!series.has(key)) series.set(key, { service: svc, protocol: 'bgp', node, ip });
      }
    }
    this.updateSeries(this.bgpSeries.get(svc) ?? new Map(), series);
    const id = `bgp/${svc}`;
    if (peers.length === 0) {
      this.routesByService.delete(svc);
      this.bgpSeries.delete(svc);
      this.bgpBuilt.delete(id);
      return;
    }
    this.bgpSeries.set(svc, series);
    peers.sort();
    this.bgpBuilt.set(id, this.buildStatus(this.bgpBuilt, id, peers.join('\0'), (ns, name) => ({ node, serviceName: name, serviceNamespace: ns, peers })));
  }

  /** The status object for `id` ("l2/ns/name"): last time's when its content (`fingerprint`) is unchanged. */
  private reuseStatus(
    previous: ReadonlyMap<string, BuiltStatus>,
    next: Map<string, BuiltStatus>,
    id: string,
    fingerprint: string,
    status: (namespace: string, name: string) => Record<string, unknown>,
  ): StatusObject {
    const built = this.buildStatus(previous, id, fingerprint, status);
    next.set(id, built);
    return built.object;
  }

  private buildStatus(
    previous: ReadonlyMap<string, BuiltStatus>,
    id: string,
    fingerprint: string,
    status: (namespace: string, name: string) => Record<string, unknown>,
  ): BuiltStatus {
    const before = previous.get(id);
    if (before && before.fingerprint === fingerprint) return before;
    const svc = id.slice(id.indexOf('/') + 1);
    const [ns, name] = svc.split('/') as [string, string];
    return { fingerprint, object: { id, labels: { [serviceNameLabel]: name, [serviceNamespaceLabel]: ns }, status: status(ns, name) } };
  }

  /** Moves metallb_speaker_announced from the series `before` to `after`, touching only the ones that changed. */
  private updateSeries(before: ReadonlyMap<string, AnnouncedLabels>, after: ReadonlyMap<string, AnnouncedLabels>): void {
    const gauge = this.opts.metrics.announced;
    for (const [key, labels] of before) if (!after.has(key)) gauge.remove(labels);
    for (const [key, labels] of after) if (!before.has(key)) gauge.set(labels, 1);
  }

  private writeSessionStatus(): void {
    const bgp = this.opts.bgp;
    if (!bgp || this.stopping) return;
    const metrics = this.opts.metrics;
    const objects: StatusObject[] = bgp.status().map((s) => {
      metrics.bgpSessionUp.set({ peer: s.address }, s.state === 'Established' ? 1 : 0);
      metrics.bgpAnnouncedPrefixes.set({ peer: s.address }, s.prefixesSent);
      metrics.bgpPendingPrefixes.set({ peer: s.address }, s.pendingPrefixes ?? 0);
      // The counter follows the driver's cumulative count.
      const counted = this.updatesCounted.get(s.peer) ?? 0;
      if ((s.updatesSent ?? 0) > counted) metrics.bgpUpdatesTotal.inc({ peer: s.address }, (s.updatesSent ?? 0) - counted);
      this.updatesCounted.set(s.peer, s.updatesSent ?? 0);
      if (s.bfdState !== undefined) metrics.bfdSessionUp.set({ peer: s.address }, s.bfdState === 'Up' ? 1 : 0);
      return {
        id: `session/${s.peer}`,
        labels: {},
        status: {
          node: this.opts.nodeName,
          peer: s.address,
          peerName: s.peer,
          bgpStatus: s.state,
          bfdStatus: s.bfdState ?? 'N/A',
          lastTransitionTime: this.transitionTime(s.peer, s.since),
          prefixesSent: s.prefixesSent,
          lastError: s.lastError ?? '',
        },
      };
    });
    void this.sessionStatuses.set(objects);
  }

  /** The wall-clock time of a session's last transition, computed once per transition (not per status write). */
  private transitionTime(peer: string, since: number): string {
    const known = this.transitionTimes.get(peer);
    if (known?.since === since) return known.iso;
    const iso = new Date(Date.now() - (this.clock.now() - since)).toISOString();
    this.transitionTimes.set(peer, { since, iso });
    return iso;
  }
}
