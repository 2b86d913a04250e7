import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { configMap, messages, parse, valid } from './fixtures.ts';
import { type MigratedObject, migrateLegacyConfig, toYaml } from './migrate.ts';
import type { ConfigSources } from './sources.ts';

const listOf: Record<string, keyof ConfigSources> = {
  IPAddressPool: 'ipAddressPools',
  L2Advertisement: 'l2Advertisements',
  BGPAdvertisement: 'bgpAdvertisements',
  BGPPeer: 'bgpPeers',
  Community: 'communities',
  BFDProfile: 'bfdProfiles',
};

function asSources(objects: readonly object[]): Partial<ConfigSources> {
  const out: Record<string, unknown[]> = {};
  for (const o of objects as MigratedObject[]) (out[listOf[o.kind]!] ??= []).push(o);
  return out as Partial<ConfigSources>;
}

const examples: Record<string, string> = {
  'layer2 (docs)': `
address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.168.1.240-192.168.1.250
`,
  'bgp with communities (docs)': `
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
bgp-communities:
  no-advertise: 65535:65282
address-pools:
- name: default
  protocol: bgp
  addresses:
  - 198.51.100.0/24
  bgp-advertisements:
  - aggregation-length: 32
    localpref: 100
    communities:
    - no-advertise
  - aggregation-length: 24
`,
  'bfd profiles (docs)': `
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  bfd-profile: full1
- peer-address: 10.0.0.2
  peer-asn: 64501
  my-asn: 64500
  bfd-profile: full2
bfd-profiles:
- name: full1
  receive-interval: 179
  transmit-interval: 180
  echo-interval: 62
  echo-mode: false
  passive-mode: false
  minimum-ttl: 254
- name: full2
  receive-interval: 30
  transmit-interval: 30
  detect-multiplier: 10
  echo-mode: true
  passive-mode: yes
address-pools:
- name: default
  protocol: bgp
  addresses:
  - 192.168.10.0/24
`,
  'everything at once': `
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  peer-port: 1179
  source-address: 10.0.0.100
  hold-time: 3m
  keepalive-time: 1m
  router-id: 10.0.0.100
  password: "s3cret"
  ebgp-multihop: true
  node-selectors:
  - match-labels:
      rack: frontend
    match-expressions:
    - key: network-speed
      operator: NotIn
      values: [slow]
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  node-selectors:
  - match-labels:
      rack: backend
- peer-address: fd00::1
  peer-asn: 64500
  my-asn: 64500
bgp-communities:
  no-advertise: 65535:65282
  big: large:64500:1:2
address-pools:
- name: web
  protocol: bgp
  avoid-buggy-ips: true
  addresses:
  - 203.0.113.0/24
  - fd00:10::/120
  bgp-advertisements:
  - aggregation-length: 32
    aggregation-length-v6: 128
    localpref: 100
    communities: [no-advertise, big, "64500:7"]
  - aggregation-length: 24
    aggregation-length-v6: 120
    localpref: 100
- name: quiet
  protocol: bgp
  auto-assign: false
  addresses: [203.0.114.10-203.0.114.20]
- name: office
  protocol: layer2
  addresses: [192.168.50.0/26, 192.168.50.64]
`,
};

