// Polling until a lab condition holds (a session is Established, a route appears in the kernel).
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. */
  readonly what?: string;
}

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super(message);
  }
}

/**
 * Calls `probe` until it returns something other than undefined/false and resolves with that value.
 * A probe that throws counts as "not yet" (its last error is reported on timeout).
 */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${why}`, lastError);
    }
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}
