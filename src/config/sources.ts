// The raw inputs of the parser (API objects as plain JSON, untrusted) and their first sorting: objects of
// other namespaces are dropped, metadata is checked, and each object becomes a SourceObject whose spec
// the kind-specific readers take from there. The legacy ConfigMap produces SourceObjects too
// (legacy.ts), so both sources meet here and name collisions between them are found in one place.
import { type Origin, type Problems, compareText, crdOrigin, describe } from './problems.ts';
import { FieldReader, type JsonObject, isObject, own, show } from './reader.ts';
import { readLabels } from './selector-reader.ts';

export interface ConfigSources {
  /** Install namespace; objects in any other namespace are ignored. */
  readonly namespace: string;
  readonly ipAddressPools: readonly unknown[];
  readonly l2Advertisements: readonly unknown[];
  readonly bgpAdvertisements: readonly unknown[];
  readonly bgpPeers: readonly unknown[];
  readonly communities: readonly unknown[];
  readonly bfdProfiles: readonly unknown[];
  /** The ConfigMap named "config" (key "config" holds YAML), if it exists. */
  readonly legacyConfigMap: unknown | undefined;
  /**
   * Secrets of the namespace, for BGPPeer passwordSecret. Undefined for a component that may not read
   * Secrets (the controller): references are then checked for shape only and passwords stay unset.
   */
  readonly secrets: readonly unknown[] | undefined;
  /** Node objects: a pool containing a node's InternalIP or ExternalIP is rejected. */
  readonly nodes: readonly unknown[];
}

export type ConfigKind = 'IPAddressPool' | 'L2Advertisement' | 'BGPAdvertisement' | 'BGPPeer' | 'Community' | 'BFDProfile';

/** One configuration object, from a CRD or made from a part of the legacy ConfigMap. */
export interface SourceObject {
  readonly kind: ConfigKind;
  /** e.g. "metallb.io/v1beta2"; undefined when the input did not say. */
  readonly apiVersion: string | undefined;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: JsonObject;
  readonly origin: Origin;
}

export const metallbGroup = 'metallb.io';

/** The API versions each kind is served in (BGPPeer: v1beta1 still served, v1beta2 stored). */
export const servedVersions: Readonly<Record<ConfigKind, readonly string[]>> = {
  IPAddressPool: ['v1beta1'],
  L2Advertisement: ['v1beta1'],
  BGPAdvertisement: ['v1beta1'],
  BGPPeer: ['v1beta1', 'v1beta2'],
  Community: ['v1beta1'],
  BFDProfile: ['v1beta1'],
};

export const sourceLists: readonly (readonly [ConfigKind, keyof ConfigSources])[] = [
  ['IPAddressPool', 'ipAddressPools'],
  ['L2Advertisement', 'l2Advertisements'],
  ['BGPAdvertisement', 'bgpAdvertisements'],
  ['BGPPeer', 'bgpPeers'],
  ['Community', 'communities'],
  ['BFDProfile', 'bfdProfiles'],
];

/** The install namespace's objects of one kind, checked for metadata; others are dropped silently. */
export function readCRDs(kind: ConfigKind, list: unknown, namespace: string, problems: Problems): SourceObject[] {
  if (!Array.isArray(list)) {
    if (list !== undefined && list !== null) {
      problems.error(crdOrigin(kind, namespace, '*'), '', `objects must be given as a list, got ${show(list)}`);
    }
    return [];
  }
  const out: SourceObject[] = [];
  list.forEach((raw: unknown, index) => {
    const obj = readCRD(kind, raw, index, namespace, problems);
    if (obj) out.push(obj);
  });
  return out;
}

function readCRD(kind: ConfigKind, raw: unknown, index: number, namespace: string, problems: Problems): SourceObject | undefined {
  const unnamed = new FieldReader(crdOrigin(kind, namespace, `<item ${index}>`), problems);
  if (!isObject(raw)) {
    unnamed.error('', `is not an object, got ${show(raw)}`);
    return undefined;
  }
  const metadata = own(raw, 'metadata');
  if (!isObject(metadata)) {
    unnamed.error('metadata', metadata === undefined ? 'is required' : `must be an object, got ${show(metadata)}`);
    return undefined;
  }
  const ns = own(metadata, 'namespace');
  if (ns !== undefined && ns !== null && ns !== '' && typeof ns !== 'string') {
    unnamed.error('metadata.namespace', `must be a string, got ${show(ns)}`);
    return undefined;
  }
  // Objects elsewhere are not ours (the webhook rejects them; the daemons ignore them).
  if (typeof ns === 'string' && ns !== '' && ns !== namespace) return undefined;
  const name = own(metadata, 'name');
  if (typeof name !== 'string' || name === '') {
    unnamed.error('metadata.name', name === undefined || name === '' ? 'is required' : `must be a string, got ${show(name)}`);
    return undefined;
  }
  const r = new FieldReader(crdOrigin(kind, namespace, name), problems);
  const before = problems.errorCount;
  const givenKind = own(raw, 'kind');
  if (givenKind !== undefined && givenKind !== kind) r.error('kind', `${show(givenKind)} found among ${kind} objects`);
  const apiVersion = own(raw, 'apiVersion');
  let version: string | undefined;
  if (apiVersion !== undefined) {
    const served = servedVersions[kind].map((v) => `${metallbGroup}/${v}`);
    if (typeof apiVersion !== 'string' || !served.includes(apiVersion)) {
      r.error('apiVersion', `${show(apiVersion)} is not served for ${kind} (use ${served.join(' or ')})`);
    } else version = apiVersion;
  }
  const labels = readLabels(r, own(metadata, 'labels'), 'metadata.labels');
  const spec = own(raw, 'spec');
  if (spec !== undefined && spec !== null && !isObject(spec)) r.error('spec', `must be an object, got ${show(spec)}`);
  if (problems.errorCount > before) return undefined;
  return { kind, apiVersion: version, name, labels, spec: isObject(spec) ? spec : {}, origin: r.origin };
}

/**
 * Sorts objects of one kind by name and keeps the first of each name (CRDs before the legacy ConfigMap);
 * every later one with a taken name is an error naming where the name is already used.
 */
export function uniqueByName(objects: readonly SourceObject[], problems: Problems): SourceObject[] {
  const sorted = objects
    .map((o, i) => ({ o, i, legacy: o.origin.kind === 'ConfigMap' ? 1 : 0 }))
    .sort((a, b) => compareText(a.o.name, b.o.name) || a.legacy - b.legacy || a.i - b.i);
  const out: SourceObject[] = [];
  for (const { o } of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.name === o.name) {
      problems.error(o.origin, '', `name ${show(o.name)} is also used by ${describe(prev.origin)}`);
      continue;
    }
    out.push(o);
  }
  return out;
}

/** The install namespace's Secrets by name (malformed Secrets are skipped: they are not configuration). */
export function indexSecrets(secrets: unknown, namespace: string): Map<string, JsonObject> | undefined {
  if (secrets === undefined) return undefined;
  const out = new Map<string, JsonObject>();
  if (!Array.isArray(secrets)) return out;
  for (const s of secrets as unknown[]) {
    if (!isObject(s)) continue;
    const md = own(s, 'metadata');
    if (!isObject(md)) continue;
    const name = own(md, 'name');
    const ns = own(md, 'namespace');
    if (typeof name !== 'string') continue;
    if (ns !== undefined && ns !== null && ns !== '' && ns !== namespace) continue;
    if (!out.has(name)) out.set(name, s);
  }
  return out;
}
