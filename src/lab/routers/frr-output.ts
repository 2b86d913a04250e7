// Parsers for FRR's JSON output (FRR 8.4): `show bgp summary json`, `show bgp neighbor json`,
// `show bgp ipv4|ipv6 unicast json` (the table), `show bgp ipv4|ipv6 unicast PREFIX json` (one prefix
// with every attribute) and `show bfd peers json`. Pure functions over the parsed JSON.
import { normalizeAddress, normalizePrefix } from './address.ts';
import { originOf, rfcState, routeFromPaths } from './answers.ts';
import { normalizeCommunity, normalizeLargeCommunity } from './community.ts';
import type { AddressFamily, BgpPath, BgpRoute, BgpSession } from './router.ts';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const AFI_KEYS: Readonly<Record<string, AddressFamily>> = { ipv4Unicast: 'ipv4', ipv6Unicast: 'ipv6' };

interface SessionDraft {
  peer: string;
  remoteAs?: number;
  state: string;
  prefixesByFamily: Partial<Record<AddressFamily, number>>;
  dynamic: boolean;
}

const finish = (d: SessionDraft): BgpSession => ({
  peer: d.peer,
  ...(d.remoteAs !== undefined && { remoteAs: d.remoteAs }),
  state: rfcState(d.state),
  established: rfcState(d.state) === 'Established',
  prefixesReceived: Object.values(d.prefixesByFamily).reduce((a, b) => a + (b ?? 0), 0),
  prefixesByFamily: d.prefixesByFamily,
  dynamic: d.dynamic,
});

/** `show bgp summary json`: peers per address family, merged by peer address. */
export function parseFrrSummary(json: unknown): Map<string, BgpSession> {
  const drafts = new Map<string, SessionDraft>();
  for (const [afiKey, afi] of Object.entries(obj(json))) {
    const family = AFI_KEYS[afiKey];
    if (!family) continue;
    for (const [key, value] of Object.entries(obj(obj(afi).peers))) {
      const p = obj(value);
      const peer = normalizeAddress(key);
      const d = drafts.get(peer) ?? { peer, state: str(p.state) ?? 'unknown', prefixesByFamily: {}, dynamic: false };
      d.remoteAs = num(p.remoteAs) ?? d.remoteAs;
      d.dynamic ||= p.dynamicPeer === true || key.startsWith('*');
      d.prefixesByFamily[family] = num(p.pfxRcd) ?? 0;
      drafts.set(peer, d);
    }
  }
  return new Map([...drafts].map(([k, d]) => [k, finish(d)]));
}

/** `show bgp neighbor json` (all neighbors, or one): state, ASN, accepted prefixes per family. */
export function parseFrrNeighbors(json: unknown): Map<string, BgpSession> {
  const sessions = new Map<string, BgpSession>();
  for (const [key, value] of Object.entries(obj(json))) {
    const n = obj(value);
    if (typeof n.bgpState !== 'string') continue; // not a neighbor entry
    const prefixesByFamily: Partial<Record<AddressFamily, number>> = {};
    for (const [afiKey, info] of Object.entries(obj(n.addressFamilyInfo))) {
      const family = AFI_KEYS[afiKey];
      if (family) prefixesByFamily[family] = num(obj(info).acceptedPrefixCounter) ?? 0;
    }
    const peer = normalizeAddress(key);
    sessions.set(
      peer,
      finish({
        peer,
        ...(num(n.remoteAs) !== undefined && { remoteAs: num(n.remoteAs)! }),
        state: n.bgpState,
        prefixesByFamily,
        dynamic: n.dynamicPeer === true || typeof n.peerSubnetRangeGroup === 'string' || key.startsWith('*'),
      }),
    );
  }
  return sessions;
}

/** Summary first (it has pfxRcd per family); neighbors add peers that have no family active yet. */
export function mergeFrrSessions(summary: Map<string, BgpSession>, neighbors: Map<string, BgpSession>): Map<string, BgpSession> {
  const merged = new Map(summary);
  for (const [peer, n] of neighbors) {
    const s = merged.get(peer);
    merged.set(peer, s ? { ...s, dynamic: s.dynamic || n.dynamic, remoteAs: s.remoteAs ?? n.remoteAs } : n);
  }
  return merged;
}

export interface FrrTableEntry {
  readonly prefix: string;
  /** Per path: peer id ("(unspec)" for local), best and multipath flags. */
  readonly paths: readonly { peer?: string; best: boolean; multipath: boolean }[];
}

