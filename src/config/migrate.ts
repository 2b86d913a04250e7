// `ironlb migrate-config`: the legacy ConfigMap → the metallb.io objects that mean the same thing. The
// translation is the one parseConfig itself uses for the ConfigMap (legacy.ts), so parsing the printed
// objects gives the same Config as parsing the ConfigMap.
import { parse as parseYaml, stringify } from 'yaml';
import { readLegacyConfigMap, legacyConfigKey, legacyConfigMapName } from './legacy.ts';
import type { ConfigError } from './model.ts';
import { parseConfig } from './parse.ts';
import { Problems, compareText, sortProblems } from './problems.ts';
import { isObject, own, show } from './reader.ts';
import { isObjectName } from './selector-reader.ts';
import type { ConfigKind } from './sources.ts';

export interface MigratedObject {
  readonly apiVersion: string;
  readonly kind: ConfigKind;
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: Readonly<Record<string, unknown>>;
}

export interface MigrationResult {
  /** The equivalent objects: referenced ones first (BFDProfile, Community, IPAddressPool, BGPPeer), then advertisements. */
  readonly objects: readonly MigratedObject[];
  /** Why the ConfigMap is invalid or cannot be expressed as objects; empty when the objects are good to apply. */
  readonly errors: readonly ConfigError[];
  readonly warnings: readonly ConfigError[];
}

const kindOrder: readonly ConfigKind[] = ['BFDProfile', 'Community', 'IPAddressPool', 'BGPPeer', 'L2Advertisement', 'BGPAdvertisement'];

/**
 * `input` is a ConfigMap object, a ConfigMap manifest as YAML text, the YAML text under its `config`
 * key, or that YAML already parsed (an object with `address-pools`, `peers`, …). The printed objects go
 * to `namespace` (where the ConfigMap's own namespace says otherwise, `namespace` wins).
 */
export function migrateLegacyConfig(input: unknown, namespace = 'metallb-system'): MigrationResult {
  const configMap = asConfigMap(input, namespace);
  const problems = new Problems();
  const sources = readLegacyConfigMap(configMap, namespace, problems);
  const parsed = parseConfig({
    namespace,
    ipAddressPools: [],
    l2Advertisements: [],
    bgpAdvertisements: [],
    bgpPeers: [],
    communities: [],
    bfdProfiles: [],
    legacyConfigMap: configMap,
    secrets: [],
    nodes: [],
  });
  // parseConfig translated the same ConfigMap again and validated the result: its report is complete.
  const nameProblems = new Problems();
  for (const s of sources) {
    if ((s.kind === 'IPAddressPool' || s.kind === 'BFDProfile') && !isObjectName(s.name)) {
      nameProblems.error(
        s.origin,
        'name',
        `${show(s.name)} cannot be used as a Kubernetes object name (lower-case letters, digits, "-" and "." only): rename it first`,
      );
    }
  }
  const errors = sortProblems([...(parsed.ok ? [] : parsed.errors), ...nameProblems.errors]);
  const objects = [...sources]
    .sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || compareText(a.name, b.name))
    .map((s) => ({
      apiVersion: s.apiVersion ?? 'metallb.io/v1beta1',
      kind: s.kind,
      metadata: { name: s.name, namespace },
      spec: s.spec,
    }));
  return { objects, errors, warnings: parsed.warnings ?? [] };
}

function asConfigMap(input: unknown, namespace: string): unknown {
  const wrap = (text: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: legacyConfigMapName, namespace },
    data: { [legacyConfigKey]: text },
  });
  if (typeof input === 'string') {
    let doc: unknown;
    try {
      doc = parseYaml(input, { logLevel: 'error' });
    } catch {
      return wrap(input); // parseConfig reports the YAML error against data.config
    }
    return isObject(doc) && own(doc, 'kind') === 'ConfigMap' ? inNamespace(doc, namespace) : wrap(input);
  }
  if (isObject(input) && (own(input, 'kind') === 'ConfigMap' || own(input, 'data') !== undefined)) return inNamespace(input, namespace);
  if (isObject(input)) return wrap(stringify(input));
  return input;
}

function inNamespace(configMap: Readonly<Record<string, unknown>>, namespace: string): unknown {
  const md = own(configMap, 'metadata');
  return { ...configMap, metadata: { ...(isObject(md) ? md : {}), namespace } };
}

/** A multi-document YAML stream, ready for `kubectl apply -f -`. */
export function toYaml(objects: readonly object[]): string {
  // YAML 1.1 output quotes every string a 1.1 reader (Go's yaml.v2, kubectl) could take for a number or
  // boolean ("64500:100", "yes").
  return objects.map((o) => stringify(o, { version: '1.1' })).join('---\n');
}
