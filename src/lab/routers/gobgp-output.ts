// Parsers for GoBGP 3.x JSON: `gobgp neighbor -j` and `gobgp global rib [-a ipv6] -j`. Path attributes
// come as a list of { type, … } objects keyed by the BGP attribute type code. Pure.
import { normalizeAddress, normalizePrefix } from './address.ts';
import { formatCommunityValue } from './community.ts';
import { rfcState, routeFromPaths } from './answers.ts';
import type { AddressFamily, BgpPath, BgpRoute, BgpSession, Origin } from './router.ts';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** gobgp's SessionState enum (apipb): 6 is Established. */
const SESSION_STATES = ['Unknown', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];

export function gobgpState(value: unknown): string {
  if (typeof value === 'number') return SESSION_STATES[value] ?? `state ${value}`;
  if (typeof value === 'string') return rfcState(value.replace(/^(BGP_FSM_|SESSION_STATE_)/i, ''));
  return 'Unknown';
}

const familyOfAfi = (afi: unknown): AddressFamily | undefined => (afi === 1 ? 'ipv4' : afi === 2 ? 'ipv6' : undefined);

/**
 * `gobgp neighbor -j`. GoBGP does not mark dynamic neighbors; a peer not among `staticPeers` (the
 * configured neighbor addresses) is taken as dynamic.
 */
export function parseGobgpNeighbors(json: unknown, staticPeers: readonly string[] = []): Map<string, BgpSession> {
  const statics = new Set(staticPeers.map(normalizeAddress));
  const sessions = new Map<string, BgpSession>();
  for (const value of arr(json)) {
    const n = obj(value);
    const state = obj(n.state);
    const conf = obj(n.conf);
    const address = str(state.neighbor_address) ?? str(conf.neighbor_address);
    if (!address) continue;
    const peer = normalizeAddress(address);
    const prefixesByFamily: Partial<Record<AddressFamily, number>> = {};
    for (const a of arr(n.afi_safis).map(obj)) {
      const s = obj(a.state);
      const family = familyOfAfi(obj(s.family).afi ?? obj(obj(a.config).family).afi);
      if (family && obj(s.family).safi === 1) prefixesByFamily[family] = num(s.accepted) ?? 0;
    }
    const rfc = gobgpState(state.session_state);
    const remoteAs = num(state.peer_asn) ?? num(conf.peer_asn);
    sessions.set(peer, {
      peer,
      ...(remoteAs !== undefined && { remoteAs }),
      state: rfc,
      established: rfc === 'Established',
      prefixesReceived: Object.values(prefixesByFamily).reduce((a, b) => a + (b ?? 0), 0),
      prefixesByFamily,
      dynamic: !statics.has(peer),
    });
  }
  return sessions;
}

const ORIGINS: readonly Origin[] = ['igp', 'egp', 'incomplete'];

/** `gobgp global rib -j` (or `-a ipv6 -j`): prefix → paths. */
export function parseGobgpRib(json: unknown): Map<string, BgpRoute> {
  const routes = new Map<string, BgpRoute>();
  for (const [key, value] of Object.entries(obj(json))) {
    const prefix = normalizePrefix(key);
    const paths = arr(value).map((v) => toPath(obj(v)));
    routes.set(prefix, routeFromPaths(prefix, paths));
  }
  return routes;
}

function toPath(p: Json): BgpPath {
  const neighbor = str(p['neighbor-ip']);
  const local = neighbor === undefined;
  let nexthop: string | undefined;
  let linkLocal: string | undefined;
  let origin: Origin | undefined;
  let localPref: number | undefined;
  let med: number | undefined;
  const asPath: number[] = [];
  const communities: string[] = [];
  const large: string[] = [];
  for (const a of arr(p.attrs).map(obj)) {
    switch (a.type) {
      case 1:
        origin = ORIGINS[num(a.value) ?? -1];
        break;
      case 2:
        for (const seg of arr(a.as_paths).map(obj)) asPath.push(...arr(seg.asns).filter((n): n is number => typeof n === 'number'));
        break;
      case 3:
        nexthop = str(a.nexthop);
        break;
      case 4:
        med = num(a.metric);
        break;
      case 5:
        localPref = num(a.value);
        break;
      case 8:
        for (const c of arr(a.communities)) if (typeof c === 'number') communities.push(formatCommunityValue(c));
        break;
      case 14:
        nexthop = str(a.nexthop) ?? nexthop;
        linkLocal = str(a.linklocal_nexthop) ?? linkLocal;
        break;
      case 32:
        for (const l of arr(a.value).map(obj)) large.push(`${num(l.ASN) ?? 0}:${num(l.LocalData1) ?? 0}:${num(l.LocalData2) ?? 0}`);
        break;
    }
  }
  const usable = (h: string | undefined): string | undefined => (h && h !== '0.0.0.0' && h !== '::' ? normalizeAddress(h) : undefined);
  const nh = usable(nexthop);
  const ll = usable(linkLocal);
  return {
    ...(neighbor && { peer: normalizeAddress(neighbor) }),
    local,
    ...(nh && { nexthop: nh }),
    ...(ll && { nexthopLinkLocal: ll }),
    best: p.best === true,
    multipath: false,
    asPath,
    ...(origin && { origin }),
    ...(localPref !== undefined && { localPref }),
    ...(med !== undefined && { med }),
    communities,
    largeCommunities: large,
  };
}
