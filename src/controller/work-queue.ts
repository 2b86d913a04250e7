// A keyed work queue: a key queued while it is being processed runs once more afterwards, never twice at
// once; failures are retried with capped exponential backoff per key.
import type { Logger } from '../log/logger.ts';

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly order: string[] = [];
  private readonly inFlight = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    private readonly concurrency: number,
    private readonly log: Logger,
  ) {}

  add(key: string): void {
    if (this.inFlight.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.pump();
  }

  get length(): number {
    return this.queued.size + this.inFlight.size;
  }

  private pump(): void {
    while (this.inFlight.size < this.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      if (!this.queued.delete(key)) continue;
      this.inFlight.add(key);
      void this.run(key);
    }
    if (this.inFlight.size === 0 && this.order.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.handle(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(50 * 2 ** n, 30_000);
      this.log.warn({ key, err: (err as Error).message, retryInMs: delay }, 'reconcile failed; retrying');
      clearTimeout(this.retryTimers.get(key));
      this.retryTimers.set(
        key,
        setTimeout(() => {
          this.retryTimers.delete(key);
          this.add(key);
        }, delay),
      );
    } finally {
      this.inFlight.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  /** Resolves when nothing is queued or running (scheduled retries do not count). */
  drain(): Promise<void> {
    if (this.inFlight.size === 0 && this.order.length === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  stop(): void {
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
  }
}
