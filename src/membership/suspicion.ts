// Lifeguard's suspicion timer: a suspected member is declared dead after a timeout that starts long
// (`max`) and shrinks towards `min` as other members independently confirm the suspicion:
//   timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1))
// with C confirmations received so far and K the number expected (min(3, n − 2)). One member's lone
// opinion (perhaps it is the sick one) waits longest; agreement of several ends the wait at `min`.
import type { Clock, Timer } from '../clock/clock.ts';

export interface SuspicionTimes {
  readonly minMs: number;
  readonly maxMs: number;
  /** Confirmations that bring the timeout down to minMs. */
  readonly k: number;
}

export function suspicionTimeout(t: SuspicionTimes, confirmations: number): number {
  if (t.k < 1 || t.maxMs <= t.minMs) return t.minMs;
  const frac = Math.log(Math.min(confirmations, t.k) + 1) / Math.log(t.k + 1);
  return Math.max(t.minMs, Math.floor(t.maxMs - (t.maxMs - t.minMs) * frac));
}

export class Suspicion {
  private readonly confirmedBy = new Set<string>();
  private timer: Timer | undefined;
  private started: number;

  constructor(
    private readonly clock: Clock,
    private readonly times: SuspicionTimes,
    /** Who raised it; not counted as a confirmation. */
    private readonly raisedBy: string,
    private readonly onExpire: () => void,
  ) {
    this.started = clock.now();
    this.arm();
  }

  get startedAt(): number {
    return this.started;
  }

  get confirmations(): number {
    return this.confirmedBy.size;
  }

  /** Records an independent confirmation; true if `from` is new (the caller then re-gossips it). */
  confirm(from: string): boolean {
    if (from === this.raisedBy || this.confirmedBy.has(from)) return false;
    if (this.confirmedBy.size >= this.times.k) return false;
    this.confirmedBy.add(from);
    this.arm();
    return true;
  }

  /** Starts the wait again from now, keeping the confirmations. */
  restart(): void {
    this.started = this.clock.now();
    this.arm();
  }

  /** Checks again in `ms` (the owner deferred its verdict), keeping start and confirmations. */
  retryIn(ms: number): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = undefined;
      this.onExpire();
    });
  }

  /** Milliseconds until expiry as things stand. */
  remainingMs(): number {
    return Math.max(0, this.started + suspicionTimeout(this.times, this.confirmedBy.size) - this.clock.now());
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(this.remainingMs(), () => {
      this.timer = undefined;
      this.onExpire();
    });
  }
}
