// The controller: watches Services and configuration, asks the allocator, writes status and Events.
// A thin shell: every decision is the allocator's or service-request's; this file gathers inputs,
// orders the work (restore every existing IP before allocating anything) and applies the result.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { Allocator, type AllocationRequest } from '../allocator/allocator.ts';
import type { Config } from '../config/model.ts';
import { ConfigWatcher } from '../k8s/config-watcher.ts';
import { EventRecorder, type EventTarget, type EventType } from '../k8s/event-recorder.ts';
import { ServiceWriter } from '../k8s/service-writer.ts';
import { WatchCache } from '../k8s/watch-cache.ts';
import type { Logger } from '../log/logger.ts';
import { ControllerMetrics, gaugeValue } from '../metrics/metrics.ts';
import { formatIP, type IPAddress } from '../net/address.ts';
import {
  annotationPrefix,
  annotations,
  buildRequest,
  isManagedService,
  serviceKey,
  statusIPs,
  type ServiceObject,
} from './service-request.ts';
import { WorkQueue } from './work-queue.ts';

export interface ControllerOptions {
  readonly namespace: string;
  readonly lbClass: string | undefined;
  readonly log: Logger;
  readonly metrics: ControllerMetrics;
  /** Concurrent API writes. */
  readonly concurrency?: number;
}

type Service = ServiceObject & KubernetesObject;

