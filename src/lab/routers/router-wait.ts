// Waiting on a lab router: sessions up, a route present (with the attributes a test wants) or gone,
// in the BGP table or in the kernel. Timeouts name what was awaited and what was seen last.
import { waitFor, type WaitOptions } from '../network/wait-for.ts';
import { normalizeAddress, normalizePrefix } from './address.ts';
import type { KernelRoute } from './kernel-route.ts';
import type { BgpRoute, BgpRouter, BgpSession } from './router.ts';

export interface SessionWait extends WaitOptions {
  /** Also wait until each of these peers has sent at least this many prefixes. */
  readonly prefixes?: number;
}

/** Resolves when every listed peer is Established (and has sent enough prefixes). */
export async function waitForSessions(router: BgpRouter, peers: readonly string[], options: SessionWait = {}): Promise<Map<string, BgpSession>> {
  const want = peers.map(normalizeAddress);
  let last: Map<string, BgpSession> | undefined;
  try {
    return await waitFor(
      async () => {
        last = await router.sessions();
        return want.every((p) => last!.get(p)?.established && (last!.get(p)?.prefixesReceived ?? 0) >= (options.prefixes ?? 0)) && last;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `${router.kind} on ${router.host.name}: sessions with ${want.join(', ')} Established`, ...options },
    );
  } catch (err) {
    throw withLast(err, last && [...last.values()].map((s) => `${s.peer} ${s.state} pfx=${s.prefixesReceived}`).join('; '));
  }
}

/** Resolves with the route once it is in the BGP table and `accept` (if given) is true for it. */
export async function waitForRoute(router: BgpRouter, prefix: string, accept: (r: BgpRoute) => boolean = () => true, options: WaitOptions = {}): Promise<BgpRoute> {
  const p = normalizePrefix(prefix);
  let last: BgpRoute | undefined;
  try {
    return await waitFor(
      async () => {
        last = (await router.routes()).get(p);
        return last && accept(last) && last;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `${router.kind} on ${router.host.name}: route ${p}`, ...options },
    );
  } catch (err) {
    throw withLast(err, last && JSON.stringify(last));
  }
}

/** Resolves once the prefix is no longer in the BGP table. */
export async function waitForNoRoute(router: BgpRouter, prefix: string, options: WaitOptions = {}): Promise<void> {
  const p = normalizePrefix(prefix);
  await waitFor(async () => !(await router.routes()).has(p), { timeoutMs: 10_000, intervalMs: 100, what: `${router.kind} on ${router.host.name}: ${p} withdrawn`, ...options });
}

/** Resolves with the kernel route once present and accepted (e.g. `r => r.nexthops.length === 2`). */
export async function waitForKernelRoute(router: BgpRouter, prefix: string, accept: (r: KernelRoute) => boolean = () => true, options: WaitOptions = {}): Promise<KernelRoute> {
  let last: KernelRoute | undefined;
  try {
    return await waitFor(
      async () => {
        last = await router.kernelRoute(prefix);
        return last && accept(last) && last;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: `kernel route ${normalizePrefix(prefix)} in ${router.host.ns}`, ...options },
    );
  } catch (err) {
    throw withLast(err, last && JSON.stringify(last));
  }
}

/** Resolves once the kernel has no route for exactly this prefix. */
export async function waitForNoKernelRoute(router: BgpRouter, prefix: string, options: WaitOptions = {}): Promise<void> {
  await waitFor(async () => (await router.kernelRoute(prefix)) === undefined, {
    timeoutMs: 10_000,
    intervalMs: 50,
    what: `kernel route ${normalizePrefix(prefix)} gone from ${router.host.ns}`,
    ...options,
  });
}

function withLast(err: unknown, last: string | undefined): unknown {
  if (err instanceof Error && last) err.message += `; last seen: ${last}`;
  return err;
}
