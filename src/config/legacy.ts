// The legacy ConfigMap (MetalLB ≤ 0.12): `config` key holding YAML with peers, bgp-communities,
// address-pools and bfd-profiles. It is translated into the metallb.io objects it stands for (the same
// translation `ironlb migrate-config` prints), and those go through the one CRD validator. Each object
// keeps a path map, so errors still name `ConfigMap metallb-system/config` and the legacy path
// (`address-pools[0].addresses[2]`). Translation checks only structure: unknown keys (MetalLB parsed
// strictly), names, protocols; every value rule lives in the CRD readers.
import { PlainScalar, parseLegacyYaml, yamlBool, yamlInt } from './legacy-yaml.ts';
import { type Origin, type Problems, identityPath } from './problems.ts';
import { FieldReader, type JsonObject, isObject, item, own, show } from './reader.ts';
import { type ConfigKind, type SourceObject, metallbGroup } from './sources.ts';

export const legacyConfigMapName = 'config';
export const legacyConfigKey = 'config';
/** Name of the Community object that holds the legacy `bgp-communities` aliases. */
export const legacyCommunitiesName = 'bgp-communities';

type Conversion = 'string' | 'int' | 'bool' | 'strings' | 'selectors';
type KeyTable = Readonly<Record<string, readonly [crdKey: string, conversion: Conversion]>>;

const poolKeys: KeyTable = {
  name: ['name', 'string'],
  protocol: ['protocol', 'string'],
  addresses: ['addresses', 'strings'],
  'auto-assign': ['autoAssign', 'bool'],
  'avoid-buggy-ips': ['avoidBuggyIPs', 'bool'],
  'bgp-advertisements': ['bgpAdvertisements', 'string'], // handled apart; listed so it is a known key
};

const bgpAdvertisementKeys: KeyTable = {
  'aggregation-length': ['aggregationLength', 'int'],
  'aggregation-length-v6': ['aggregationLengthV6', 'int'],
  localpref: ['localPref', 'int'],
  communities: ['communities', 'strings'],
};

const peerKeys: KeyTable = {
  'my-asn': ['myASN', 'int'],
  'peer-asn': ['peerASN', 'int'],
  'peer-address': ['peerAddress', 'string'],
  'source-address': ['sourceAddress', 'string'],
  'peer-port': ['peerPort', 'int'],
  'hold-time': ['holdTime', 'string'],
  'keepalive-time': ['keepaliveTime', 'string'],
  'router-id': ['routerID', 'string'],
  'node-selectors': ['nodeSelectors', 'selectors'],
  password: ['password', 'string'],
  'bfd-profile': ['bfdProfile', 'string'],
  'ebgp-multihop': ['ebgpMultiHop', 'bool'],
};

const bfdKeys: KeyTable = {
  name: ['name', 'string'],
  'receive-interval': ['receiveInterval', 'int'],
  'transmit-interval': ['transmitInterval', 'int'],
  'detect-multiplier': ['detectMultiplier', 'int'],
  'echo-interval': ['echoInterval', 'int'],
  'echo-mode': ['echoMode', 'bool'],
  'passive-mode': ['passiveMode', 'bool'],
  'minimum-ttl': ['minimumTtl', 'int'],
};

const selectorKeys: KeyTable = {
  'match-labels': ['matchLabels', 'string'],
  'match-expressions': ['matchExpressions', 'string'],
};

const requirementKeys: KeyTable = {
  key: ['key', 'string'],
  operator: ['operator', 'string'],
  values: ['values', 'strings'],
};

const topLevelKeys = ['peers', 'bgp-communities', 'address-pools', 'bfd-profiles'] as const;

/** CRD field name → legacy key, for mapping error paths back to what the user wrote. */
const legacyNameOf: ReadonlyMap<string, string> = new Map(
  [poolKeys, bgpAdvertisementKeys, peerKeys, bfdKeys, selectorKeys, requirementKeys].flatMap((t) =>
    Object.entries(t).map(([legacy, [crd]]) => [crd, legacy] as const),
  ),
);

