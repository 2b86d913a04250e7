// What THIS node announces, as a pure function of configuration, services, endpoints, nodes and live
// speakers. Shared by the BGP and Layer2 modes; identical inputs give identical plans on every node, which
// is what makes the Layer2 election agree without talking.
import { createHash } from 'node:crypto';
import type { BGPAdvertisement, BGPPeer, Community, Config, L2Advertisement } from '../config/model.ts';
import { anySelectorMatches, selectorMatches } from '../config/selector.ts';
import { familyBits, formatIP, rangeContains, type IPAddress, type IPFamily } from '../net/address.ts';

export const excludeFromLBLabel = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Condition NetworkUnavailable=True. */
  readonly networkUnavailable: boolean;
  /** spec.unschedulable (cordoned): a planned change, so Layer2 hands over before the node goes away. */
  readonly unschedulable?: boolean;
}

export interface ServiceInfo {
  /** "namespace/name" */
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  /** IPs from status.loadBalancer.ingress, in order. */
  readonly ips: readonly IPAddress[];
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  /** Node names hosting at least one serving endpoint (Ready unset/true, or Serving true). */
  readonly endpointNodes: ReadonlySet<string>;
}

export interface PlanInput {
  readonly config: Config;
  readonly services: readonly ServiceInfo[];
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly self: string;
  /** Speakers known alive (membership ∩ Kubernetes view). Layer2 only. */
  readonly liveSpeakers: ReadonlySet<string>;
  /** --ignore-exclude-lb: announce from nodes with the exclude label anyway. */
  readonly ignoreExcludeLabel?: boolean;
}

export interface Prefix {
  readonly family: IPFamily;
  /** Network address (host bits zero). */
  readonly value: bigint;
  readonly length: number;
}

export const prefixKey = (p: Prefix): string => `${formatIP(p)}/${p.length}`;

/** `a.localeCompare(b)`, with one collator instead of one per comparison. */
export const localeOrder: (a: string, b: string) => number = new Intl.Collator().compare;

export interface BGPRoute {
  readonly prefix: Prefix;
  /** Sorted, de-duplicated: every speaker sends identical attributes so routers build ECMP. */
  readonly communities: readonly Community[];
  readonly localPref: number | undefined;
  /** Services behind this prefix (for status objects). */
  readonly services: readonly string[];
}

export interface L2Announcement {
  readonly ip: IPAddress;
  readonly services: readonly string[];
  /** Empty: every eligible interface. */
  readonly interfaces: readonly string[];
}

export interface L2Election {
  readonly ip: IPAddress;
  /** The winner, or undefined when no node may announce. */
  readonly node: string | undefined;
  /** All candidates in election order (winner first), for make-before-break handover. */
  readonly candidates: readonly string[];
}

/** A node that may announce anything at all. */
export function nodeEligible(node: NodeInfo | undefined, ignoreExcludeLabel = false): boolean {
  if (!node) return false;
  if (node.networkUnavailable) return false;
  if (!ignoreExcludeLabel && Object.prototype.hasOwnProperty.call(node.labels, excludeFromLBLabel)) return false;
  return true;
}

export function poolOf(config: Config, ip: IPAddress): string | undefined {
  for (const pool of config.pools.values()) if (pool.ranges.some((r) => rangeContains(r, ip))) return pool.name;
  return undefined;
}

function hasServingEndpoint(svc: ServiceInfo, node?: string): boolean {
  return node === undefined ? svc.endpointNodes.size > 0 : svc.endpointNodes.has(node);
}

// ---------- BGP ----------

export function aggregate(ip: IPAddress, length: number): Prefix {
  const bits = familyBits(ip.family);
  const hostBits = BigInt(bits - length);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << hostBits) - 1n);
  return { family: ip.family, value: ip.value & mask, length };
}

const communityKey = (c: Community): string =>
  c.kind === 'standard' ? `s:${c.value.toString().padStart(10, '0')}` : `l:${c.globalAdmin}:${c.localData1}:${c.localData2}`;

/** Peers whose nodeSelectors select this node. */
export function peersForNode(config: Config, node: NodeInfo): BGPPeer[] {
  return config.peers.filter((p) => anySelectorMatches(p.nodeSelectors, node.labels));
}

/** One service's share of one route: this prefix, to this peer, because of this advertisement. */
interface Contribution {
  readonly peer: string;
  readonly key: string;
  readonly prefix: Prefix;
  readonly adv: BGPAdvertisement;
  readonly service: string;
}

