// What every lab router driver (FRR, BIRD, GoBGP) takes as configuration and answers to queries.
// The drivers render this one model into each daemon's own configuration language and parse each
// daemon's own output back into the shapes below, so tests read the same way whichever router is used.
import type { LabProcess } from '../network/lab-process.ts';
import type { LabHost } from '../network/topology-plan.ts';
import type { KernelRoute } from './kernel-route.ts';

export type AddressFamily = 'ipv4' | 'ipv6';
export type RouterKind = 'frr' | 'bird' | 'gobgp';
export type Origin = 'igp' | 'egp' | 'incomplete';

export interface BfdOptions {
  /** Default 300 ms each, multiplier 3 (FRR's defaults). */
  readonly receiveIntervalMs?: number;
  readonly transmitIntervalMs?: number;
  readonly detectMultiplier?: number;
}

export interface BgpNeighborConfig {
  readonly address: string;
  readonly asn: number;
  /** TCP-MD5 (RFC 2385) key; the router then refuses the session without it. */
  readonly password?: string;
  /** Run BFD with this neighbor (FRR: bfdd; BIRD: its BFD protocol; GoBGP: not supported). */
  readonly bfd?: boolean;
  /** Never open the connection, only accept it. */
  readonly passive?: boolean;
  /** Default: the family of the neighbor's address. */
  readonly families?: readonly AddressFamily[];
  /** eBGP multihop TTL (default: directly connected). */
  readonly ebgpMultihop?: number;
}

/** Dynamic neighbors: accept any peer whose address is in `prefix` (FRR listen range, BIRD neighbor range, GoBGP dynamic-neighbors). */
export interface BgpListenRange {
  readonly prefix: string;
  /** The peers' ASN. Omitted: any external ASN (FRR and BIRD only). */
  readonly asn?: number;
  readonly password?: string;
  readonly bfd?: boolean;
  /** Default: the family of the prefix. */
  readonly families?: readonly AddressFamily[];
}

/** A route the router originates itself, with the attributes tests look for. */
export interface Announcement {
  readonly prefix: string;
  /** "65000:100", or a well-known name ("no-export", "blackhole", …). */
  readonly communities?: readonly string[];
  /** "65000:1:2". */
  readonly largeCommunities?: readonly string[];
  readonly localPref?: number;
  readonly med?: number;
  /** Default igp (GoBGP's CLI alone would default to incomplete, which breaks ECMP against igp paths). */
  readonly origin?: Origin;
}

export interface BgpRouterConfig {
  readonly asn: number;
  readonly routerId: string;
  readonly neighbors?: readonly BgpNeighborConfig[];
  readonly listenRanges?: readonly BgpListenRange[];
  readonly announcements?: readonly Announcement[];
  /** ECMP across up to this many paths (default 8; 1 disables). FRR: maximum-paths + multipath-relax; BIRD: kernel merge paths; GoBGP: use-multiple-paths. */
  readonly maxPaths?: number;
  /** Advertise graceful restart (FRR `bgp graceful-restart`; BIRD `graceful restart on`; GoBGP graceful-restart). */
  readonly gracefulRestart?: boolean;
  /** Keepalive/hold (default 3/9 s) and connect retry (default 1 s). */
  readonly timers?: { readonly keepalive?: number; readonly hold?: number; readonly connectRetry?: number };
  /** Install best paths into the namespace's kernel table (default true; GoBGP never installs anything). */
  readonly installRoutes?: boolean;
  /** BFD timers for every BFD-enabled neighbor. */
  readonly bfd?: BfdOptions;
  /** Port to listen on (default 179). */
  readonly port?: number;
}

export interface BgpSession {
  readonly peer: string;
  readonly remoteAs?: number;
  /** The daemon's state name mapped to RFC 4271 names when it is one of them (Idle, Connect, Active, OpenSent, OpenConfirm, Established), else as reported. */
  readonly state: string;
  readonly established: boolean;
  /** Prefixes received from this peer and accepted, all families. */
  readonly prefixesReceived: number;
  readonly prefixesByFamily: Readonly<Partial<Record<AddressFamily, number>>>;
  /** Came in through a listen range. */
  readonly dynamic: boolean;
}

export interface BgpPath {
  /** The neighbor it came from; undefined for a route the router originates. */
  readonly peer?: string;
  readonly local: boolean;
  /** The next hop as received (global address for IPv6). */
  readonly nexthop?: string;
  /** IPv6 link-local next hop when the peer sent one. */
  readonly nexthopLinkLocal?: string;
  readonly best: boolean;
  /** Part of the multipath set (FRR reports it; BIRD and GoBGP do not, so it is false there). */
  readonly multipath: boolean;
  readonly asPath: readonly number[];
  readonly origin?: Origin;
  readonly localPref?: number;
  readonly med?: number;
  /** Numeric "a:b", well-known names translated ("blackhole" → "65535:666"). */
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
}

/** One prefix in the router's BGP table. The flat attributes are the best path's. */
export interface BgpRoute {
  readonly prefix: string;
  readonly family: AddressFamily;
  /** Next hops of every path the router holds for the prefix (ECMP shows as several). */
  readonly nexthops: readonly string[];
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly localPref?: number;
  readonly med?: number;
  readonly asPath: readonly number[];
  readonly origin?: Origin;
  readonly paths: readonly BgpPath[];
}

export interface BgpRouter {
  readonly kind: RouterKind;
  readonly host: LabHost;
  readonly config: BgpRouterConfig;
  /** The daemon processes (FRR: zebra, bgpd, maybe bfdd). */
  processes(): readonly LabProcess[];
  /** Sessions by normalized peer address. Dynamic peers appear once connected. */
  sessions(): Promise<Map<string, BgpSession>>;
  /** The BGP table by prefix (both families unless one is asked for). */
  routes(family?: AddressFamily): Promise<Map<string, BgpRoute>>;
  /** The route for exactly this prefix in the namespace's kernel main table. */
  kernelRoute(prefix: string): Promise<KernelRoute | undefined>;
  /** Starts originating a route (replaces an announcement of the same prefix). */
  announce(announcement: Announcement): Promise<void>;
  withdraw(prefix: string): Promise<void>;
  /** SIGTERM each daemon, SIGKILL after the timeout; resolves when none is left. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Everything a driver needs besides its config: the topology it runs in and which host. */
export interface RouterPlacement {
  readonly topology: import('../network/topology.ts').Topology;
  readonly host: string;
}

export const DEFAULT_TIMERS = { keepalive: 3, hold: 9, connectRetry: 1 } as const;

export function timersOf(config: BgpRouterConfig): { keepalive: number; hold: number; connectRetry: number } {
  return { ...DEFAULT_TIMERS, ...config.timers };
}