/** `nodeSelectors[0].matchLabels` → `node-selectors[0].match-labels`, under `prefix`. */
function legacyPath(prefix: string): (field: string) => string {
  return (f) => {
    if (f === '') return prefix;
    const renamed = f
      .split('.')
      .map((segment) => {
        const m = /^([^[]*)(.*)$/.exec(segment)!;
        return (legacyNameOf.get(m[1]!) ?? m[1]!) + m[2]!;
      })
      .join('.');
    return prefix === '' ? renamed : renamed.startsWith('[') ? prefix + renamed : `${prefix}.${renamed}`;
  };
}

function convertScalar(v: unknown, conversion: Conversion): unknown {
  if (Array.isArray(v)) {
    return conversion === 'strings' ? v.map((x) => convertScalar(x, 'string')) : v.map((x) => plain(x));
  }
  if (!(v instanceof PlainScalar)) return plain(v);
  switch (conversion) {
    case 'int':
      return yamlInt(v.text) ?? v.text;
    case 'bool':
      return yamlBool(v.text) ?? v.text;
    default:
      return v.text;
  }
}

/** A YAML map (a PlainScalar is an object too, but never a map). */
const isMap = (v: unknown): v is JsonObject => isObject(v) && !(v instanceof PlainScalar);

/** Any PlainScalar left (where a value had an unexpected shape) becomes its text. */
function plain(v: unknown): unknown {
  if (v instanceof PlainScalar) return v.text;
  if (Array.isArray(v)) return v.map(plain);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export interface LegacyContext {
  readonly namespace: string;
  /** The ConfigMap's name (errors name it). */
  readonly name: string;
}

/**
 * Translates one legacy ConfigMap. Returns [] (and no error) when the ConfigMap is absent or belongs to
 * another namespace.
 */
export function readLegacyConfigMap(configMap: unknown, namespace: string, problems: Problems): SourceObject[] {
  if (configMap === undefined || configMap === null) return [];
  const top = new FieldReader(legacyOrigin({ namespace, name: legacyConfigMapName }), problems);
  if (!isObject(configMap)) {
    top.error('', `is not an object, got ${show(configMap)}`);
    return [];
  }
  const md = own(configMap, 'metadata');
  const mdObj = isObject(md) ? md : {};
  const ns = own(mdObj, 'namespace');
  if (typeof ns === 'string' && ns !== '' && ns !== namespace) return [];
  const nameRaw = own(mdObj, 'name');
  const ctx: LegacyContext = { namespace, name: typeof nameRaw === 'string' && nameRaw !== '' ? nameRaw : legacyConfigMapName };
  const r = new FieldReader(legacyOrigin(ctx), problems);
  const data = own(configMap, 'data');
  if (data !== undefined && data !== null && !isObject(data)) {
    r.error('data', `must be an object, got ${show(data)}`);
    return [];
  }
  const text = isObject(data) ? own(data, legacyConfigKey) : undefined;
  if (text === undefined || text === null) {
    r.warn(`data.${legacyConfigKey}`, 'is missing: the legacy ConfigMap holds no configuration');
    return [];
  }
  if (typeof text !== 'string') {
    r.error(`data.${legacyConfigKey}`, `must be a string, got ${show(text)}`);
    return [];
  }
  return readLegacyConfigText(text, ctx, problems);
}

/** Translates the YAML text under the ConfigMap's `config` key. */
export function readLegacyConfigText(text: string, ctx: LegacyContext, problems: Problems): SourceObject[] {
  const parsed = parseLegacyYaml(text);
  if ('error' in parsed) {
    problems.error(legacyOrigin(ctx), `data.${legacyConfigKey}`, `is not valid YAML: ${parsed.error}`);
    return [];
  }
  return readLegacyConfigValue(parsed.value, ctx, problems);
}

/** Origin of an object made from the part at `prefix`; without a prefix, of the ConfigMap itself (paths as written). */
function legacyOrigin(ctx: LegacyContext, prefix?: string): Origin {
  return { kind: 'ConfigMap', namespace: ctx.namespace, name: ctx.name, path: prefix === undefined ? identityPath : legacyPath(prefix) };
}

/** Translates an already parsed configuration (YAML scalars as PlainScalar, or plain JSON values). */
export function readLegacyConfigValue(value: unknown, ctx: LegacyContext, problems: Problems): SourceObject[] {
  const r = new FieldReader(legacyOrigin(ctx), problems);
  if (value === null || value === undefined) return [];
  if (!isMap(value)) {
    r.error(`data.${legacyConfigKey}`, `must hold a YAML map of peers, bgp-communities, address-pools and bfd-profiles, got ${show(plain(value))}`);
    return [];
  }
  r.onlyKnownKeys(value, topLevelKeys, '');
  const out: SourceObject[] = [];
  const make = (kind: ConfigKind, name: string, spec: JsonObject, prefix: string, path?: (f: string) => string): void => {
    const origin = legacyOrigin(ctx, prefix);
    out.push({
      kind,
      apiVersion: `${metallbGroup}/${kind === 'BGPPeer' ? 'v1beta2' : 'v1beta1'}`,
      name,
      labels: {},
      spec,
      origin: path ? { ...origin, path } : origin,
    });
  };

  for (const { index, obj, path } of listOfMaps(r, own(value, 'bfd-profiles'), 'bfd-profiles')) {
    const spec = translate(r, obj, bfdKeys, path);
    const name = objectName(r, spec, path);
    if (name === undefined) continue;
    delete spec.name;
    make('BFDProfile', name, spec, item('bfd-profiles', index));
  }

  const communities = readLegacyCommunities(r, own(value, 'bgp-communities'));
  if (communities.length > 0) {
    const aliasPath = (f: string): string => {
      const m = /^communities\[(\d+)\]/.exec(f);
      const alias = m ? communities[Number(m[1])]?.name : undefined;
      return alias === undefined ? 'bgp-communities' : `bgp-communities.${alias}`;
    };
    make('Community', legacyCommunitiesName, { communities }, 'bgp-communities', aliasPath);
  }

  const rawPeers = own(value, 'peers');
  const peerNames = legacyPeerNames(Array.isArray(rawPeers) ? rawPeers.map((p: unknown) => (isMap(p) ? own(p, 'peer-address') : undefined)) : []);
  for (const { index, obj, path } of listOfMaps(r, rawPeers, 'peers')) {
    make('BGPPeer', peerNames[index]!, translate(r, obj, peerKeys, path), path);
  }

  for (const { obj, path } of listOfMaps(r, own(value, 'address-pools'), 'address-pools')) {
    const spec = translate(r, obj, poolKeys, path);
    const name = objectName(r, spec, path);
    const protocol = spec.protocol;
    const advertisements = own(obj, 'bgp-advertisements');
    delete spec.name;
    delete spec.protocol;
    delete spec.bgpAdvertisements;
    if (name === undefined) continue;
    make('IPAddressPool', name, spec, path);
    const protocolPath = `${path}.protocol`;
    if (protocol === undefined || protocol === null || protocol === '') {
      r.error(protocolPath, 'is required: layer2 or bgp');
      continue;
    }
    if (protocol !== 'layer2' && protocol !== 'bgp') {
      r.error(protocolPath, `${show(protocol)} is not one of layer2, bgp`);
      continue;
    }
    const poolNamePath = (f: string): string => (f.startsWith('ipAddressPools') ? `${path}.name` : path);
    const advPath = `${path}.bgp-advertisements`;
    if (protocol === 'layer2') {
      if (Array.isArray(advertisements) && advertisements.length > 0) {
        r.error(advPath, 'is only valid for protocol bgp');
      } else if (advertisements !== undefined && advertisements !== null && !Array.isArray(advertisements)) {
        r.error(advPath, `must be a list, got ${show(plain(advertisements))}`);
      }
      make('L2Advertisement', name, { ipAddressPools: [name] }, path, poolNamePath);
      continue;
    }
    const ads = listOfMaps(r, advertisements, advPath);
    if (ads.length === 0) {
      if (!(Array.isArray(advertisements) && advertisements.length > 0)) {
        make('BGPAdvertisement', name, { ipAddressPools: [name] }, path, poolNamePath);
      }
      continue;
    }
    for (const ad of ads) {
      const adSpec = { ipAddressPools: [name], ...translate(r, ad.obj, bgpAdvertisementKeys, ad.path) };
      const mapped = legacyPath(ad.path);
      make('BGPAdvertisement', ads.length === 1 ? name : `${name}-${ad.index}`, adSpec, ad.path, (f) =>
        f.startsWith('ipAddressPools') ? `${path}.name` : mapped(f),
      );
    }
  }
  return out;
}

/** The entries of a list that are maps (other entries are reported). */
function listOfMaps(r: FieldReader, v: unknown, path: string): { index: number; obj: JsonObject; path: string }[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    r.error(path, `must be a list, got ${show(plain(v))}`);
    return [];
  }
  const out: { index: number; obj: JsonObject; path: string }[] = [];
  v.forEach((x: unknown, index) => {
    const p = item(path, index);
    if (isMap(x)) out.push({ index, obj: x, path: p });
    else r.error(p, `must be a map, got ${show(plain(x))}`);
  });
  return out;
}

/** Renames keys to their CRD spelling, converts plain scalars per field, reports unknown keys. */
function translate(r: FieldReader, obj: JsonObject, keys: KeyTable, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    const spec = Object.prototype.hasOwnProperty.call(keys, key) ? keys[key] : undefined;
    if (!spec) {
      r.error(`${path}.${key}`, 'is not a known field');
      continue;
    }
    const [crdKey, conversion] = spec;
    const v = own(obj, key);
    if (v === null || v === undefined) continue;
    if (conversion === 'selectors') out[crdKey] = translateSelectors(r, v, `${path}.${key}`);
    else out[crdKey] = convertScalar(v, conversion);
  }
  return out;
}

