import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressRange, type AddressRange } from '../net/address.ts';
import { configMap, messages, parse, secret, valid, warningsOf } from './fixtures.ts';
import { legacyPeerNames } from './legacy.ts';
import { parseLegacyYaml, PlainScalar, yamlBool, yamlInt } from './legacy-yaml.ts';

const range = (text: string): AddressRange => parseAddressRange(text) as AddressRange;
const legacy = (yaml: string) => parse({ legacyConfigMap: configMap(yaml) });
const selector = (matchLabels: Record<string, string> = {}, matchExpressions: unknown[] = []) => ({ matchLabels, matchExpressions });

describe('legacy ConfigMap: MetalLB documentation examples', () => {
  test('layer 2 pool', () => {
    const c = valid(
      legacy(`
address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.168.1.240-192.168.1.250
`),
    );
    assert.deepEqual([...c.pools.values()], [
      { name: 'default', labels: {}, ranges: [range('192.168.1.240-192.168.1.250')], autoAssign: true, avoidBuggyIPs: false, serviceAllocation: undefined },
    ]);
    assert.deepEqual(c.l2Advertisements, [
      { name: 'default', pools: ['default'], nodeSelectors: [], interfaces: [], serviceSelectors: [], preferredNodes: [] },
    ]);
    assert.deepEqual(c.bgpAdvertisements, []);
    assert.deepEqual(c.peers, []);
  });

  test('BGP with a peer: one default advertisement', () => {
    const c = valid(
      legacy(`
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: default
  protocol: bgp
  addresses:
  - 192.168.10.0/24
`),
    );
    assert.deepEqual(c.bgpAdvertisements, [
      {
        name: 'default',
        pools: ['default'],
        aggregationLength: 32,
        aggregationLengthV6: 128,
        localPref: undefined,
        communities: [],
        nodeSelectors: [],
        peers: [],
        serviceSelectors: [],
      },
    ]);
    assert.equal(c.peers.length, 1);
    assert.deepEqual(c.peers[0], {
      name: 'peer-10.0.0.1',
      myASN: 64500,
      peerASN: 64501,
      dynamicASN: undefined,
      peerAddress: '10.0.0.1',
      peerFamily: 'IPv4',
      sourceAddress: undefined,
      peerPort: 179,
      holdTimeSeconds: 90,
      keepaliveTimeSeconds: 30,
      connectTimeSeconds: undefined,
      routerID: undefined,
      nodeSelectors: [],
      password: undefined,
      bfdProfile: undefined,
      ebgpMultiHop: false,
      vrf: undefined,
      enableGracefulRestart: false,
    });
    assert.deepEqual(c.l2Advertisements, []);
  });

  test('BGP advertisements with communities and localpref', () => {
    const r = legacy(`
peers:
- peer-address: 10.0.0.1
  peer-asn: 64500
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
`);
    const c = valid(r);
    assert.deepEqual(warningsOf(r), []);
    assert.deepEqual(
      c.bgpAdvertisements.map((a) => [a.name, a.aggregationLength, a.localPref, a.communities]),
      [
        ['default-0', 32, 100, [{ kind: 'standard', value: 0xffffff02 }]],
        ['default-1', 24, undefined, []],
      ],
    );
  });

  test('peer node selectors, options and password', () => {
    const c = valid(
      legacy(`
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  peer-port: 1179
  source-address: 10.0.0.100
  hold-time: 120s
  keepalive-time: 40s
  router-id: 10.0.0.100
  password: yourPassword
  ebgp-multihop: true
  node-selectors:
  - match-labels:
      rack: frontend
    match-expressions:
    - key: network-speed
      operator: NotIn
      values: [slow]
  - match-expressions:
    - key: kubernetes.io/hostname
      operator: In
      values: [hostA, hostB]
- peer-address: fd00::1
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: v6
  protocol: bgp
  addresses:
  - fd00:1::/120
`),
    );
    assert.deepEqual(
      c.peers.map((p) => p.name),
      ['peer-10.0.0.1', 'peer-fd00--1'],
    );
    const p = c.peers[0]!;
    assert.equal(p.peerPort, 1179);
    assert.equal(p.sourceAddress, '10.0.0.100');
    assert.equal(p.holdTimeSeconds, 120);
    assert.equal(p.keepaliveTimeSeconds, 40);
    assert.equal(p.routerID, '10.0.0.100');
    assert.equal(p.password, 'yourPassword');
    assert.equal(p.ebgpMultiHop, true);
    assert.deepEqual(p.nodeSelectors, [
      selector({ rack: 'frontend' }, [{ key: 'network-speed', operator: 'NotIn', values: ['slow'] }]),
      selector({}, [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['hostA', 'hostB'] }]),
    ]);
    assert.equal(c.peers[1]!.peerFamily, 'IPv6');
  });

  test('BFD profiles', () => {
    const c = valid(
      legacy(`
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  bfd-profile: full1
bfd-profiles:
- name: full1
  receive-interval: 179
  transmit-interval: 180
  echo-interval: 62
  echo-mode: false
  passive-mode: false
  minimum-ttl: 254
- name: defaults
address-pools:
- name: default
  protocol: bgp
  addresses:
  - 192.168.10.0/24
`),
    );
    assert.deepEqual([...c.bfdProfiles.values()], [
      { name: 'defaults', receiveIntervalMs: 300, transmitIntervalMs: 300, detectMultiplier: 3, echoIntervalMs: 50, echoMode: false, passiveMode: false, minimumTtl: 254 },
      { name: 'full1', receiveIntervalMs: 179, transmitIntervalMs: 180, detectMultiplier: 3, echoIntervalMs: 62, echoMode: false, passiveMode: false, minimumTtl: 254 },
    ]);
    assert.equal(c.peers[0]!.bfdProfile, 'full1');
  });

  test('auto-assign, avoid-buggy-ips and several pools, YAML 1.1 booleans as MetalLB read them', () => {
    const c = valid(
      legacy(`
address-pools:
- name: production
  protocol: layer2
  addresses: [192.168.144.0/20]
  avoid-buggy-ips: yes
- name: expensive
  protocol: layer2
  auto-assign: no
  addresses:
  - 42.176.25.64/30
  - "2001:db8::/120"
`),
    );
    assert.deepEqual(
      [...c.pools.values()].map((p) => [p.name, p.autoAssign, p.avoidBuggyIPs, p.ranges.length]),
      [
        ['expensive', false, false, 2],
        ['production', true, true, 1],
      ],
    );
    assert.deepEqual(
      c.l2Advertisements.map((a) => [a.name, a.pools]),
      [
        ['expensive', ['expensive']],
        ['production', ['production']],
      ],
    );
  });

  test('an empty config, an empty document, and a ConfigMap without the key', () => {
    for (const yaml of ['', '# nothing\n', '{}', 'peers: []\naddress-pools:\n']) {
      const c = valid(legacy(yaml));
      assert.equal(c.pools.size, 0, JSON.stringify(yaml));
    }
    const r = parse({ legacyConfigMap: { metadata: { name: 'config', namespace: 'metallb-system' } } });
    valid(r);
    assert.deepEqual(warningsOf(r), ['ConfigMap metallb-system/config: data.config is missing: the legacy ConfigMap holds no configuration']);
  });

  test('a ConfigMap of another namespace is ignored', () => {
    const c = valid(parse({ legacyConfigMap: configMap('address-pools: 5', 'other') }));
    assert.equal(c.pools.size, 0);
  });

  test('legacy peers cannot use passwordSecret: a Secret does not help', () => {
    const r = parse({
      secrets: [secret('s', 'kubernetes.io/basic-auth', { password: 'cHc=' })],
      legacyConfigMap: configMap('peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, password-secret: s}\n'),
    });
    assert.deepEqual(messages(r), ['ConfigMap metallb-system/config: peers[0].password-secret is not a known field']);
  });
});