describe('migrateLegacyConfig: the objects mean what the ConfigMap meant', () => {
  for (const [name, yaml] of Object.entries(examples)) {
    test(name, () => {
      const direct = valid(parse({ legacyConfigMap: configMap(yaml) }));
      const m = migrateLegacyConfig(configMap(yaml));
      assert.deepEqual(m.errors, []);
      assert.deepEqual(valid(parse(asSources(m.objects))), direct);
      // and once more after printing and reading back the YAML a user would apply
      const reread = parseAllDocuments(toYaml(m.objects)).map((d) => d.toJS() as object);
      assert.deepEqual(reread, JSON.parse(JSON.stringify(m.objects)));
      assert.deepEqual(valid(parse(asSources(reread))), direct);
    });
  }

  test('random legacy configurations: both readings agree', () => {
    const name = fc.constantFrom('a', 'b', 'web', 'db', 'x-1');
    const poolArb = fc.record({
      name,
      protocol: fc.constantFrom('layer2', 'bgp'),
      cidrBlock: fc.integer({ min: 0, max: 200 }),
      prefix: fc.integer({ min: 24, max: 32 }),
      autoAssign: fc.option(fc.boolean(), { nil: undefined }),
      ads: fc.array(
        fc.record({
          aggregationLength: fc.option(fc.integer({ min: 20, max: 32 }), { nil: undefined }),
          localpref: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
          communities: fc.array(fc.constantFrom('no-advertise', '1:1', 'large:1:2:3'), { maxLength: 2 }),
        }),
        { maxLength: 2 },
      ),
    });
    const peerArb = fc.record({
      address: fc.constantFrom('10.9.0.1', '10.9.0.2', 'fd00::9'),
      myASN: fc.constantFrom(64500, 64501),
      peerASN: fc.constantFrom(64500, 64502),
      holdTime: fc.option(fc.constantFrom('0s', '3s', '90s', '2m'), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(poolArb, { maxLength: 4 }), fc.array(peerArb, { maxLength: 3 }), (pools, peers) => {
        const config = {
          'bgp-communities': { 'no-advertise': '65535:65282' },
          peers: peers.map((p) => ({ 'peer-address': p.address, 'my-asn': p.myASN, 'peer-asn': p.peerASN, ...(p.holdTime ? { 'hold-time': p.holdTime } : {}) })),
          'address-pools': pools.map((p) => ({
            name: p.name,
            protocol: p.protocol,
            addresses: [`10.${p.cidrBlock}.0.0/${p.prefix}`],
            ...(p.autoAssign === undefined ? {} : { 'auto-assign': p.autoAssign }),
            ...(p.protocol === 'bgp' && p.ads.length > 0
              ? {
                  'bgp-advertisements': p.ads.map((a) => ({
                    ...(a.aggregationLength === undefined ? {} : { 'aggregation-length': a.aggregationLength }),
                    ...(a.localpref === undefined ? {} : { localpref: a.localpref }),
                    communities: [...new Set(a.communities)],
                  })),
                }
              : {}),
          })),
        };
        const cm = configMap(stringify(config));
        const direct = parse({ legacyConfigMap: cm });
        const m = migrateLegacyConfig(cm);
        const migrated = parse(asSources(m.objects));
        assert.equal(migrated.ok, direct.ok, [...messages(direct), '--', ...messages(migrated)].join('\n'));
        assert.equal(m.errors.length === 0, direct.ok);
        if (direct.ok && migrated.ok) assert.deepEqual(migrated.config, direct.config);
      }),
      { numRuns: 200 },
    );
  });
});

describe('migrateLegacyConfig: inputs and outputs', () => {
  const yaml = examples['bgp with communities (docs)']!;

  test('objects: kinds in apply order, v1beta2 peers, the target namespace', () => {
    const m = migrateLegacyConfig(configMap(yaml), 'lb');
    assert.deepEqual(
      m.objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`),
      [
        'metallb.io/v1beta1 Community lb/bgp-communities',
        'metallb.io/v1beta1 IPAddressPool lb/default',
        'metallb.io/v1beta2 BGPPeer lb/peer-10.0.0.1',
        'metallb.io/v1beta1 BGPAdvertisement lb/default-0',
        'metallb.io/v1beta1 BGPAdvertisement lb/default-1',
      ],
    );
    assert.deepEqual(m.objects[3]!.spec, { ipAddressPools: ['default'], aggregationLength: 32, localPref: 100, communities: ['no-advertise'] });
    assert.deepEqual(m.objects[2]!.spec, { peerAddress: '10.0.0.1', peerASN: 64501, myASN: 64500 });
  });

  test('the same objects from a ConfigMap object, its manifest, the bare YAML, or that YAML parsed', () => {
    const fromObject = migrateLegacyConfig(configMap(yaml));
    const manifest = stringify(configMap(yaml));
    assert.deepEqual(migrateLegacyConfig(manifest), fromObject);
    assert.deepEqual(migrateLegacyConfig(yaml), fromObject);
    assert.deepEqual(migrateLegacyConfig({ ...configMap(yaml), metadata: { name: 'config', namespace: 'elsewhere' } }), fromObject);
    const parsedConfig = {
      peers: [{ 'peer-address': '10.0.0.1', 'peer-asn': 64501, 'my-asn': 64500 }],
      'bgp-communities': { 'no-advertise': '65535:65282' },
      'address-pools': [
        {
          name: 'default',
          protocol: 'bgp',
          addresses: ['198.51.100.0/24'],
          'bgp-advertisements': [{ 'aggregation-length': 32, localpref: 100, communities: ['no-advertise'] }, { 'aggregation-length': 24 }],
        },
      ],
    };
    assert.deepEqual(migrateLegacyConfig(parsedConfig).objects, fromObject.objects);
  });

  test('an invalid ConfigMap gives its errors (and what could be translated)', () => {
    const m = migrateLegacyConfig(configMap('address-pools:\n- name: a\n  protocol: layer3\n  addresses: [10.0.0.0/24]\n'));
    assert.deepEqual(
      m.errors.map((e) => `${e.field} ${e.message}`),
      ['address-pools[0].protocol "layer3" is not one of layer2, bgp'],
    );
    assert.deepEqual(m.objects.map((o) => o.kind), ['IPAddressPool']);
    const garbage = migrateLegacyConfig('address-pools: [\n');
    assert.equal(garbage.errors.length, 1);
    assert.match(garbage.errors[0]!.message, /^is not valid YAML/);
  });

  test('names that cannot be object names are errors', () => {
    const m = migrateLegacyConfig(configMap('address-pools:\n- name: My Pool\n  protocol: layer2\n  addresses: [10.0.0.0/24]\nbfd-profiles:\n- name: Fast_BFD\n'));
    assert.deepEqual(
      m.errors.map((e) => `${e.field} ${e.message}`),
      [
        'bfd-profiles[0].name "Fast_BFD" cannot be used as a Kubernetes object name (lower-case letters, digits, "-" and "." only): rename it first',
        'address-pools[0].name "My Pool" cannot be used as a Kubernetes object name (lower-case letters, digits, "-" and "." only): rename it first',
      ],
    );
  });

  test('toYaml: one document per object, strings Go could misread are quoted', () => {
    const text = toYaml([
      { kind: 'A', spec: { communities: ['64500:10', 'no'] } },
      { kind: 'B', spec: {} },
    ]);
    assert.equal(text, 'kind: A\nspec:\n  communities:\n    - "64500:10"\n    - "no"\n---\nkind: B\nspec: {}\n');
  });
});
