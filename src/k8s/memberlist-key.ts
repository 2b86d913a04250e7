// The membership key from its Secret. On a first install the controller fills the Secret moments after
// the speakers start; waiting for it (and saying so) beats exiting and crash-looping until it exists.
import type { Logger } from '../log/logger.ts';
import { KubeApi, statusCodeOf } from './api.ts';

export interface KeyWaitOptions {
  readonly pollMs?: number;
  /** How often the wait is logged again while it lasts. */
  readonly logEveryMs?: number;
  readonly signal?: AbortSignal;
}

/** Resolves with the Secret's `secretkey` (decoded) once it exists; rejects on errors that waiting cannot fix. */
export async function waitForMemberlistKey(api: KubeApi, namespace: string, name: string, log: Logger, opts: KeyWaitOptions = {}): Promise<string> {
  const pollMs = opts.pollMs ?? 2000;
  const logEveryMs = opts.logEveryMs ?? 30_000;
  let lastLogged = -Infinity;
  for (;;) {
    let why: string;
    try {
      const secret = await api.get<{ data?: Record<string, string> }>({ apiVersion: 'v1', plural: 'secrets', namespace, name });
      const encoded = secret.data?.secretkey;
      if (encoded) return Buffer.from(encoded, 'base64').toString('utf8');
      why = 'has no "secretkey" yet';
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw new Error(`reading Secret ${namespace}/${name}: ${(err as Error).message}`);
      why = 'does not exist yet';
    }
    if (Date.now() - lastLogged >= logEveryMs) {
      log.warn({ secret: `${namespace}/${name}` }, `membership Secret ${why} (the controller fills it); waiting`);
      lastLogged = Date.now();
    }
    if (opts.signal?.aborted) throw new Error(`gave up waiting for Secret ${namespace}/${name}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