function contributions(config: Config, node: NodeInfo, peers: readonly BGPPeer[], self: string, svc: ServiceInfo): Contribution[] {
  const out: Contribution[] = [];
  if (svc.ips.length === 0) return out;
  const local = svc.externalTrafficPolicy === 'Local';
  if (!hasServingEndpoint(svc, local ? self : undefined)) return out;
  for (const ip of svc.ips) {
    const pool = poolOf(config, ip);
    if (!pool) continue;
    for (const adv of config.bgpAdvertisements) {
      if (!adv.pools.includes(pool)) continue;
      if (!anySelectorMatches(adv.nodeSelectors, node.labels)) continue;
      if (adv.serviceSelectors.length > 0 && !anySelectorMatches(adv.serviceSelectors, svc.labels)) continue;
      const prefix = aggregate(ip, ip.family === 'IPv4' ? adv.aggregationLength : adv.aggregationLengthV6);
      const key = prefixKey(prefix);
      for (const peer of peers) {
        if (adv.peers.length > 0 && !adv.peers.includes(peer.name)) continue;
        out.push({ peer: peer.name, key, prefix, adv, service: svc.key });
      }
    }
  }
  return out;
}

/** The route for one prefix to one peer, from every contribution to it. */
function routeOf(parts: readonly Contribution[]): BGPRoute {
  const communities = new Map<string, Community>();
  let localPref: number | undefined;
  const services = new Set<string>();
  for (const c of parts) {
    for (const community of c.adv.communities) communities.set(communityKey(community), community);
    // Overlapping advertisements: the highest local preference wins, the same on every node.
    if (c.adv.localPref !== undefined) localPref = Math.max(localPref ?? 0, c.adv.localPref);
    services.add(c.service);
  }
  return {
    prefix: parts[0]!.prefix,
    communities: [...communities.entries()].sort(([a], [b]) => localeOrder(a, b)).map(([, c]) => c),
    localPref,
    services: [...services].sort(),
  };
}

const sameElements = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function sameNodeInfo(a: NodeInfo | undefined, b: NodeInfo): boolean {
  if (!a || a.name !== b.name || a.networkUnavailable !== b.networkUnavailable || a.unschedulable !== b.unschedulable) return false;
  const ka = Object.keys(a.labels);
  return ka.length === Object.keys(b.labels).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b.labels, k) && a.labels[k] === b.labels[k]);
}

/** No routes for any peer. */
export const noRoutes: ReadonlyMap<string, readonly BGPRoute[]> = new Map();

/**
 * planBGP with memory, for a speaker that plans again on every change. Same answers; but a service's
 * share is reused while its ServiceInfo object is the same (see ServiceInfoIndex), a route whose shares
 * are all the same objects is the same BGPRoute object, a peer whose routes are all unchanged gets the
 * same array, and unchanged input gives the same map. Sessions and status writers then skip by identity.
 * The memory is dropped when the configuration object or this node's labels/conditions change.
 */
export class BGPPlanner {
  private config: Config | undefined;
  private node: NodeInfo | undefined;
  private ignoreExcludeLabel: boolean | undefined;
  private services: readonly ServiceInfo[] | undefined;
  private byService = new Map<string, { readonly info: ServiceInfo; readonly parts: readonly Contribution[] }>();
  /** peer → prefix key → the route last planned and the shares it was made from. */
  private routes = new Map<string, Map<string, { readonly parts: readonly Contribution[]; readonly route: BGPRoute }>>();
  private out: ReadonlyMap<string, readonly BGPRoute[]> = noRoutes;

  plan(input: PlanInput): ReadonlyMap<string, readonly BGPRoute[]> {
    const { config, self } = input;
    const node = input.nodes.get(self);
    const ignore = input.ignoreExcludeLabel === true;
    if (!node || !nodeEligible(node, ignore)) return this.reset(undefined, undefined, ignore, noRoutes);
    if (config !== this.config || !sameNodeInfo(this.node, node) || ignore !== this.ignoreExcludeLabel) this.reset(config, node, ignore, noRoutes);
    else if (input.services === this.services) return this.out;
    this.services = input.services;
    const peers = peersForNode(config, node);

    const byService = new Map<string, { readonly info: ServiceInfo; readonly parts: readonly Contribution[] }>();
    const grouped = new Map<string, Map<string, Contribution[]>>();
    for (const svc of input.services) {
      let entry = this.byService.get(svc.key);
      if (entry?.info !== svc) entry = { info: svc, parts: contributions(config, node, peers, self, svc) };
      byService.set(svc.key, entry);
      for (const c of entry.parts) {
        let byKey = grouped.get(c.peer);
        if (!byKey) grouped.set(c.peer, (byKey = new Map()));
        const list = byKey.get(c.key);
        if (list) list.push(c);
        else byKey.set(c.key, [c]);
      }
    }
    this.byService = byService;

    const out = new Map<string, readonly BGPRoute[]>();
    const routes = new Map<string, Map<string, { readonly parts: readonly Contribution[]; readonly route: BGPRoute }>>();
    for (const [peer, byKey] of grouped) {
      const before = this.routes.get(peer);
      const now = new Map<string, { readonly parts: readonly Contribution[]; readonly route: BGPRoute }>();
      let unchanged = before !== undefined && before.size === byKey.size;
      for (const [key, parts] of byKey) {
        const had = before?.get(key);
        if (had && sameElements(had.parts, parts)) now.set(key, had);
        else {
          now.set(key, { parts, route: routeOf(parts) });
          unchanged = false;
        }
      }
      routes.set(peer, now);
      const previous = this.out.get(peer);
      out.set(
        peer,
        unchanged && previous
          ? previous
          : // Sorted by the prefix keys already at hand: formatting prefixes inside the comparison was most of the cost.
            [...now].sort(([a], [b]) => localeOrder(a, b)).map(([, r]) => r.route),
      );
    }
    this.routes = routes;
    this.out = out.size === this.out.size && [...out].every(([peer, list]) => this.out.get(peer) === list) ? this.out : out;
    return this.out;
  }

