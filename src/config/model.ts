// The one validated configuration every component uses, whether it came from metallb.io CRDs or the
// legacy ConfigMap. Plain immutable data: no methods, no API objects.
import type { AddressRange, IPFamily } from '../net/address.ts';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A Kubernetes label selector. An empty selector matches everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

/** A serviceAllocation whose three lists are all empty serves every service (it only sets a priority). */
export interface ServiceAllocation {
  /** Lower wins; undefined sorts after every number. */
  readonly priority: number | undefined;
  readonly namespaces: readonly string[];
  readonly namespaceSelectors: readonly LabelSelector[];
  readonly serviceSelectors: readonly LabelSelector[];
}

export interface Pool {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Sorted by family then first address; never overlapping. */
  readonly ranges: readonly AddressRange[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  /** Undefined: the pool serves any service (when autoAssign or explicitly requested). */
  readonly serviceAllocation: ServiceAllocation | undefined;
}

export interface PreferredNode {
  readonly weight: number;
  readonly preference: LabelSelector;
}

export interface L2Advertisement {
  readonly name: string;
  /** Resolved pool names (ipAddressPools ∪ pools matched by ipAddressPoolSelectors; none given → all pools). */
  readonly pools: readonly string[];
  /** Empty → all nodes. */
  readonly nodeSelectors: readonly LabelSelector[];
  /** Empty → every eligible interface. */
  readonly interfaces: readonly string[];
  readonly serviceSelectors: readonly LabelSelector[];
  readonly preferredNodes: readonly PreferredNode[];
}

export type Community =
  | { readonly kind: 'standard'; readonly value: number }
  | { readonly kind: 'large'; readonly globalAdmin: number; readonly localData1: number; readonly localData2: number };

export interface BGPAdvertisement {
  readonly name: string;
  readonly pools: readonly string[];
  readonly aggregationLength: number;
  readonly aggregationLengthV6: number;
  readonly localPref: number | undefined;
  readonly communities: readonly Community[];
  readonly nodeSelectors: readonly LabelSelector[];
  /** BGPPeer names; empty → all peers. */
  readonly peers: readonly string[];
  readonly serviceSelectors: readonly LabelSelector[];
}

export interface BGPPeer {
  readonly name: string;
  readonly myASN: number;
  /** Exactly one of peerASN and dynamicASN is set. */
  readonly peerASN: number | undefined;
  readonly dynamicASN: 'internal' | 'external' | undefined;
  readonly peerAddress: string;
  readonly peerFamily: IPFamily;
  readonly sourceAddress: string | undefined;
  readonly peerPort: number;
  readonly holdTimeSeconds: number;
  readonly keepaliveTimeSeconds: number;
  readonly connectTimeSeconds: number | undefined;
  readonly routerID: string | undefined;
  readonly nodeSelectors: readonly LabelSelector[];
  /** Resolved from `password` or the basic-auth Secret named by `passwordSecret`. */
  readonly password: string | undefined;
  readonly bfdProfile: string | undefined;
  readonly ebgpMultiHop: boolean;
  readonly vrf: string | undefined;
  readonly enableGracefulRestart: boolean;
}

export interface BFDProfile {
  readonly name: string;
  readonly receiveIntervalMs: number;
  readonly transmitIntervalMs: number;
  readonly detectMultiplier: number;
  readonly echoIntervalMs: number;
  readonly echoMode: boolean;
  readonly passiveMode: boolean;
  readonly minimumTtl: number;
}

export interface Config {
  /** Keyed by pool name. */
  readonly pools: ReadonlyMap<string, Pool>;
  readonly l2Advertisements: readonly L2Advertisement[];
  readonly bgpAdvertisements: readonly BGPAdvertisement[];
  readonly peers: readonly BGPPeer[];
  readonly bfdProfiles: ReadonlyMap<string, BFDProfile>;
}

/** One validation problem, naming the object and field: `IPAddressPool metallb-system/default: addresses[1] ...`. */
export interface ConfigError {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly field: string;
  readonly message: string;
}

export const formatConfigError = (e: ConfigError): string =>
  `${e.kind} ${e.namespace}/${e.name}: ${e.field ? `${e.field} ` : ''}${e.message}`;

/**
 * `warnings` (set by parseConfig) are notes that do not stop a configuration from applying, e.g. a
 * localPref that can have no effect because every peer it reaches is eBGP.
 */
export type ConfigResult =
  | { readonly ok: true; readonly config: Config; readonly warnings?: readonly ConfigError[] }
  | { readonly ok: false; readonly errors: readonly ConfigError[]; readonly warnings?: readonly ConfigError[] };