function translateSelectors(r: FieldReader, v: unknown, path: string): unknown {
  if (!Array.isArray(v)) return plain(v);
  return v.map((sel: unknown, i) => {
    if (!isMap(sel)) return plain(sel);
    const p = item(path, i);
    const out = translate(r, sel, selectorKeys, p);
    const labels = own(sel, 'match-labels');
    if (isMap(labels)) {
      out.matchLabels = Object.fromEntries(Object.entries(labels).map(([k, x]) => [k, convertScalar(x, 'string')]));
    }
    const exprs = own(sel, 'match-expressions');
    if (Array.isArray(exprs)) {
      out.matchExpressions = exprs.map((e: unknown, j) =>
        isMap(e) ? translate(r, e, requirementKeys, `${p}.match-expressions[${j}]`) : plain(e),
      );
    }
    return out;
  });
}

function objectName(r: FieldReader, spec: Record<string, unknown>, path: string): string | undefined {
  const name = spec.name;
  if (name === undefined || name === null || name === '') {
    r.error(`${path}.name`, 'is required');
    return undefined;
  }
  if (typeof name !== 'string') {
    r.error(`${path}.name`, `must be a string, got ${show(name)}`);
    return undefined;
  }
  return name;
}

function readLegacyCommunities(r: FieldReader, v: unknown): { name: string; value: unknown }[] {
  if (v === undefined || v === null) return [];
  if (!isMap(v)) {
    r.error('bgp-communities', `must be a map of alias to community, got ${show(plain(v))}`);
    return [];
  }
  return Object.keys(v)
    .sort()
    .map((name) => ({ name, value: convertScalar(own(v, name), 'string') }));
}

/**
 * Legacy peers have no names; each is named after its address (`peer-10.0.0.1`, `peer-fd00--1`), so a
 * peer keeps its name when others are added or removed. Peers sharing an address get `-<index>`.
 */
export function legacyPeerNames(addresses: readonly unknown[]): string[] {
  const base = addresses.map((a, i) => {
    const text = a instanceof PlainScalar ? a.text : a;
    if (typeof text !== 'string') return `peer-${i}`;
    const s = text.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '');
    return s === '' ? `peer-${i}` : `peer-${s}`;
  });
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b}-${i}` : b));
}