  private reset(config: Config | undefined, node: NodeInfo | undefined, ignore: boolean, out: ReadonlyMap<string, readonly BGPRoute[]>): ReadonlyMap<string, readonly BGPRoute[]> {
    this.config = config;
    this.node = node;
    this.ignoreExcludeLabel = ignore;
    this.services = undefined;
    this.byService = new Map();
    this.routes = new Map();
    this.out = out;
    return out;
  }
}

/**
 * Routes this node advertises, per peer name. A service is advertised when it has a serving endpoint
 * (Local: on this node), its pool has a BGPAdvertisement selecting this node, and the peer is allowed.
 */
export function planBGP(input: PlanInput): Map<string, BGPRoute[]> {
  const out = new Map<string, BGPRoute[]>();
  for (const [peer, routes] of new BGPPlanner().plan(input)) out.set(peer, [...routes]);
  return out;
}

// ---------- Layer2 ----------

function matchingL2Ads(config: Config, pool: string, svc: ServiceInfo): L2Advertisement[] {
  return config.l2Advertisements.filter(
    (a) => a.pools.includes(pool) && (a.serviceSelectors.length === 0 || anySelectorMatches(a.serviceSelectors, svc.labels)),
  );
}

/** sha256(node + "#" + ip), as MetalLB orders candidates. */
export function electionHash(node: string, ip: IPAddress): string {
  return createHash('sha256').update(`${node}#${formatIP(ip)}`).digest('hex');
}

/**
 * The stateless election: candidates = live speakers ∩ nodes an advertisement selects ∩ eligible nodes
 * (∩ nodes with a local endpoint for Local); ordered by preferred weight (desc), then the hash (asc).
 * A cordoned node sorts after every other candidate, so a planned drain hands the IP over first.
 */
export function electL2(input: PlanInput, svc: ServiceInfo): L2Election | undefined {
  const ip = svc.ips[0];
  if (!ip) return undefined;
  const pool = poolOf(input.config, ip);
  if (!pool) return undefined;
  const ads = matchingL2Ads(input.config, pool, svc);
  if (ads.length === 0) return undefined;
  const local = svc.externalTrafficPolicy === 'Local';
  const scored: { node: string; weight: number; cordoned: boolean; hash: string }[] = [];
  for (const name of input.liveSpeakers) {
    const node = input.nodes.get(name);
    if (!node || !nodeEligible(node, input.ignoreExcludeLabel)) continue;
    if (!hasServingEndpoint(svc, local ? name : undefined)) continue;
    const selecting = ads.filter((a) => anySelectorMatches(a.nodeSelectors, node.labels));
    if (selecting.length === 0) continue;
    let weight = 0;
    for (const a of selecting) for (const p of a.preferredNodes) if (selectorMatches(p.preference, node.labels)) weight += p.weight;
    scored.push({ node: name, weight, cordoned: node.unschedulable === true, hash: electionHash(name, ip) });
  }
  scored.sort((a, b) => Number(a.cordoned) - Number(b.cordoned) || b.weight - a.weight || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return { ip, node: scored[0]?.node, candidates: scored.map((s) => s.node) };
}

/** The IPs this node answers ARP/NDP for, with the interfaces to use. */
export function planL2(input: PlanInput): L2Announcement[] {
  const byIP = new Map<string, { ip: IPAddress; services: Set<string>; interfaces: Set<string>; allInterfaces: boolean }>();
  const self = input.nodes.get(input.self);
  if (!self) return [];
  for (const svc of input.services) {
    const election = electL2(input, svc);
    if (!election || election.node !== input.self) continue;
    const pool = poolOf(input.config, election.ip)!;
    const ads = matchingL2Ads(input.config, pool, svc).filter((a) => anySelectorMatches(a.nodeSelectors, self.labels));
    // Every IP of the service (dual-stack) goes with the elected node.
    for (const ip of svc.ips) {
      const k = formatIP(ip);
      let a = byIP.get(k);
      if (!a) byIP.set(k, (a = { ip, services: new Set(), interfaces: new Set(), allInterfaces: false }));
      a.services.add(svc.key);
      for (const ad of ads) {
        if (ad.interfaces.length === 0) a.allInterfaces = true;
        for (const i of ad.interfaces) a.interfaces.add(i);
      }
    }
  }
  return [...byIP.values()]
    .map((a) => ({ ip: a.ip, services: [...a.services].sort(), interfaces: a.allInterfaces ? [] : [...a.interfaces].sort() }))
    .sort((x, y) => (x.ip.family === y.ip.family ? (x.ip.value < y.ip.value ? -1 : 1) : x.ip.family === 'IPv4' ? -1 : 1));
}