/** `show bgp ipv4|ipv6 unicast json`: the prefixes and, per path, the best/multipath flags. */
export function parseFrrTable(json: unknown): FrrTableEntry[] {
  return Object.entries(obj(obj(json).routes)).map(([prefix, paths]) => ({
    prefix: normalizePrefix(prefix),
    paths: arr(paths).map((value) => {
      const p = obj(value);
      const peer = str(p.peerId);
      return { ...(peer && peer !== '(unspec)' && { peer: normalizeAddress(peer) }), best: p.bestpath === true, multipath: p.multipath === true };
    }),
  }));
}

/**
 * `show bgp ipv4|ipv6 unicast PREFIX json`: every path with its attributes. `table` (from
 * parseFrrTable) supplies the multipath flags when the detail output lacks them.
 */
export function parseFrrRoute(json: unknown, table?: FrrTableEntry): BgpRoute | undefined {
  const j = obj(json);
  const prefixText = str(j.prefix);
  if (!prefixText) return undefined;
  const prefix = normalizePrefix(prefixText);
  const paths: BgpPath[] = arr(j.paths).map((value) => {
    const p = obj(value);
    const peerId = str(obj(p.peer).peerId);
    const peer = peerId && peerId !== '(unspec)' && peerId !== '0.0.0.0' && peerId !== '::' ? normalizeAddress(peerId) : undefined;
    const hops = arr(p.nexthops).map(obj);
    const global = hops.find((h) => str(h.scope) !== 'link-local' && str(h.ip));
    const linkLocal = hops.find((h) => str(h.scope) === 'link-local' && str(h.ip));
    const nexthopText = str(global?.ip);
    const local = peer === undefined;
    const bestpath = p.bestpath;
    const best = bestpath === true || obj(bestpath).overall === true;
    const fromTable = table?.paths.find((t) => t.peer === peer);
    const asPath = arr(obj(p.aspath).segments).flatMap((s) => arr(obj(s).list).filter((n): n is number => typeof n === 'number'));
    const origin = originOf(str(p.origin));
    return {
      ...(peer && { peer }),
      local,
      ...(nexthopText && !/^(0\.0\.0\.0|::)$/.test(nexthopText) && { nexthop: normalizeAddress(nexthopText) }),
      ...(linkLocal && { nexthopLinkLocal: normalizeAddress(str(linkLocal.ip)!) }),
      best,
      multipath: p.multipath === true || (fromTable?.multipath ?? false),
      asPath,
      ...(origin && { origin }),
      ...(num(p.locPrf) !== undefined && { localPref: num(p.locPrf)! }),
      ...(num(p.metric) !== undefined && { med: num(p.metric)! }),
      communities: arr(obj(p.community).list).map(String).map(normalizeCommunity),
      largeCommunities: arr(obj(p.largeCommunity).list).map(String).map(normalizeLargeCommunity),
    };
  });
  return routeFromPaths(prefix, paths);
}

export interface BfdPeer {
  readonly peer: string;
  readonly local?: string;
  readonly interface?: string;
  /** "up", "down", "init", "adminDown". */
  readonly status: string;
  readonly up: boolean;
  readonly uptimeSeconds?: number;
  readonly receiveIntervalMs?: number;
  readonly transmitIntervalMs?: number;
  readonly detectMultiplier?: number;
  readonly remoteReceiveIntervalMs?: number;
  readonly remoteTransmitIntervalMs?: number;
  readonly remoteDetectMultiplier?: number;
  readonly diagnostic?: string;
}

/** `show bfd peers json`. */
export function parseFrrBfdPeers(json: unknown): BfdPeer[] {
  return arr(json).map((value) => {
    const p = obj(value);
    const status = str(p.status) ?? 'unknown';
    const field = (k: string): number | undefined => num(p[k]);
    return {
      peer: normalizeAddress(str(p.peer) ?? ''),
      ...(str(p.local) && { local: normalizeAddress(str(p.local)!) }),
      ...(str(p.interface) && { interface: str(p.interface)! }),
      status,
      up: status === 'up',
      ...(field('uptime') !== undefined && { uptimeSeconds: field('uptime')! }),
      ...(field('receive-interval') !== undefined && { receiveIntervalMs: field('receive-interval')! }),
      ...(field('transmit-interval') !== undefined && { transmitIntervalMs: field('transmit-interval')! }),
      ...(field('detect-multiplier') !== undefined && { detectMultiplier: field('detect-multiplier')! }),
      ...(field('remote-receive-interval') !== undefined && { remoteReceiveIntervalMs: field('remote-receive-interval')! }),
      ...(field('remote-transmit-interval') !== undefined && { remoteTransmitIntervalMs: field('remote-transmit-interval')! }),
      ...(field('remote-detect-multiplier') !== undefined && { remoteDetectMultiplier: field('remote-detect-multiplier')! }),
      ...(str(p.diagnostic) && { diagnostic: str(p.diagnostic)! }),
    };
  });
}
