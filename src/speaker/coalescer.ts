// Runs a recomputation soon after a change, but no more often than it can afford while changes keep
// coming. The first request after a quiet period runs `delayMs` later (latency: one Service created is
// announced at once). After a run, the next one waits a pause: at least `busyFactor` times that run's
// duration, so recomputing takes at most 1/(1 + busyFactor) of the CPU however big the input; and while
// requests keep arriving within the pauses, the pause doubles from `delayMs` up to `maxPauseMs`, so a
// stream of watch events (1,000 Services being created) costs a few runs a second, each handling
// everything that arrived meanwhile. A request after a full pause is quiet again.
import type { Clock, Timer } from '../clock/clock.ts';

export interface CoalescerOptions {
  /** Delay of the first run after quiet: lets the events of one change (object + status) arrive together. */
  readonly delayMs: number;
  /** The pause after a run is at least this multiple of how long it took. */
  readonly busyFactor: number;
  /** The pause never exceeds this, however slow a run was or long the stream (bounds staleness). */
  readonly maxPauseMs: number;
  /**
   * Milliseconds of CPU this process has used (default: the clock): a run's cost is the CPU it took,
   * not the wall time, which on a busy machine includes waiting for a core and would stretch the pause
   * after a single cheap run into a delay of the next change.
   */
  readonly cpuNow?: () => number;
}

export class Coalescer {
  private timer: Timer | undefined;
  /** When the next run may start at the earliest. */
  private notBefore = -Infinity;
  /** Runs in a row requested during the pause after the previous one. */
  private streak = 0;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly run: () => void,
    private readonly options: CoalescerOptions,
  ) {}

  /** Something changed: run soon. Requests made while a run is pending are folded into it. */
  request(): void {
    if (this.timer || this.stopped) return;
    const now = this.clock.now();
    this.streak = now < this.notBefore ? this.streak + 1 : 0;
    const at = Math.max(now + this.options.delayMs, this.notBefore);
    this.timer = this.clock.setTimer(at - now, () => {
      this.timer = undefined;
      this.runNow();
    });
  }

  /** Runs at once; a pending run is dropped, as this one sees every change requested so far. */
  runNow(): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = undefined;
    const cpuNow = this.options.cpuNow ?? (() => this.clock.now());
    const startCpu = cpuNow();
    try {
      this.run();
    } finally {
      const cost = cpuNow() - startCpu;
      const { delayMs, busyFactor, maxPauseMs } = this.options;
      const streamPause = this.streak === 0 ? 0 : delayMs * 2 ** this.streak;
      this.notBefore = this.clock.now() + Math.min(maxPauseMs, Math.max(busyFactor * cost, streamPause));
    }
  }

  /** No further runs. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
