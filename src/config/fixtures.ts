// Builders of raw API objects for the config tests: terse to write, shaped exactly like what the API
// server returns.
import { formatConfigError, type Config, type ConfigResult } from './model.ts';
import { parseConfig } from './parse.ts';
import type { ConfigSources } from './sources.ts';

export const ns = 'metallb-system';

type Spec = Record<string, unknown>;
interface Meta {
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly apiVersion?: string;
}

function object(kind: string, version: string, name: string, spec: Spec, meta: Meta = {}) {
  return {
    apiVersion: meta.apiVersion ?? `metallb.io/${version}`,
    kind,
    metadata: { name, namespace: meta.namespace ?? ns, ...(meta.labels ? { labels: meta.labels } : {}) },
    spec,
  };
}

export const pool = (name: string, spec: Spec, meta?: Meta) => object('IPAddressPool', 'v1beta1', name, spec, meta);
export const l2 = (name: string, spec: Spec = {}, meta?: Meta) => object('L2Advertisement', 'v1beta1', name, spec, meta);
export const bgpAdv = (name: string, spec: Spec = {}, meta?: Meta) => object('BGPAdvertisement', 'v1beta1', name, spec, meta);
export const peer = (name: string, spec: Spec, meta?: Meta) => object('BGPPeer', 'v1beta2', name, spec, meta);
export const community = (name: string, aliases: Record<string, string>, meta?: Meta) =>
  object('Community', 'v1beta1', name, { communities: Object.entries(aliases).map(([n, value]) => ({ name: n, value })) }, meta);
export const bfd = (name: string, spec: Spec = {}, meta?: Meta) => object('BFDProfile', 'v1beta1', name, spec, meta);

export const secret = (name: string, type: string, data: Record<string, string>, namespace = ns) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type,
  data,
});

export const node = (name: string, labels: Record<string, string>, addresses: [type: string, address: string][] = []) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels },
  status: { addresses: addresses.map(([type, address]) => ({ type, address })) },
});

export const configMap = (config: string, namespace = ns) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'config', namespace },
  data: { config },
});

export function sources(partial: Partial<ConfigSources> = {}): ConfigSources {
  return {
    namespace: ns,
    ipAddressPools: [],
    l2Advertisements: [],
    bgpAdvertisements: [],
    bgpPeers: [],
    communities: [],
    bfdProfiles: [],
    legacyConfigMap: undefined,
    secrets: [],
    nodes: [],
    ...partial,
  };
}

export const messages = (r: ConfigResult): string[] => (r.ok ? [] : r.errors.map(formatConfigError));
export const warningsOf = (r: ConfigResult): string[] => (r.warnings ?? []).map(formatConfigError);

/** The Config of a result that must be valid; fails with the errors otherwise. */
export function valid(r: ConfigResult): Config {
  if (!r.ok) throw new Error(`expected a valid configuration, got:\n${messages(r).join('\n')}`);
  return r.config;
}

export const parse = (partial: Partial<ConfigSources>): ConfigResult => parseConfig(sources(partial));

/** Planner tests' world: pools "web" (IPv4 + IPv6) and "agg", peer r1 (iBGP, every node) and r2 (eBGP, rack a only). */
export const plannerPools = () => [pool('web', { addresses: ['10.1.0.0/24', 'fd01::/120'] }), pool('agg', { addresses: ['10.2.0.0/24'] })];
export const plannerPeers = () => [
  peer('r1', { myASN: 64512, peerASN: 64512, peerAddress: '10.0.0.1' }),
  peer('r2', { myASN: 64512, peerASN: 65000, peerAddress: '10.0.0.2', nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
];
