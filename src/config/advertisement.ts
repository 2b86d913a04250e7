// L2Advertisement and BGPAdvertisement: which pools they announce, from which nodes, how; and the checks
// that need pools and peers (aggregation against pool prefixes, LOCAL_PREF conflicts, BFD echo on IPv6).
import type { BFDProfile, BGPAdvertisement, Community, L2Advertisement, PreferredNode } from './model.ts';
import { type CommunityAlias, resolveCommunity, sameCommunity } from './community.ts';
import type { NodeInfo } from './node.ts';
import { type PeerDraft, overlap } from './peer.ts';
import { type PoolDraft, widestPrefix } from './pool.ts';
import { type Problems, compareText, describe } from './problems.ts';
import { FieldReader, field, item, own, show } from './reader.ts';
import { selectorMatches } from './selector.ts';
import { readSelector, readSelectors } from './selector-reader.ts';
import type { SourceObject } from './sources.ts';

export const bgpDefaults = { aggregationLength: 32, aggregationLengthV6: 128 } as const;

export interface AdvertisementContext {
  /** Every pool object by name (valid or not, so a reference to a broken pool is not "unknown"). */
  readonly pools: ReadonlyMap<string, PoolDraft>;
  readonly aliases: ReadonlyMap<string, CommunityAlias>;
  /** Names of every BGPPeer object, valid or not. */
  readonly peerNames: ReadonlySet<string>;
}

export interface BGPAdvertisementDraft {
  readonly source: SourceObject;
  readonly ad: BGPAdvertisement;
}

/** ipAddressPools ∪ pools matched by ipAddressPoolSelectors; neither given → every pool. Sorted. */
function readPoolRefs(r: FieldReader, spec: SourceObject['spec'], ctx: AdvertisementContext): string[] {
  const rawNames = own(spec, 'ipAddressPools');
  const rawSelectors = own(spec, 'ipAddressPoolSelectors');
  const names = r.stringEntries(rawNames, 'ipAddressPools');
  const selectors = readSelectors(r, rawSelectors, 'ipAddressPoolSelectors');
  const none = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0);
  if (none(rawNames) && none(rawSelectors)) return [...ctx.pools.keys()].sort(compareText);
  const out = new Set<string>();
  for (const { value: name, index } of names) {
    if (ctx.pools.has(name)) out.add(name);
    else r.error(item('ipAddressPools', index), `${show(name)} is not a known IPAddressPool`);
  }
  if (selectors.length > 0) {
    for (const [name, p] of ctx.pools) if (selectors.some((s) => selectorMatches(s, p.pool.labels))) out.add(name);
  }
  if (out.size === 0 && names.length === 0 && selectors.length > 0) {
    r.warn('ipAddressPoolSelectors', 'select no IPAddressPool: this advertisement announces nothing');
  }
  return [...out].sort(compareText);
}

/** Linux interface names: at most 15 bytes, no slash or white space. */
const interfaceName = /^[^\s/]{1,15}$/;

export function readL2Advertisement(source: SourceObject, problems: Problems, ctx: AdvertisementContext): L2Advertisement {
  const r = new FieldReader(source.origin, problems);
  const s = source.spec;
  const pools = readPoolRefs(r, s, ctx);
  const nodeSelectors = readSelectors(r, own(s, 'nodeSelectors'), 'nodeSelectors');
  const interfaces: string[] = [];
  for (const { value: name, index } of r.stringEntries(own(s, 'interfaces'), 'interfaces')) {
    if (interfaceName.test(name) && name !== '.' && name !== '..') interfaces.push(name);
    else r.error(item('interfaces', index), `${show(name)} is not a network interface name`);
  }
  const serviceSelectors = readSelectors(r, own(s, 'serviceSelectors'), 'serviceSelectors');
  const preferredNodes: PreferredNode[] = [];
  (r.list(own(s, 'preferredNodeSelectors'), 'preferredNodeSelectors') ?? []).forEach((raw, i) => {
    const path = item('preferredNodeSelectors', i);
    const obj = r.object(raw, path);
    if (!obj) {
      if (raw === null || raw === undefined) r.error(path, 'must be an object, got null');
      return;
    }
    const weight = r.integer(own(obj, 'weight'), field(path, 'weight'), 1, 100);
    r.required(own(obj, 'weight'), field(path, 'weight'));
    const prefRaw = own(obj, 'preference');
    const preference = prefRaw === undefined || prefRaw === null ? undefined : readSelector(r, prefRaw, field(path, 'preference'));
    r.required(prefRaw, field(path, 'preference'));
    if (weight !== undefined && preference !== undefined) preferredNodes.push({ weight, preference });
  });
  return { name: source.name, pools, nodeSelectors, interfaces, serviceSelectors, preferredNodes };
}

