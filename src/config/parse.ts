// The one configuration parser: metallb.io CRDs and the legacy ConfigMap → one validated, immutable
// Config, or every error found. Controller, speaker, webhook and CLI all call parseConfig.
import { checkAggregation, checkBFDEchoIPv6, checkLocalPrefConflicts, noteLocalPref, readBGPAdvertisement, readL2Advertisement } from './advertisement.ts';
import { readBFDProfile } from './bfd.ts';
import { readCommunityAliases } from './community.ts';
import { deepFreeze } from './freeze.ts';
import { readLegacyConfigMap } from './legacy.ts';
import type { BFDProfile, Config, ConfigResult } from './model.ts';
import { readNodes } from './node.ts';
import { type PeerDraft, checkDuplicatePeers, readPeer } from './peer.ts';
import { type PoolDraft, checkNodeAddresses, checkOverlaps, readPool } from './pool.ts';
import { Problems, crdOrigin, sortProblems } from './problems.ts';
import { isObject, show } from './reader.ts';
import { type ConfigKind, type ConfigSources, type SourceObject, indexSecrets, readCRDs, sourceLists, uniqueByName } from './sources.ts';

export type { ConfigSources } from './sources.ts';

/**
 * Parses and validates every configuration source. Inputs are untrusted: any shape gives errors, never
 * a throw. The result is deterministic (everything sorted by name) and deeply frozen.
 */
export function parseConfig(src: ConfigSources): ConfigResult {
  const problems = new Problems();
  let config: Config | undefined;
  try {
    config = build(src, problems);
  } catch (err) {
    // A bug here must not take a daemon down: report it like any invalid configuration.
    const namespace = typeof src?.namespace === 'string' ? src.namespace : '';
    problems.error(crdOrigin('Configuration', namespace, '*'), '', `internal error while parsing: ${(err as Error)?.message ?? String(err)}`);
  }
  const warnings = sortProblems(problems.warnings);
  if (problems.errors.length > 0 || !config) {
    return deepFreeze({ ok: false as const, errors: sortProblems(problems.errors), warnings });
  }
  return deepFreeze({ ok: true as const, config, warnings });
}

function build(src: ConfigSources, problems: Problems): Config | undefined {
  if (!isObject(src)) {
    problems.error(crdOrigin('Configuration', '', '*'), '', `the configuration sources must be an object, got ${show(src)}`);
    return undefined;
  }
  const namespace = src.namespace;
  if (typeof namespace !== 'string' || namespace === '') {
    problems.error(crdOrigin('Configuration', String(namespace), '*'), 'namespace', 'the install namespace must be a non-empty string');
    return undefined;
  }

  const byKind = new Map<ConfigKind, SourceObject[]>(sourceLists.map(([kind]) => [kind, []]));
  for (const [kind, key] of sourceLists) byKind.get(kind)!.push(...readCRDs(kind, src[key], namespace, problems));
  for (const o of readLegacyConfigMap(src.legacyConfigMap, namespace, problems)) byKind.get(o.kind)!.push(o);
  const objects = (kind: ConfigKind): SourceObject[] => uniqueByName(byKind.get(kind)!, problems);

  const nodes = readNodes(src.nodes);
  const secrets = indexSecrets(src.secrets, namespace);

  const bfdProfiles = new Map<string, BFDProfile>();
  for (const o of objects('BFDProfile')) bfdProfiles.set(o.name, readBFDProfile(o, problems));

  const aliases = readCommunityAliases(objects('Community'), problems);

  const pools = new Map<string, PoolDraft>();
  for (const o of objects('IPAddressPool')) pools.set(o.name, readPool(o, problems));
  checkOverlaps([...pools.values()], problems);
  checkNodeAddresses([...pools.values()], nodes, problems);

  const peerSources = objects('BGPPeer');
  const peers: PeerDraft[] = [];
  for (const o of peerSources) {
    const p = readPeer(o, problems, { namespace, secrets, bfdProfiles });
    if (p) peers.push(p);
  }
  checkDuplicatePeers(peers, nodes, problems);

  const adContext = { pools, aliases, peerNames: new Set(peerSources.map((o) => o.name)) };
  const l2Advertisements = objects('L2Advertisement').map((o) => readL2Advertisement(o, problems, adContext));
  const bgpAds = objects('BGPAdvertisement').map((o) => readBGPAdvertisement(o, problems, adContext));
  checkAggregation(bgpAds, pools, problems);
  checkLocalPrefConflicts(bgpAds, pools, nodes, problems);
  checkBFDEchoIPv6(bgpAds, pools, peers, bfdProfiles, problems);
  noteLocalPref(bgpAds, peers, problems);

  if (problems.errors.length > 0) return undefined;
  return {
    pools: new Map([...pools].map(([name, d]) => [name, d.pool])),
    l2Advertisements,
    bgpAdvertisements: bgpAds.map((d) => d.ad),
    peers: peers.map((d) => d.peer),
    bfdProfiles,
  };
}
