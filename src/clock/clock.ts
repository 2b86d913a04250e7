// Time as an input: protocol state machines take a Clock, so tests drive hold timers, backoff, failure
// detection and debounce in virtual time, and the daemons use the real one.
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs fn once after ms. */
  setTimer(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** Virtual time for tests: nothing happens until advance() is called. */
export class FakeClock implements Clock {
  private current = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const id = this.seq++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at < nextAt || (t.at === nextAt && id < (nextId ?? Infinity))) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined || nextAt > end) break;
      const t = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      // A timer that came due while spend() was running fires late, as on a busy event loop.
      this.current = Math.max(this.current, t.at);
      t.fn();
    }
    this.current = Math.max(this.current, end);
  }

  /**
   * Time passing inside synchronous work (a callback that takes a while): moves now() without firing
   * timers; those that come due fire at the next advance().
   */
  spend(ms: number): void {
    this.current += Math.max(0, ms);
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}