export function readBGPAdvertisement(source: SourceObject, problems: Problems, ctx: AdvertisementContext): BGPAdvertisementDraft {
  const r = new FieldReader(source.origin, problems);
  const s = source.spec;
  const pools = readPoolRefs(r, s, ctx);
  const aggRaw = own(s, 'aggregationLength');
  const agg6Raw = own(s, 'aggregationLengthV6');
  const aggregationLength = r.integer(aggRaw, 'aggregationLength', 0, 32) ?? bgpDefaults.aggregationLength;
  const aggregationLengthV6 = r.integer(agg6Raw, 'aggregationLengthV6', 0, 128) ?? bgpDefaults.aggregationLengthV6;
  const localPref = r.integer(own(s, 'localPref'), 'localPref', 0, 4294967295);
  const communities: Community[] = [];
  for (const { value: text, index } of r.stringEntries(own(s, 'communities'), 'communities')) {
    const c = resolveCommunity(text, ctx.aliases);
    if (typeof c === 'string') r.error(item('communities', index), c);
    else if (!communities.some((x) => sameCommunity(x, c))) communities.push(c);
  }
  const peers: string[] = [];
  for (const { value: name, index } of r.stringEntries(own(s, 'peers'), 'peers')) {
    if (ctx.peerNames.has(name)) peers.push(name);
    else r.error(item('peers', index), `${show(name)} is not a known BGPPeer`);
  }
  const nodeSelectors = readSelectors(r, own(s, 'nodeSelectors'), 'nodeSelectors');
  const serviceSelectors = readSelectors(r, own(s, 'serviceSelectors'), 'serviceSelectors');
  if (serviceSelectors.length > 0) {
    // Aggregating needs to know every service in the prefix; a service selector picks only some.
    if (aggregationLength !== bgpDefaults.aggregationLength) {
      r.error('aggregationLength', `cannot be combined with serviceSelectors (only the default ${bgpDefaults.aggregationLength} can)`);
    }
    if (aggregationLengthV6 !== bgpDefaults.aggregationLengthV6) {
      r.error('aggregationLengthV6', `cannot be combined with serviceSelectors (only the default ${bgpDefaults.aggregationLengthV6} can)`);
    }
  }
  return {
    source,
    ad: {
      name: source.name,
      pools,
      aggregationLength,
      aggregationLengthV6,
      localPref,
      communities,
      nodeSelectors,
      peers: [...peers].sort(compareText),
      serviceSelectors,
    },
  };
}

/**
 * An aggregated route must not cover addresses outside the pool: for every entry of every pool the
 * advertisement announces, the aggregation length of the entry's family must be at least the entry's
 * widest CIDR prefix (a /24 entry cannot be announced as a /16).
 */
export function checkAggregation(ads: readonly BGPAdvertisementDraft[], pools: ReadonlyMap<string, PoolDraft>, problems: Problems): void {
  for (const { source, ad } of ads) {
    const reported = new Set<string>();
    for (const poolName of ad.pools) {
      const p = pools.get(poolName);
      if (!p) continue;
      for (const e of p.entries) {
        const v6 = e.range.family === 'IPv6';
        const key = v6 ? 'aggregationLengthV6' : 'aggregationLength';
        if (reported.has(key)) continue;
        const length = v6 ? ad.aggregationLengthV6 : ad.aggregationLength;
        const widest = widestPrefix(e.range);
        if (length < widest) {
          reported.add(key);
          problems.error(
            source.origin,
            key,
            `${length} is shorter than /${widest}, the widest prefix of ${show(e.text)} at ${describe(p.source.origin, item('addresses', e.index))}: the aggregated route would cover addresses outside the pool`,
          );
        }
      }
    }
  }
}

