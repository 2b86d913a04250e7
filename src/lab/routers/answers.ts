// Normalized answers shared by the router drivers: RFC 4271 session state names, ORIGIN values, and a
// BgpRoute assembled from its paths.
import { familyOf } from './address.ts';
import type { BgpPath, BgpRoute, Origin } from './router.ts';

const RFC_STATES: Readonly<Record<string, string>> = {
  idle: 'Idle',
  connect: 'Connect',
  active: 'Active',
  opensent: 'OpenSent',
  openconfirm: 'OpenConfirm',
  established: 'Established',
};

/** "Established", "OpenSent", … from any daemon's spelling; other states are kept as they are. */
export function rfcState(state: string): string {
  return RFC_STATES[state.toLowerCase()] ?? state;
}

const ORIGINS: Readonly<Record<string, Origin>> = { igp: 'igp', egp: 'egp', incomplete: 'incomplete', '?': 'incomplete', i: 'igp', e: 'egp' };

export function originOf(text: string | undefined): Origin | undefined {
  return text === undefined ? undefined : ORIGINS[text.toLowerCase()];
}

/** A BgpRoute whose flat attributes are the best path's (or the first path's when none is best). */
export function routeFromPaths(prefix: string, paths: readonly BgpPath[]): BgpRoute {
  const best = paths.find((p) => p.best) ?? paths[0];
  const nexthops = [...new Set(paths.map((p) => p.nexthop ?? p.nexthopLinkLocal).filter((n): n is string => n !== undefined))];
  return {
    prefix,
    family: familyOf(prefix),
    nexthops,
    communities: best?.communities ?? [],
    largeCommunities: best?.largeCommunities ?? [],
    ...(best?.localPref !== undefined && { localPref: best.localPref }),
    ...(best?.med !== undefined && { med: best.med }),
    asPath: best?.asPath ?? [],
    ...(best?.origin && { origin: best.origin }),
    paths,
  };
}
