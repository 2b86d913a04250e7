// The CRD manifests in deploy/crds: each parses, is structural (so kube-apiserver accepts it), and its
// schema accepts — without pruning anything — the objects IronLB reads and writes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { bfd, bgpAdv, community, configMap, l2, peer, pool } from './fixtures.ts';
import { migrateLegacyConfig } from './migrate.ts';

const dir = join(fileURLToPath(import.meta.url), '..', '..', '..', 'deploy', 'crds');

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  format?: string;
  description?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
}
interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: Schema };
  subresources?: { status?: object };
  additionalPrinterColumns?: { name: string; jsonPath: string; type: string; priority?: number }[];
}
interface CRD {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { group: string; scope: string; names: { kind: string; plural: string; singular: string; listKind: string }; versions: Version[] };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const crds = new Map<string, CRD>();
for (const f of files) {
  const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8'));
  assert.equal(docs.length, 1, `${f}: one document`);
  assert.deepEqual(docs[0]!.errors, [], f);
  const crd = docs[0]!.toJS() as CRD;
  crds.set(crd.spec.names.kind, crd);
}

const knownTypes = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/** The structural-schema rules kube-apiserver enforces, as far as these schemas use them. */
function structuralProblems(s: Schema, path: string, out: string[]): string[] {
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  if (intOrString) {
    if (s.type !== undefined) out.push(`${path}: int-or-string must not set type`);
  } else if (!s['x-kubernetes-preserve-unknown-fields'] && (s.type === undefined || !knownTypes.has(s.type))) {
    out.push(`${path}: type missing or unknown (${s.type})`);
  }
  if (s.properties && s.type !== 'object') out.push(`${path}: properties on a non-object`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties together`);
  if (s.type === 'array' && !s.items) out.push(`${path}: array without items`);
  if (s.items && s.type !== 'array') out.push(`${path}: items on a non-array`);
  for (const r of s.required ?? []) if (!s.properties?.[r]) out.push(`${path}: required ${r} is not a property`);
  if (s['x-kubernetes-list-type'] === 'map') {
    for (const k of s['x-kubernetes-list-map-keys'] ?? []) {
      if (!s.items?.required?.includes(k)) out.push(`${path}: list-map key ${k} must be required`);
    }
  }
  if (s.default !== undefined) {
    const problems = validate(s.default, s, `${path}.default`);
    out.push(...problems);
  }
  for (const [k, p] of Object.entries(s.properties ?? {})) structuralProblems(p, `${path}.${k}`, out);
  if (s.items) structuralProblems(s.items, `${path}[]`, out);
  if (typeof s.additionalProperties === 'object') structuralProblems(s.additionalProperties, `${path}{}`, out);
  return out;
}

/** What kube-apiserver would reject, or prune (an unknown field), in `v`. */
function validate(v: unknown, s: Schema, path: string): string[] {
  const out: string[] = [];
  if (s['x-kubernetes-int-or-string']) {
    if (!(typeof v === 'string' || Number.isInteger(v))) out.push(`${path}: want int or string, got ${JSON.stringify(v)}`);
    return out;
  }
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${path}: want object`];
      const o = v as Record<string, unknown>;
      for (const r of s.required ?? []) if (o[r] === undefined) out.push(`${path}.${r}: required`);
      for (const [k, x] of Object.entries(o)) {
        const p = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
        if (p) out.push(...validate(x, p, `${path}.${k}`));
        else if (s.properties && !s['x-kubernetes-preserve-unknown-fields'] && path !== '' && !path.endsWith('metadata')) {
          out.push(`${path}.${k}: unknown field (would be pruned)`);
        }
      }
      return out;
    }
    case 'array':
      if (!Array.isArray(v)) return [`${path}: want array`];
      v.forEach((x, i) => out.push(...validate(x, s.items!, `${path}[${i}]`)));
      return out;
    case 'string':
      if (typeof v !== 'string') return [`${path}: want string`];
      break;
    case 'integer':
      if (!Number.isInteger(v)) return [`${path}: want integer`];
      break;
    case 'boolean':
      if (typeof v !== 'boolean') return [`${path}: want boolean`];
      break;
  }
  if (s.enum && !s.enum.includes(v)) out.push(`${path}: ${JSON.stringify(v)} not in enum`);
  if (typeof v === 'number' && s.minimum !== undefined && v < s.minimum) out.push(`${path}: below minimum`);
  if (typeof v === 'number' && s.maximum !== undefined && v > s.maximum) out.push(`${path}: above maximum`);
  return out;
}

