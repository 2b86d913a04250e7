// Kubernetes Events a user sees in `kubectl describe`. Repeats of the same event on the same object bump
// its count instead of creating a new Event, so a flapping condition cannot flood the API server.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { KubeApi } from './api.ts';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

interface Emitted {
  name: string;
  count: number;
  at: number;
}

const repeatWindowMs = 10 * 60_000;
/**
 * Events are written a few at a time, in order: a burst of allocations (a thousand Services created at
 * once) must not put a thousand Event writes ahead of the status writes that carry the IPs.
 */
const eventWritesInFlight = 4;
/** Events remembered for counting repeats. */
const recentCap = 10_000;

export class EventRecorder {
  private readonly api: KubeApi;
  private readonly recent = new Map<string, Emitted>();
  private sequence = 0;
  private writing = 0;
  private readonly waitingForSlot: (() => void)[] = [];

  constructor(
    kc: KubeConfig,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {
    this.api = new KubeApi(kc);
  }

  /** Records an event; never throws (an event that cannot be written is logged, not fatal). */
  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    // A finished write hands its slot straight to the next waiter.
    if (this.writing >= eventWritesInFlight) await new Promise<void>((r) => this.waitingForSlot.push(r));
    else this.writing++;
    try {
      await this.write(target, type, reason, message);
    } finally {
      const next = this.waitingForSlot.shift();
      if (next) next();
      else this.writing--;
    }
  }

  private async write(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${target.kind}/${target.namespace}/${target.name}/${target.uid ?? ''}/${reason}/${message}`;
    const now = new Date();
    const prev = this.recent.get(key);
    try {
      if (prev && now.getTime() - prev.at < repeatWindowMs) {
        prev.count++;
        prev.at = now.getTime();
        await this.api.mergePatch(
          { apiVersion: 'v1', plural: 'events', namespace: target.namespace, name: prev.name },
          { count: prev.count, lastTimestamp: now.toISOString() },
        );
        return;
      }
      const name = `${target.name}.${now.getTime().toString(16)}${(this.sequence++ % 4096).toString(16)}`;
      await this.api.create(
        { apiVersion: 'v1', plural: 'events', namespace: target.namespace },
        {
          metadata: { name, namespace: target.namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            namespace: target.namespace,
            name: target.name,
            uid: target.uid,
          },
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.instance,
        },
      );
      this.recent.set(key, { name, count: 1, at: now.getTime() });
      if (this.recent.size > recentCap) this.prune(now.getTime());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason, target: `${target.namespace}/${target.name}` }, 'could not record event');
    }
  }

  /**
   * Forgets expired entries, and if more than half the cap are still live (a burst of distinct events,
   * e.g. 10,000 Services allocated at once), the oldest: a later repeat of one of those then creates a
   * new Event instead of counting up, which is harmless. Halving keeps the pruning amortised O(1).
   */
  private prune(now: number): void {
    for (const [k, v] of this.recent) if (now - v.at > repeatWindowMs) this.recent.delete(k);
    for (const k of this.recent.keys()) {
      if (this.recent.size <= recentCap / 2) break;
      this.recent.delete(k);
    }
  }
}