describe('legacy ConfigMap: errors name the ConfigMap and the legacy path', () => {
  const cases: [string, string, string[]][] = [
    ['garbage YAML', 'address-pools: [1\n', ['data.config is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['tab indentation', 'address-pools:\n\t- name: x\n', ['data.config is not valid YAML: Tabs are not allowed as indentation']],
    ['duplicate keys', 'peers: []\npeers: []\n', ['data.config is not valid YAML: Map keys must be unique']],
    ['two documents', 'peers: []\n---\npeers: []\n', ['data.config is not valid YAML: Source contains multiple documents; please use YAML.parseAllDocuments()']],
    ['a list at the top', '- 1\n', ['data.config must hold a YAML map of peers, bgp-communities, address-pools and bfd-profiles, got a list']],
    ['a scalar at the top', 'hello', ['data.config must hold a YAML map of peers, bgp-communities, address-pools and bfd-profiles, got "hello"']],
    ['unknown top-level key', 'address_pools: []\n', ['address_pools is not a known field']],
    ['address-pools not a list', 'address-pools: default\n', ['address-pools must be a list, got "default"']],
    ['pool not a map', 'address-pools: [5]\n', ['address-pools[0] must be a map, got "5"']],
    ['pool without name', 'address-pools:\n- protocol: layer2\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].name is required']],
    ['pool name a list', 'address-pools:\n- name: [a]\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].name must be a string, got a list']],
    ['unknown protocol', 'address-pools:\n- name: a\n  protocol: layer3\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].protocol "layer3" is not one of layer2, bgp']],
    ['missing protocol', 'address-pools:\n- name: a\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].protocol is required: layer2 or bgp']],
    ['unknown pool key (CRD spelling)', 'address-pools:\n- name: a\n  protocol: layer2\n  autoAssign: false\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].autoAssign is not a known field']],
    ['bad address', 'address-pools:\n- name: a\n  protocol: layer2\n  addresses:\n  - 10.0.0.0/24\n  - 10.0.1.0/24\n  - 10.0.0.300\n', ['address-pools[0].addresses[2] "10.0.0.300" is not an IP, range or CIDR']],
    ['addresses not a list', 'address-pools:\n- name: a\n  protocol: layer2\n  addresses: 10.0.0.0/24\n', ['address-pools[0].addresses must be a list, got "10.0.0.0/24"']],
    ['no addresses', 'address-pools:\n- name: a\n  protocol: layer2\n', ['address-pools[0].addresses is required: list at least one CIDR or range']],
    ['auto-assign not a boolean', 'address-pools:\n- name: a\n  protocol: layer2\n  auto-assign: maybe\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].auto-assign must be a boolean, got "maybe"']],
    ['quoted boolean', 'address-pools:\n- name: a\n  protocol: layer2\n  auto-assign: "false"\n  addresses: [10.0.0.0/24]\n', ['address-pools[0].auto-assign must be a boolean, got "false"']],
    ['overlapping legacy pools', 'address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: b\n  protocol: layer2\n  addresses: [10.0.0.128/25]\n', [
      'address-pools[1].addresses[0] "10.0.0.128/25" overlaps "10.0.0.0/24" at address-pools[0].addresses[0] of ConfigMap metallb-system/config',
    ]],
    ['duplicate pool names', 'address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: a\n  protocol: layer2\n  addresses: [10.0.1.0/24]\n', [
      // once, though the pool and its L2Advertisement both collide
      'address-pools[1] name "a" is also used by address-pools[0] of ConfigMap metallb-system/config',
    ]],
    ['bgp-advertisements on a layer2 pool', 'address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements: [{aggregation-length: 32}]\n', ['address-pools[0].bgp-advertisements is only valid for protocol bgp']],
    ['bad aggregation-length', 'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 33\n', ['address-pools[0].bgp-advertisements[0].aggregation-length must be between 0 and 32, got 33']],
    ['aggregation-length shorter than the pool', 'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 16\n', [
      'address-pools[0].bgp-advertisements[0].aggregation-length 16 is shorter than /24, the widest prefix of "10.0.0.0/24" at address-pools[0].addresses[0] of ConfigMap metallb-system/config: the aggregated route would cover addresses outside the pool',
    ]],
    ['unknown community alias', 'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [no-export]\n', [
      'address-pools[0].bgp-advertisements[0].communities[0] "no-export" is neither a community (a:b or large:a:b:c) nor the name of a Community alias',
    ]],
    ['bad bgp-communities value', 'bgp-communities:\n  no-advertise: 65535:99999\n', ['bgp-communities.no-advertise "65535:99999" is not a valid community: each half of a:b must be 0..65535']],
    ['bgp-communities not a map', 'bgp-communities: [1]\n', ['bgp-communities must be a map of alias to community, got a list']],
    ['unknown advertisement key', 'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - local-pref: 100\n', ['address-pools[0].bgp-advertisements[0].local-pref is not a known field']],
    ['peer: unknown key', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  peer-addr: x\n', ['peers[0].peer-addr is not a known field']],
    ['peer: quoted ASN', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: "64501"\n  my-asn: 64500\n', ['peers[0].peer-asn must be an integer, got "64501"']],
    ['peer: missing my-asn', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n', ['peers[0].my-asn is required']],
    ['peer: bad address', 'peers:\n- peer-address: 10.0.0.256\n  peer-asn: 1\n  my-asn: 2\n', ['peers[0].peer-address "10.0.0.256" is not an IP address']],
    ['peer: hold-time without unit', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  hold-time: 90\n', ['peers[0].hold-time "90" is not a duration such as "90s", "1m30s" or "3m"']],
    ['peer: hold-time too short', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  hold-time: 1s\n', ['peers[0].hold-time must be 0 or at least 3s, got "1s"']],
    ['peer: keepalive above hold', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  hold-time: 9s\n  keepalive-time: 10s\n', ['peers[0].keepalive-time "10s" is longer than holdTime "9s"']],
    ['peer: router-id IPv6', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  router-id: "fd00::1"\n', ['peers[0].router-id "fd00::1" is not an IPv4 address']],
    ['peer: unknown bfd profile', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  bfd-profile: nope\n', ['peers[0].bfd-profile "nope" is not a known BFDProfile']],
    ['peer: bad node selector operator', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  node-selectors:\n  - match-expressions:\n    - key: a\n      operator: Like\n      values: [b]\n', [
      'peers[0].node-selectors[0].match-expressions[0].operator "Like" is not one of In, NotIn, Exists, DoesNotExist',
    ]],
    ['peer: selector unknown key', 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n  my-asn: 2\n  node-selectors:\n  - matchLabels: {a: b}\n', ['peers[0].node-selectors[0].matchLabels is not a known field']],
    ['peer: duplicate', 'peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2}\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2}\n', [
      'peers[1].peer-address 10.0.0.1 port 179 is also the peer of peers[0] of ConfigMap metallb-system/config on every node',
    ]],
    ['bfd profile: out of range', 'bfd-profiles:\n- name: x\n  receive-interval: 5\n  detect-multiplier: 1\n', [
      'bfd-profiles[0].receive-interval must be between 10 and 60000, got 5',
      'bfd-profiles[0].detect-multiplier must be between 2 and 255, got 1',
    ]],
    ['bfd profile: without name', 'bfd-profiles:\n- receive-interval: 50\n', ['bfd-profiles[0].name is required']],
    ['bfd profile: unknown key', 'bfd-profiles:\n- name: x\n  echoMode: true\n', ['bfd-profiles[0].echoMode is not a known field']],
    ['many errors at once, all reported', 'peers:\n- peer-address: x\nbgp-communities: 5\naddress-pools:\n- name: a\n  protocol: ospf\n  addresses: [y]\n', [
      'bgp-communities must be a map of alias to community, got "5"',
      'address-pools[0].protocol "ospf" is not one of layer2, bgp',
      'address-pools[0].addresses[0] "y" is not an IP, range or CIDR',
      'peers[0].my-asn is required',
      'peers[0].peer-asn is required (or set dynamicASN to internal or external)',
      'peers[0].peer-address "x" is not an IP address',
    ]],
  ];
  for (const [name, yaml, errors] of cases) {
    test(name, () => {
      assert.deepEqual(messages(legacy(yaml)), errors.map((e) => `ConfigMap metallb-system/config: ${e}`));
    });
  }

  test('data.config not a string, data not a map, ConfigMap not an object', () => {
    assert.deepEqual(messages(parse({ legacyConfigMap: { metadata: { name: 'config' }, data: { config: 5 } } })), [
      'ConfigMap metallb-system/config: data.config must be a string, got 5',
    ]);
    assert.deepEqual(messages(parse({ legacyConfigMap: { metadata: { name: 'config' }, data: ['x'] } })), [
      'ConfigMap metallb-system/config: data must be an object, got a list',
    ]);
    assert.deepEqual(messages(parse({ legacyConfigMap: 'config' })), ['ConfigMap metallb-system/config: is not an object, got "config"']);
  });
});

describe('legacy YAML scalars, read as Go yaml.v2 read them', () => {
  test('parseLegacyYaml keeps plain scalars as text and quoted ones as strings', () => {
    const r = parseLegacyYaml('a: 64500:100\nb: "x"\nc:\nd: ~\ne: [1, yes]\nf: &anchor {k: v}\ng: *anchor\n');
    assert.ok('value' in r);
    assert.deepEqual(r.value, {
      a: new PlainScalar('64500:100'),
      b: 'x',
      c: null,
      d: null,
      e: [new PlainScalar('1'), new PlainScalar('yes')],
      f: { k: new PlainScalar('v') },
      g: { k: new PlainScalar('v') },
    });
  });

  test('alias bombs stop', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const r = parseLegacyYaml(lines.join('\n'));
    assert.ok('error' in r, 'expected an error');
  });

  test('yamlBool and yamlInt', () => {
    for (const t of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) assert.equal(yamlBool(t), true, t);
    for (const t of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) assert.equal(yamlBool(t), false, t);
    for (const t of ['yEs', '1', '', 'truth']) assert.equal(yamlBool(t), undefined, t);
    const ints: [string, number | undefined][] = [
      ['64500', 64500],
      ['+5', 5],
      ['-5', -5],
      ['0', 0],
      ['0x10', 16],
      ['0o17', 15],
      ['017', 15],
      ['0b101', 5],
      ['64_500', 64500],
      ['1.5', undefined],
      ['1e3', undefined],
      ['08', undefined],
      ['abc', undefined],
      ['99999999999999999999', undefined],
    ];
    for (const [t, want] of ints) assert.equal(yamlInt(t), want, t);
  });

  test('hex ASN and unquoted IPv6 pool entries parse like MetalLB', () => {
    const c = valid(
      legacy(`
peers:
- peer-address: fd00::1
  peer-asn: 0xFBF5
  my-asn: 64500
address-pools:
- name: v6
  protocol: bgp
  addresses:
  - fd00:1::/120
  - fd00:2::1-fd00:2::9
`),
    );
    assert.equal(c.peers[0]!.peerASN, 64501);
    assert.equal(c.pools.get('v6')!.ranges.length, 2);
  });

  test('legacy peer names follow the address; shared addresses get the index', () => {
    assert.deepEqual(legacyPeerNames(['10.0.0.1', 'FD00::1', '10.0.0.2', '10.0.0.2', undefined, '::']), [
      'peer-10.0.0.1',
      'peer-fd00--1',
      'peer-10.0.0.2-2',
      'peer-10.0.0.2-3',
      'peer-4',
      'peer-5',
    ]);
  });
});