const isIBGP = (p: PeerDraft): boolean =>
  p.peer.dynamicASN === 'internal' || (p.peer.peerASN !== undefined && p.peer.peerASN === p.peer.myASN);

const targets = (ad: BGPAdvertisement, peers: readonly PeerDraft[]): PeerDraft[] =>
  ad.peers.length === 0 ? [...peers] : peers.filter((p) => ad.peers.includes(p.peer.name));

/** LOCAL_PREF is an iBGP attribute: accepted, but noted when every peer the advertisement reaches is eBGP. */
export function noteLocalPref(ads: readonly BGPAdvertisementDraft[], peers: readonly PeerDraft[], problems: Problems): void {
  for (const { source, ad } of ads) {
    if (ad.localPref === undefined) continue;
    const reached = targets(ad, peers);
    if (reached.length > 0 && !reached.some(isIBGP)) {
      problems.warn(
        source.origin,
        'localPref',
        `${ad.localPref} has no effect: LOCAL_PREF is sent only to iBGP peers, and every BGPPeer this advertisement reaches is eBGP`,
      );
    }
  }
}

/**
 * MetalLB's rule: two advertisements that send the same routes (a shared pool, the same aggregation) to
 * the same peers from the same nodes cannot ask for different LOCAL_PREF values. Advertisements with
 * service selectors are exempt (which services they cover is not known here).
 */
export function checkLocalPrefConflicts(
  ads: readonly BGPAdvertisementDraft[],
  pools: ReadonlyMap<string, PoolDraft>,
  nodes: readonly NodeInfo[],
  problems: Problems,
): void {
  const reported = new Set<string>();
  for (const [poolName, p] of pools) {
    const hasV4 = p.entries.some((e) => e.range.family === 'IPv4');
    const hasV6 = p.entries.some((e) => e.range.family === 'IPv6');
    const applying = ads.filter((a) => a.ad.pools.includes(poolName) && a.ad.serviceSelectors.length === 0);
    for (let j = 0; j < applying.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = applying[i]!;
        const b = applying[j]!;
        const pair = `${a.ad.name}\u0000${b.ad.name}`;
        if (reported.has(pair)) continue;
        if ((a.ad.localPref ?? 0) === (b.ad.localPref ?? 0)) continue;
        const diff4 = a.ad.aggregationLength !== b.ad.aggregationLength;
        const diff6 = a.ad.aggregationLengthV6 !== b.ad.aggregationLengthV6;
        if ((!hasV6 && diff4) || (!hasV4 && diff6) || (diff4 && diff6)) continue;
        if (a.ad.peers.length > 0 && b.ad.peers.length > 0 && !a.ad.peers.some((x) => b.ad.peers.includes(x))) continue;
        const shared = overlap(a.ad.nodeSelectors, b.ad.nodeSelectors, nodes);
        if (shared === undefined) continue;
        reported.add(pair);
        problems.error(
          b.source.origin,
          'localPref',
          `${b.ad.localPref ?? 0} conflicts with localPref ${a.ad.localPref ?? 0} of ${describe(a.source.origin)}: both announce IPAddressPool ${poolName} with the same aggregation to the same peers from ${shared}`,
        );
      }
    }
  }
}

/** MetalLB's rule: BFD echo mode cannot serve sessions that carry IPv6 pools. */
export function checkBFDEchoIPv6(
  ads: readonly BGPAdvertisementDraft[],
  pools: ReadonlyMap<string, PoolDraft>,
  peers: readonly PeerDraft[],
  bfdProfiles: ReadonlyMap<string, BFDProfile>,
  problems: Problems,
): void {
  for (const { source, ad } of ads) {
    const v6Pool = ad.pools.find((n) => pools.get(n)?.entries.some((e) => e.range.family === 'IPv6'));
    if (v6Pool === undefined) continue;
    for (const p of targets(ad, peers)) {
      const profile = p.peer.bfdProfile === undefined ? undefined : bfdProfiles.get(p.peer.bfdProfile);
      if (!profile?.echoMode) continue;
      problems.error(
        source.origin,
        ad.peers.length === 0 ? '' : 'peers',
        `announces IPv6 IPAddressPool ${v6Pool} to ${describe(p.source.origin)}, whose BFDProfile ${profile.name} has echoMode: BFD echo cannot serve IPv6`,
      );
      break;
    }
  }
}
