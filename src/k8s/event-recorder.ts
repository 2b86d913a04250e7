// Kubernetes Events a user sees in `kubectl describe`. Repeats of the same event on the same object bump
// its count instead of creating a new Event, so a flapping condition cannot flood the API server.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';

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

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const repeatWindowMs = 10 * 60_000;
/**
 * Events are written a few at a time, in order: a burst of allocations (a thousand Services created at
 * once) must not put a thousand Event writes ahead of the status writes that carry the IPs.
 */
const eventWritesInFlight = 4;

export class EventRecorder {
  private readonly api: CoreV1Api;
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
    this.api = kc.makeApiClient(CoreV1Api);
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
        await this.api.patchNamespacedEvent(
          { name: prev.name, namespace: target.namespace, body: { count: prev.count, lastTimestamp: now.toISOString() } },
          mergePatch,
        );
        return;
      }
      const name = `${target.name}.${now.getTime().toString(16)}${(this.sequence++ % 4096).toString(16)}`;
      await this.api.createNamespacedEvent({
        namespace: target.namespace,
        body: {
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
      });
      this.recent.set(key, { name, count: 1, at: now.getTime() });
      if (this.recent.size > 10_000) this.prune(now.getTime());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason, target: `${target.namespace}/${target.name}` }, 'could not record event');
    }
  }

  private prune(now: number): void {
    for (const [k, v] of this.recent) if (now - v.at > repeatWindowMs) this.recent.delete(k);
  }
}