function check(obj: { apiVersion: string; kind: string }): string[] {
  const crd = crds.get(obj.kind);
  if (!crd) return [`no CRD for ${obj.kind}`];
  const version = crd.spec.versions.find((v) => `${crd.spec.group}/${v.name}` === obj.apiVersion);
  if (!version) return [`${obj.kind}: version ${obj.apiVersion} not defined`];
  if (!version.served) return [`${obj.kind}: version ${obj.apiVersion} not served`];
  return validate(obj, version.schema.openAPIV3Schema, '');
}

describe('deploy/crds', () => {
  const expected = {
    IPAddressPool: ['ipaddresspools', ['v1beta1'], 'v1beta1', true],
    L2Advertisement: ['l2advertisements', ['v1beta1'], 'v1beta1', true],
    BGPAdvertisement: ['bgpadvertisements', ['v1beta1'], 'v1beta1', true],
    BGPPeer: ['bgppeers', ['v1beta1', 'v1beta2'], 'v1beta2', true],
    Community: ['communities', ['v1beta1'], 'v1beta1', true],
    BFDProfile: ['bfdprofiles', ['v1beta1'], 'v1beta1', true],
    ServiceL2Status: ['servicel2statuses', ['v1beta1'], 'v1beta1', true],
    ServiceBGPStatus: ['servicebgpstatuses', ['v1beta1'], 'v1beta1', true],
    ConfigurationState: ['configurationstates', ['v1beta1'], 'v1beta1', true],
    BGPSessionState: ['bgpsessionstates', ['v1beta1'], 'v1beta1', true],
  } as const;

  test('one file per CRD, named after it', () => {
    assert.deepEqual(files, Object.values(expected).map(([plural]) => `metallb.io_${plural}.yaml`).sort());
  });

  for (const [kind, [plural, versions, storage, status]] of Object.entries(expected)) {
    test(`${kind}: metadata, versions, printer columns, structural schema`, () => {
      const crd = crds.get(kind)!;
      assert.ok(crd, kind);
      assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
      assert.equal(crd.kind, 'CustomResourceDefinition');
      assert.equal(crd.metadata.name, `${plural}.metallb.io`);
      assert.equal(crd.spec.group, 'metallb.io');
      assert.equal(crd.spec.scope, 'Namespaced');
      assert.deepEqual(crd.spec.names, { kind, listKind: `${kind}List`, plural, singular: crd.spec.names.singular });
      assert.equal(crd.spec.names.singular, kind.toLowerCase());
      assert.deepEqual(crd.spec.versions.map((v) => v.name), versions);
      assert.ok(crd.spec.versions.every((v) => v.served));
      assert.deepEqual(crd.spec.versions.filter((v) => v.storage).map((v) => v.name), [storage]);
      for (const v of crd.spec.versions) {
        if (status) assert.deepEqual(v.subresources?.status, {}, `${kind} ${v.name} status subresource`);
        assert.ok((v.additionalPrinterColumns ?? []).length > 0, `${kind} ${v.name} printer columns`);
        for (const c of v.additionalPrinterColumns ?? []) {
          assert.match(c.jsonPath, /^\.(spec|status|metadata)\./);
          assert.ok(['string', 'integer', 'number', 'boolean', 'date'].includes(c.type), c.type);
        }
        assert.deepEqual(structuralProblems(v.schema.openAPIV3Schema, `${kind}/${v.name}`, []), []);
        const top = v.schema.openAPIV3Schema.properties!;
        assert.deepEqual(Object.keys(top).sort(), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
        assert.deepEqual(top.metadata, { type: 'object' });
      }
    });
  }

  test('IPAddressPool status: IPv6 counters are int-or-string, IPv4 ones integers', () => {
    const status = crds.get('IPAddressPool')!.spec.versions[0]!.schema.openAPIV3Schema.properties!.status!.properties!;
    assert.equal(status.assignedIPv4!.type, 'integer');
    assert.equal(status.availableIPv4!.type, 'integer');
    assert.equal(status.assignedIPv6!['x-kubernetes-int-or-string'], true);
    assert.equal(status.availableIPv6!['x-kubernetes-int-or-string'], true);
    const pool = { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'p' }, spec: { addresses: ['fd00::/64'] } };
    assert.deepEqual(check({ ...pool, status: { assignedIPv4: 0, availableIPv4: 0, assignedIPv6: 3, availableIPv6: '18446744073709551613' } } as never), []);
    assert.notDeepEqual(check({ ...pool, status: { availableIPv6: 1.5 } } as never), []);
  });

  test('the schemas accept, without pruning, every object the tests feed the parser', () => {
    const objects = [
      pool('p', {
        addresses: ['10.0.0.0/24'],
        autoAssign: false,
        avoidBuggyIPs: true,
        serviceAllocation: { priority: 1, namespaces: ['a'], namespaceSelectors: [{ matchLabels: { a: 'b' } }], serviceSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }] }] },
      }),
      l2('l', {
        ipAddressPools: ['p'],
        ipAddressPoolSelectors: [{}],
        nodeSelectors: [{ matchLabels: { a: 'b' } }],
        interfaces: ['eth0'],
        serviceSelectors: [{}],
        preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { a: 'b' } } }],
      }),
      bgpAdv('b', {
        aggregationLength: 24,
        aggregationLengthV6: 64,
        localPref: 100,
        communities: ['1:1'],
        ipAddressPools: ['p'],
        ipAddressPoolSelectors: [{}],
        nodeSelectors: [{}],
        peers: ['x'],
        serviceSelectors: [{}],
      }),
      peer('v2', {
        myASN: 64500,
        dynamicASN: 'internal',
        peerAddress: '10.0.0.1',
        sourceAddress: '10.0.0.2',
        peerPort: 179,
        holdTime: '90s',
        keepaliveTime: '30s',
        connectTime: '10s',
        routerID: '10.0.0.2',
        nodeSelectors: [{ matchLabels: { a: 'b' } }],
        passwordSecret: { name: 's', namespace: 'metallb-system' },
        bfdProfile: 'f',
        ebgpMultiHop: false,
        vrf: 'red',
        enableGracefulRestart: true,
        disableMP: false,
        dualStackAddressFamily: true,
      }),
      peer('v1', { myASN: 1, peerASN: 2, peerAddress: '10.0.0.1', password: 'x', holdTime: '90s', keepaliveTime: '30s', routerID: '1.1.1.1', sourceAddress: '10.0.0.2', peerPort: 179, bfdProfile: 'f', ebgpMultiHop: true, nodeSelectors: [{}] }, { apiVersion: 'metallb.io/v1beta1' }),
      community('c', { a: '1:1' }),
      bfd('f', { receiveInterval: 10, transmitInterval: 60000, detectMultiplier: 2, echoInterval: 50, echoMode: true, passiveMode: false, minimumTtl: 254 }),
    ];
    for (const o of objects) assert.deepEqual(check(o), [], `${o.kind} ${o.metadata.name}`);
  });

  test('v1beta1 BGPPeer requires peerASN; v1beta2 accepts dynamicASN; both reject unknown values', () => {
    assert.deepEqual(check(peer('x', { myASN: 1, peerAddress: '10.0.0.1' }, { apiVersion: 'metallb.io/v1beta1' })), ['.spec.peerASN: required']);
    assert.deepEqual(check(peer('x', { myASN: 1, dynamicASN: 'external', peerAddress: '10.0.0.1' })), []);
    assert.deepEqual(check(peer('x', { myASN: 1, dynamicASN: 'sideways' })), ['.spec.dynamicASN: "sideways" not in enum']);
    assert.deepEqual(check(peer('x', { myASN: 1, peerPort: 0 })), ['.spec.peerPort: below minimum']);
    assert.deepEqual(check(peer('x', { myASN: 1, peerASN: 2, peerAddress: 'a', vrf: 'red' }, { apiVersion: 'metallb.io/v1beta1' })), [
      '.spec.vrf: unknown field (would be pruned)',
    ]);
    assert.deepEqual(check(pool('p', { addresses: ['10.0.0.0/24'], bogus: 1 })), ['.spec.bogus: unknown field (would be pruned)']);
  });

  test('migrated legacy objects are accepted as they are', () => {
    const m = migrateLegacyConfig(
      configMap(`
peers:
- {peer-address: 10.0.0.1, peer-asn: 64501, my-asn: 64500, hold-time: 90s, keepalive-time: 30s, router-id: 10.0.0.5, source-address: 10.0.0.5, peer-port: 1179, password: x, ebgp-multihop: true, bfd-profile: b, node-selectors: [{match-labels: {a: b}, match-expressions: [{key: c, operator: In, values: [d]}]}]}
bgp-communities: {na: "65535:65282"}
bfd-profiles:
- {name: b, receive-interval: 100, transmit-interval: 100, detect-multiplier: 3, echo-interval: 50, echo-mode: false, passive-mode: true, minimum-ttl: 200}
address-pools:
- {name: l, protocol: layer2, addresses: [10.1.0.0/24], auto-assign: false, avoid-buggy-ips: true}
- {name: g, protocol: bgp, addresses: [10.2.0.0/24], bgp-advertisements: [{aggregation-length: 32, aggregation-length-v6: 128, localpref: 10, communities: [na]}]}
`),
    );
    assert.deepEqual(m.errors, []);
    assert.equal(m.objects.length, 7);
    for (const o of m.objects) assert.deepEqual(check(o), [], `${o.kind} ${o.metadata.name}`);
  });

  test('status objects the daemons write', () => {
    const meta = { name: 'x', namespace: 'metallb-system', labels: { 'metallb.io/node': 'n1' } };
    const objects = [
      { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', metadata: meta, spec: {}, status: { node: 'n1', serviceName: 's', serviceNamespace: 'd', interfaces: [{ name: 'eth0' }] } },
      { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceBGPStatus', metadata: meta, spec: {}, status: { node: 'n1', serviceName: 's', serviceNamespace: 'd', peers: ['p'] } },
      { apiVersion: 'metallb.io/v1beta1', kind: 'ConfigurationState', metadata: meta, status: { result: 'Invalid', errorSummary: 'x', lastTransitionTime: new Date(0).toISOString() } },
      { apiVersion: 'metallb.io/v1beta1', kind: 'ConfigurationState', metadata: meta, spec: { type: 'Speaker', nodeName: 'n1' }, status: { result: 'Valid', errorSummary: '', validConfig: true, conditions: [{ type: 'configReconcilerValid', status: 'True', reason: 'SyncStateSuccess', message: '' }] } },
      { apiVersion: 'metallb.io/v1beta1', kind: 'BGPSessionState', metadata: meta, spec: {}, status: { node: 'n1', peer: '10.0.0.1', peerName: 'p', vrf: '', bgpStatus: 'Established', bfdStatus: 'N/A', lastTransitionTime: new Date(0).toISOString() } },
    ];
    for (const o of objects) assert.deepEqual(check(o), [], o.kind);
  });
});