const ipList = (ips: readonly IPAddress[]): string[] => ips.map(formatIP);
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class Controller {
  readonly allocator = new Allocator();
  private readonly services: WatchCache<Service>;
  private readonly namespaces: WatchCache<KubernetesObject>;
  private readonly nodes: WatchCache<KubernetesObject>;
  private readonly config: ConfigWatcher;
  private readonly recorder: EventRecorder;
  private readonly writer: ServiceWriter;
  private readonly queue: WorkQueue;
  /** Services that wanted an address and did not get one; retried whenever addresses free up. */
  private readonly pending = new Set<string>();
  private readonly dirtyPools = new Set<string>();
  private poolTimer: NodeJS.Timeout | undefined;
  private restored = false;
  private readonly log: Logger;

  constructor(
    kc: KubeConfig,
    private readonly opts: ControllerOptions,
  ) {
    this.log = opts.log;
    this.services = new WatchCache<Service>(kc, { apiVersion: 'v1', plural: 'services' }, opts.log);
    this.namespaces = new WatchCache(kc, { apiVersion: 'v1', plural: 'namespaces' }, opts.log);
    this.nodes = new WatchCache(kc, { apiVersion: 'v1', plural: 'nodes' }, opts.log);
    this.recorder = new EventRecorder(kc, 'metallb-controller', process.env.HOSTNAME ?? 'ironlb-controller', opts.log);
    this.writer = new ServiceWriter(kc);
    this.queue = new WorkQueue((key) => this.reconcile(key), opts.concurrency ?? 32, opts.log);
    this.config = new ConfigWatcher(kc, {
      namespace: opts.namespace,
      stateName: 'controller',
      recorder: this.recorder,
      metrics: opts.metrics,
      log: opts.log,
      nodes: this.nodes,
      onConfig: (c) => this.onConfig(c),
      watchSecrets: false,
    });
    this.services.onChange((_kind, svc) => {
      if (this.restored) this.queue.add(serviceKey(svc));
    });
    this.namespaces.onChange((kind, ns) => {
      if (!this.restored || kind === 'add') return;
      // serviceAllocation may select on namespace labels: re-check that namespace's services.
      for (const svc of this.services.list()) if (svc.metadata?.namespace === ns.metadata?.name) this.queue.add(serviceKey(svc));
    });
  }

  /** Lists everything, restores every IP already in a status, then starts allocating. */
  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.namespaces.start(), this.nodes.start()]);
    await this.config.start();
    this.restoreFromStatus();
    this.restored = true;
    for (const svc of this.services.list()) this.queue.add(serviceKey(svc));
    this.log.info({ services: this.services.list().length }, 'controller started');
  }

  isReady(): boolean {
    return this.restored;
  }

  async stop(): Promise<void> {
    clearTimeout(this.poolTimer);
    this.queue.stop();
    await this.queue.drain();
    await Promise.all([this.services.stop(), this.namespaces.stop(), this.nodes.stop(), this.config.stop()]);
  }

  /** Resolves when no work is queued or in flight (tests and benchmarks use it). */
  idle(): Promise<void> {
    return this.queue.drain();
  }

  private onConfig(config: Config): void {
    this.allocator.setPools(config.pools.values());
    for (const pool of config.pools.keys()) this.dirtyPools.add(pool);
    this.schedulePoolStatus();
    // Before restore the allocator only learns pools; restore then runs against them.
    if (this.restored) for (const svc of this.services.list()) this.queue.add(serviceKey(svc));
  }

  private namespaceLabels(ns: string): Record<string, string> {
    return this.namespaces.get(ns)?.metadata?.labels ?? {};
  }

  /**
   * Restart stability: every managed service keeps the IP in its status. Oldest first, so if two claim
   * one address incompatibly the older keeps it. Runs before any pending service is allocated.
   */
  private restoreFromStatus(): void {
    const svcs = this.services
      .list()
      .filter((s) => isManagedService(s, this.opts.lbClass) && statusIPs(s).length > 0)
      .sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')));
    let restored = 0;
    for (const svc of svcs) {
      const req = this.requestForRestore(svc);
      const result = this.allocator.assign(req, statusIPs(svc));
      if (result.ok) {
        restored++;
        this.dirtyPools.add(result.pool);
      } else {
        this.log.warn({ service: serviceKey(svc), reason: result.reason }, 'existing IP cannot be kept; will reallocate');
      }
    }
    this.log.info({ restored, candidates: svcs.length }, 'restored assignments from service status');
    this.schedulePoolStatus();
  }

  /** The request used to keep an existing IP: a malformed annotation must not cost a service its IP. */
  private requestForRestore(svc: Service): AllocationRequest {
    const built = buildRequest(svc, this.namespaceLabels(svc.metadata?.namespace ?? ''));
    if (built.ok) return built.request;
    return {
      key: serviceKey(svc),
      namespace: svc.metadata?.namespace ?? '',
      labels: svc.metadata?.labels ?? {},
      namespaceLabels: this.namespaceLabels(svc.metadata?.namespace ?? ''),
      families: statusIPs(svc).map((ip) => ip.family),
      familyPolicy: statusIPs(svc).length > 1 ? 'RequireDualStack' : 'SingleStack',
      requestedIPs: [],
      poolName: undefined,
      sharingKey: undefined,
      ports: (svc.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port ?? 0 })),
      externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      selector: svc.spec?.selector,
    };
  }

  private target(svc: Service): EventTarget {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      namespace: svc.metadata?.namespace ?? '',
      name: svc.metadata?.name ?? '',
      uid: svc.metadata?.uid,
    };
  }

  private event(svc: Service, type: EventType, reason: string, message: string): void {
    void this.recorder.record(this.target(svc), type, reason, message);
  }

  private release(key: string): void {
    const had = this.allocator.assignmentOf(key);
    if (!had) return;
    this.allocator.release(key);
    this.dirtyPools.add(had.pool);
    this.schedulePoolStatus();
    // Freed addresses: give every waiting service another chance.
    for (const waiting of this.pending) if (waiting !== key) this.queue.add(waiting);
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const svc = this.services.get(name, namespace);
    if (!svc || !isManagedService(svc, this.opts.lbClass)) {
      this.pending.delete(key);
      const had = this.allocator.assignmentOf(key);
      this.release(key);
      // Clear only what this controller wrote: a service it held, or one that stopped being a
      // LoadBalancer with our pool annotation on it. A LoadBalancer of another class belongs to another
      // controller (another --lb-class), whose status must be left alone.
      const ours = had !== undefined || (svc !== undefined && svc.spec?.type !== 'LoadBalancer' && this.poolAnnotation(svc) !== undefined);
      if (svc && ours && !svc.metadata?.deletionTimestamp && (statusIPs(svc).length > 0 || this.poolAnnotation(svc))) {
        // Type changed away from LoadBalancer (or class changed): clear what we wrote.
        await this.clearAssignment(svc);
        if (had) this.event(svc, 'Normal', 'ClearAssignment', `released ${ipList(had.ips).join(', ')}: service is no longer a LoadBalancer managed here`);
      }
      return;
    }
    const config = this.config.current();
    if (!config || config.pools.size === 0) {
      // No pools at all is far more likely a missing configuration (CRDs uninstalled, ConfigMap not yet
      // created during a migration) than an intent to take every IP away: keep what services hold.
      this.pending.add(key);
      const held = this.allocator.assignmentOf(key);
      this.event(
        svc,
        'Warning',
        'AllocationFailed',
        (config ? 'the configuration has no address pools' : 'no valid IronLB/MetalLB configuration has been loaded yet') +
          (held ? `; keeping ${ipList(held.ips).join(', ')}` : ''),
      );
      return;
    }

    const built = buildRequest(svc, this.namespaceLabels(namespace));
    for (const dep of built.deprecatedAnnotations) {
      this.event(svc, 'Warning', 'deprecatedAnnotation', `annotation ${dep} is deprecated; use ${annotationPrefix}${dep.split('/')[1]}`);
    }
    const current = this.allocator.assignmentOf(key);
    if (!built.ok) {
      // Bad input never costs a working service its IP: keep it and say what is wrong.
      this.event(svc, 'Warning', 'AllocationFailed', built.reason + (current ? `; keeping ${ipList(current.ips).join(', ')}` : ''));
      if (!current) this.pending.add(key);
      return;
    }
    const req = built.request;

    if (current && this.allocator.isStillValid(req)) {
      this.pending.delete(key);
      await this.ensureStatus(svc, current.ips, current.pool);
      return;
    }
    if (current) {
      const why = this.allocator.validityProblem(req) ?? 'it is no longer allowed';
      this.release(key);
      this.event(svc, 'Normal', 'ClearAssignment', `released ${ipList(current.ips).join(', ')}: ${why}; reallocating`);
    } else if (statusIPs(svc).length > 0) {
      // An IP in status that the allocator does not hold (written before we started, or by a migration):
      // keep it if the rules allow.
      const kept = this.allocator.assign(req, statusIPs(svc));
      if (kept.ok && this.allocator.isStillValid(req)) {
        this.pending.delete(key);
        this.dirtyPools.add(kept.pool);
        this.schedulePoolStatus();
        await this.ensureStatus(svc, kept.ips, kept.pool);
        return;
      }
      if (kept.ok) this.allocator.release(key);
    }

    const result = this.allocator.allocate(req);
    if (!result.ok) {
      this.pending.add(key);
      this.opts.metrics.allocationFailures.inc({ reason: result.reason.split(' ').slice(0, 3).join(' ') });
      this.event(svc, 'Warning', 'AllocationFailed', result.reason);
      await this.clearAssignment(svc);
      return;
    }
    this.pending.delete(key);
    this.dirtyPools.add(result.pool);
    this.schedulePoolStatus();
    await this.ensureStatus(svc, result.ips, result.pool);
    this.event(svc, 'Normal', 'IPAllocated', `Assigned IP ${JSON.stringify(ipList(result.ips))} from pool "${result.pool}"`);
  }

  private poolAnnotation(svc: Service): string | undefined {
    return svc.metadata?.annotations?.[annotationPrefix + annotations.ipAllocatedFromPool];
  }

  private async ensureStatus(svc: Service, ips: readonly IPAddress[], pool: string): Promise<void> {
    const namespace = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const want = ipList(ips);
    const have = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
    const ipModeMissing = (svc.status?.loadBalancer?.ingress ?? []).some((i) => (i as { ipMode?: string }).ipMode !== 'VIP');
    if (!sameList(want, have) || ipModeMissing) await this.writer.writeAssignment(namespace, name, want, pool);
    else if (this.poolAnnotation(svc) !== pool) await this.writer.writePoolAnnotation(namespace, name, pool);
  }

  /** Removes the IP and the pool annotation, if either is there. */
  private async clearAssignment(svc: Service): Promise<void> {
    const namespace = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    if (statusIPs(svc).length > 0) await this.writer.writeAssignment(namespace, name, [], undefined);
    else if (this.poolAnnotation(svc)) await this.writer.writePoolAnnotation(namespace, name, undefined);
  }

  private schedulePoolStatus(): void {
    if (this.poolTimer) return;
    this.poolTimer = setTimeout(() => {
      this.poolTimer = undefined;
      void this.flushPoolStatus();
    }, 250);
  }

  private async flushPoolStatus(): Promise<void> {
    const config = this.config.current();
    const pools = [...this.dirtyPools];
    this.dirtyPools.clear();
    const m = this.opts.metrics;
    for (const pool of pools) {
      if (!config?.pools.has(pool)) {
        for (const g of [m.addressesTotal, m.addressesInUse, m.ipv4AddressesTotal, m.ipv4AddressesInUse, m.ipv6AddressesTotal, m.ipv6AddressesInUse]) g.remove({ pool });
        continue;
      }
      const s = this.allocator.poolStats(pool);
      m.addressesTotal.set({ pool }, gaugeValue(s.assignedIPv4 + s.availableIPv4 + s.assignedIPv6 + s.availableIPv6));
      m.addressesInUse.set({ pool }, gaugeValue(s.assignedIPv4 + s.assignedIPv6));
      m.ipv4AddressesTotal.set({ pool }, gaugeValue(s.assignedIPv4 + s.availableIPv4));
      m.ipv4AddressesInUse.set({ pool }, gaugeValue(s.assignedIPv4));
      m.ipv6AddressesTotal.set({ pool }, gaugeValue(s.assignedIPv6 + s.availableIPv6));
      m.ipv6AddressesInUse.set({ pool }, gaugeValue(s.assignedIPv6));
      try {
        await this.writer.writePoolStatus(this.opts.namespace, pool, s);
      } catch (err) {
        // A pool from the legacy ConfigMap has no object to write to; that is expected.
        const code = (err as { code?: number }).code;
        if (code !== 404) this.log.warn({ pool, err: (err as Error).message }, 'could not write pool status');
      }
    }
  }
}
