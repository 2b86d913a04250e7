import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type AddressRange, formatRange, ipToString } from '../net/address.ts';
import { bfd, bgpAdv, community, configMap, l2, messages, node, ns, parse, peer, pool, secret, sources, valid, warningsOf } from './fixtures.ts';
import type { Config, ConfigResult } from './model.ts';
import { parseConfig } from './parse.ts';
import type { ConfigSources } from './sources.ts';

const richCRDs = (): Partial<ConfigSources> => ({
  ipAddressPools: [
    pool('public', { addresses: ['203.0.113.0/28', '2001:db8:1::/120'], avoidBuggyIPs: true }, { labels: { exposure: 'public' } }),
    pool('private', { addresses: ['10.10.0.10-10.10.0.99'], autoAssign: false }),
    pool('team-a', {
      addresses: ['10.20.0.0/24'],
      serviceAllocation: { priority: 10, namespaces: ['team-a'], serviceSelectors: [{ matchLabels: { app: 'web' } }] },
    }),
  ],
  l2Advertisements: [l2('private-l2', { ipAddressPools: ['private'], interfaces: ['eth1'], nodeSelectors: [{ matchLabels: { l2: 'yes' } }] })],
  bgpAdvertisements: [
    bgpAdv('public-bgp', {
      ipAddressPoolSelectors: [{ matchLabels: { exposure: 'public' } }],
      aggregationLength: 32,
      localPref: 120,
      communities: ['no-advertise', '64500:300'],
      peers: ['tor-a', 'tor-b'],
    }),
    bgpAdv('team-a-bgp', { ipAddressPools: ['team-a'], aggregationLength: 24 }),
  ],
  bgpPeers: [
    peer('tor-a', { myASN: 64500, peerASN: 64500, peerAddress: '192.0.2.1', bfdProfile: 'fast', nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
    peer('tor-b', { myASN: 64500, peerASN: 64500, peerAddress: '192.0.2.2', passwordSecret: { name: 'tor-b-auth' }, nodeSelectors: [{ matchLabels: { rack: 'b' } }] }),
    peer('edge', { myASN: 64500, dynamicASN: 'external', peerAddress: '2001:db8::ffff', holdTime: '30s' }, { apiVersion: 'metallb.io/v1beta2' }),
  ],
  communities: [community('well-known', { 'no-advertise': '65535:65282', 'no-export': '65535:65281' })],
  bfdProfiles: [bfd('fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 5 })],
  secrets: [secret('tor-b-auth', 'kubernetes.io/basic-auth', { password: Buffer.from('hunter2').toString('base64') })],
  nodes: [node('n1', { rack: 'a', l2: 'yes' }, [['InternalIP', '192.168.0.11']]), node('n2', { rack: 'b' }, [['InternalIP', '192.168.0.12']])],
});

describe('parseConfig: a rich CRD configuration', () => {
  test('parses to the expected model', () => {
    const r = parse(richCRDs());
    const c = valid(r);
    assert.deepEqual(warningsOf(r), []);
    assert.deepEqual([...c.pools.keys()], ['private', 'public', 'team-a']);
    assert.deepEqual(c.pools.get('public')!.labels, { exposure: 'public' });
    assert.deepEqual(
      c.pools.get('public')!.ranges.map(formatRange),
      ['203.0.113.0-203.0.113.15', '2001:db8:1::-2001:db8:1::ff'],
    );
    assert.deepEqual(c.l2Advertisements.map((a) => [a.name, a.pools, a.interfaces]), [['private-l2', ['private'], ['eth1']]]);
    assert.deepEqual(
      c.bgpAdvertisements.map((a) => [a.name, a.pools, a.aggregationLength, a.localPref, a.communities.length, a.peers]),
      [
        ['public-bgp', ['public'], 32, 120, 2, ['tor-a', 'tor-b']],
        ['team-a-bgp', ['team-a'], 24, undefined, 0, []],
      ],
    );
    assert.deepEqual(
      c.peers.map((p) => [p.name, p.peerFamily, p.holdTimeSeconds, p.password, p.bfdProfile]),
      [
        ['edge', 'IPv6', 30, undefined, undefined],
        ['tor-a', 'IPv4', 90, undefined, 'fast'],
        ['tor-b', 'IPv4', 90, 'hunter2', undefined],
      ],
    );
    assert.deepEqual([...c.bfdProfiles.keys()], ['fast']);
  });

  test('is deterministic: input order does not matter', () => {
    const a = richCRDs();
    const reversed = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Array.isArray(v) ? [...v].reverse() : v]));
    assert.deepEqual(valid(parse(a)), valid(parse(reversed)));
  });

  test('is deeply frozen', () => {
    const c = valid(parse(richCRDs()));
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.pools));
    const p = c.pools.get('public')!;
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.ranges) && Object.isFrozen(p.ranges[0]) && Object.isFrozen(p.labels));
    assert.ok(Object.isFrozen(c.peers[0]!.nodeSelectors));
    assert.ok(Object.isFrozen(c.bgpAdvertisements[0]!.communities[0]));
    assert.throws(() => (c.peers as unknown as unknown[]).push(1), TypeError);
    assert.throws(() => {
      (p as { autoAssign: boolean }).autoAssign = false;
    }, TypeError);
  });

  test('does not keep references to its input', () => {
    const input = richCRDs();
    const c = valid(parse(input));
    ((input.ipAddressPools![0] as { metadata: { labels: Record<string, string> } }).metadata.labels).exposure = 'changed';
    assert.equal(c.pools.get('public')!.labels.exposure, 'public');
  });
});

describe('parseConfig: sources', () => {
  test('objects in another namespace are ignored, whatever they hold', () => {
    const elsewhere = { namespace: 'default' };
    const c = valid(
      parse({
        ipAddressPools: [pool('mine', { addresses: ['10.0.0.0/24'] }), pool('theirs', { addresses: ['10.0.0.0/24', 'junk'] }, elsewhere)],
        l2Advertisements: [l2('x', { ipAddressPools: ['nope'] }, elsewhere)],
        bgpAdvertisements: [bgpAdv('x', { aggregationLength: 99 }, elsewhere)],
        bgpPeers: [peer('x', { myASN: 0 }, elsewhere)],
        communities: [community('x', { a: 'b' }, elsewhere)],
        bfdProfiles: [bfd('x', { detectMultiplier: 0 }, elsewhere)],
      }),
    );
    assert.deepEqual([...c.pools.keys()], ['mine']);
    assert.equal(c.l2Advertisements.length + c.bgpAdvertisements.length + c.peers.length + c.bfdProfiles.size, 0);
  });

  test('an object without metadata.namespace is in the install namespace', () => {
    const c = valid(parse({ ipAddressPools: [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/24'] } }] }));
    assert.deepEqual([...c.pools.keys()], ['p']);
  });

  test('malformed objects', () => {
    const r = parse({
      ipAddressPools: [
        null,
        'pool',
        { spec: {} },
        { metadata: { name: '' } },
        { metadata: { name: 5 } },
        { metadata: { name: 'ns', namespace: 7 } },
        { kind: 'L2Advertisement', metadata: { name: 'kind' }, spec: { addresses: ['10.0.0.0/24'] } },
        { apiVersion: 'metallb.io/v1alpha1', metadata: { name: 'version' }, spec: { addresses: ['10.0.1.0/24'] } },
        { metadata: { name: 'labels', labels: { ok: 'yes', bad: 1 } }, spec: { addresses: ['10.0.2.0/24'] } },
        { metadata: { name: 'spec' }, spec: 'addresses' },
      ],
      bgpPeers: 'not a list' as unknown as unknown[],
    });
    assert.deepEqual(messages(r), [
      'BGPPeer metallb-system/*: objects must be given as a list, got "not a list"',
      'IPAddressPool metallb-system/<item 0>: is not an object, got null',
      'IPAddressPool metallb-system/<item 1>: is not an object, got "pool"',
      'IPAddressPool metallb-system/<item 2>: metadata is required',
      'IPAddressPool metallb-system/<item 3>: metadata.name is required',
      'IPAddressPool metallb-system/<item 4>: metadata.name must be a string, got 5',
      'IPAddressPool metallb-system/<item 5>: metadata.namespace must be a string, got 7',
      'IPAddressPool metallb-system/kind: kind "L2Advertisement" found among IPAddressPool objects',
      'IPAddressPool metallb-system/labels: metadata.labels.bad must be a string, got 1',
      'IPAddressPool metallb-system/spec: spec must be an object, got "addresses"',
      'IPAddressPool metallb-system/version: apiVersion "metallb.io/v1alpha1" is not served for IPAddressPool (use metallb.io/v1beta1)',
    ]);
  });

  test('the same name twice in one list', () => {
    const r = parse({ ipAddressPools: [pool('p', { addresses: ['10.0.0.0/24'] }), pool('p', { addresses: ['10.0.1.0/24'] })] });
    assert.deepEqual(messages(r), ['IPAddressPool metallb-system/p: name "p" is also used by IPAddressPool metallb-system/p']);
  });

  test('a bad install namespace', () => {
    assert.deepEqual(messages(parseConfig(sources({ namespace: '' }))), ['Configuration /*: namespace the install namespace must be a non-empty string']);
  });

  test('errors of every kind are collected in one pass, sorted by kind and name', () => {
    const r = parse({
      ipAddressPools: [pool('b', { addresses: ['x'] }), pool('a', { addresses: [] })],
      l2Advertisements: [l2('l', { ipAddressPools: ['ghost'] })],
      bgpAdvertisements: [bgpAdv('g', { localPref: -1 })],
      bgpPeers: [peer('p', { myASN: 1, peerASN: 2, peerAddress: 'nope' })],
      communities: [community('c', { x: 'y' })],
      bfdProfiles: [bfd('f', { minimumTtl: 0 })],
    });
    assert.deepEqual(messages(r), [
      'BFDProfile metallb-system/f: minimumTtl must be between 1 and 254, got 0',
      'BGPAdvertisement metallb-system/g: localPref must be between 0 and 4294967295, got -1',
      'BGPPeer metallb-system/p: peerAddress "nope" is not an IP address',
      'Community metallb-system/c: communities[0].value "y" is not a community: write a:b or large:a:b:c',
      'IPAddressPool metallb-system/a: addresses must not be empty: list at least one CIDR or range',
      'IPAddressPool metallb-system/b: addresses[0] "x" is not an IP, range or CIDR',
      'L2Advertisement metallb-system/l: ipAddressPools[0] "ghost" is not a known IPAddressPool',
    ]);
  });

  test('an empty configuration is valid', () => {
    const c = valid(parse({}));
    assert.equal(c.pools.size, 0);
    assert.deepEqual([c.l2Advertisements, c.bgpAdvertisements, c.peers], [[], [], []]);
  });
});

describe('parseConfig: CRDs and the legacy ConfigMap together', () => {
  const legacyYaml = `
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: legacy-l2
  protocol: layer2
  addresses: [10.1.0.0/24]
- name: legacy-bgp
  protocol: bgp
  addresses: [10.2.0.0/24]
`;

  test('merge into one configuration; CRD advertisements may use legacy pools', () => {
    const c = valid(
      parse({
        legacyConfigMap: configMap(legacyYaml),
        ipAddressPools: [pool('crd', { addresses: ['10.3.0.0/24'] })],
        l2Advertisements: [l2('crd-l2', { ipAddressPools: ['crd', 'legacy-bgp'] })],
      }),
    );
    assert.deepEqual([...c.pools.keys()], ['crd', 'legacy-bgp', 'legacy-l2']);
    assert.deepEqual(
      c.l2Advertisements.map((a) => [a.name, a.pools]),
      [
        ['crd-l2', ['crd', 'legacy-bgp']],
        ['legacy-l2', ['legacy-l2']],
      ],
    );
    assert.deepEqual(c.bgpAdvertisements.map((a) => a.name), ['legacy-bgp']);
    assert.deepEqual(c.peers.map((p) => p.name), ['peer-10.0.0.1']);
  });

  test('name collisions and overlaps between the two are errors naming both', () => {
    const r = parse({
      legacyConfigMap: configMap(legacyYaml),
      ipAddressPools: [pool('legacy-l2', { addresses: ['10.9.0.0/24'] }), pool('other', { addresses: ['10.2.0.128/25'] })],
      bgpPeers: [peer('peer-10.0.0.1', { myASN: 1, peerASN: 2, peerAddress: '10.0.0.9' })],
    });
    assert.deepEqual(messages(r), [
      'ConfigMap metallb-system/config: address-pools[0] name "legacy-l2" is also used by IPAddressPool metallb-system/legacy-l2',
      'ConfigMap metallb-system/config: peers[0] name "peer-10.0.0.1" is also used by BGPPeer metallb-system/peer-10.0.0.1',
      'IPAddressPool metallb-system/other: addresses[0] "10.2.0.128/25" overlaps "10.2.0.0/24" at address-pools[1].addresses[0] of ConfigMap metallb-system/config',
    ]);
  });

  test('legacy community aliases and Community objects share one namespace of names', () => {
    const r = parse({
      legacyConfigMap: configMap('bgp-communities:\n  no-advertise: 65535:65282\n'),
      communities: [community('c', { 'no-advertise': '65535:65282' })],
    });
    assert.deepEqual(messages(r), [
      // objects are read in name order: the legacy aliases' object (bgp-communities) comes first
      'Community metallb-system/c: communities[0].name "no-advertise" is already defined at bgp-communities.no-advertise of ConfigMap metallb-system/config',
    ]);
  });
});

describe('parseConfig: untrusted input never throws', () => {
  const noInternalErrors = (r: ConfigResult) => {
    assert.ok(r.ok || r.errors.length > 0);
    if (!r.ok) for (const e of r.errors) assert.ok(!e.message.startsWith('internal error'), e.message);
  };

  test('garbage in every slot', () => {
    const anything = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withSparseArray: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(
        fc.record({
          ipAddressPools: fc.array(anything),
          l2Advertisements: fc.array(anything),
          bgpAdvertisements: fc.array(anything),
          bgpPeers: fc.array(anything),
          communities: fc.array(anything),
          bfdProfiles: fc.array(anything),
          legacyConfigMap: anything,
          secrets: anything,
          nodes: anything,
        }),
        (partial) => noInternalErrors(parse(partial as Partial<ConfigSources>)),
      ),
      { numRuns: 300 },
    );
  });

  test('garbage inside well-formed objects', () => {
    const spec = fc.dictionary(
      fc.constantFrom('addresses', 'autoAssign', 'serviceAllocation', 'ipAddressPools', 'nodeSelectors', 'communities', 'myASN', 'peerASN', 'peerAddress', 'holdTime', 'keepaliveTime', 'passwordSecret', 'aggregationLength', 'preferredNodeSelectors', 'receiveInterval'),
      fc.anything(),
    );
    const objs = fc.array(fc.record({ metadata: fc.record({ name: fc.constantFrom('a', 'b', 'c') }), spec }), { maxLength: 3 });
    fc.assert(
      fc.property(objs, objs, objs, objs, objs, objs, (a, b, c, d, e, f) =>
        noInternalErrors(parse({ ipAddressPools: a, l2Advertisements: b, bgpAdvertisements: c, bgpPeers: d, communities: e, bfdProfiles: f })),
      ),
      { numRuns: 300 },
    );
  });

  test('garbage legacy YAML text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => noInternalErrors(parse({ legacyConfigMap: configMap(text) }))),
      { numRuns: 300 },
    );
  });

  test('not even a sources object', () => {
    for (const v of [null, undefined, 5, 'x', [], {}]) noInternalErrors(parseConfig(v as unknown as ConfigSources));
    assert.deepEqual(messages(parseConfig(null as unknown as ConfigSources)), ['Configuration /*: the configuration sources must be an object, got null']);
  });
});

describe('parseConfig: pool address properties', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const v4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
  const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((h) => h.map((x) => x.toString(16)).join(':'));
  const entry = fc.oneof(
    v4,
    v6,
    fc.tuple(v4, fc.integer({ min: 0, max: 40 })).map(([a, l]) => `${a}/${l}`),
    fc.tuple(v6, fc.integer({ min: 0, max: 140 })).map(([a, l]) => `${a}/${l}`),
    fc.tuple(v4, v4).map(([a, b]) => `${a}-${b}`),
    fc.tuple(v6, v4).map(([a, b]) => `${a} - ${b}`),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('', '-', '/', '10.0.0.0/', '::/0', '0.0.0.0/0', '1.2.3', '1.2.3.4.5', '10.0.0.1-', 'fe80::1%eth0'),
  );

  test('random address lists either parse or give errors naming the pool, never throw', () => {
    fc.assert(
      fc.property(fc.array(fc.array(entry, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), (lists) => {
        const r = parse({ ipAddressPools: lists.map((addresses, i) => pool(`p${i}`, { addresses })) });
        if (!r.ok) {
          for (const e of r.errors) {
            assert.equal(e.kind, 'IPAddressPool');
            assert.match(e.name, /^p\d$/);
            assert.match(e.field, /^addresses(\[\d+\])?$/);
          }
        } else {
          for (const p of r.config.pools.values()) assert.ok(p.ranges.length > 0);
        }
      }),
      { numRuns: 500 },
    );
  });

  /** Disjoint ranges of one family, in order: cut points in a small window of the address space. */
  const disjoint = (family: 'IPv4' | 'IPv6', base: bigint) =>
    fc.uniqueArray(fc.bigInt({ min: 0n, max: 4095n }), { minLength: 2, maxLength: 24 }).map((cuts) => {
      const sorted = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const out: AddressRange[] = [];
      for (let i = 0; i + 1 < sorted.length; i += 2) out.push({ family, first: base + sorted[i]!, last: base + sorted[i + 1]! });
      return out;
    });

  /** A range written the way a user might: as a CIDR when it is one, else as a range (or a single IP). */
  function write(r: AddressRange): string {
    const size = r.last - r.first + 1n;
    const bits = r.family === 'IPv4' ? 32 : 128;
    const log = size.toString(2).length - 1;
    if ((size & (size - 1n)) === 0n && r.first % size === 0n) {
      return size === 1n ? ipToString(r.family, r.first) : `${ipToString(r.family, r.first)}/${bits - log}`;
    }
    return `${ipToString(r.family, r.first)}-${ipToString(r.family, r.last)}`;
  }

  test('random valid non-overlapping pools parse to exactly their ranges', () => {
    fc.assert(
      fc.property(
        disjoint('IPv4', 0x0a000000n),
        disjoint('IPv6', 0xfd000000000000000000000000000000n),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (r4, r6, poolCount, seed) => {
          const all = [...r4, ...r6];
          const byPool: AddressRange[][] = Array.from({ length: poolCount }, () => []);
          all.forEach((r, i) => byPool[Math.abs(seed + i * 7) % poolCount]!.push(r));
          const used = byPool.map((rs, i) => [`pool-${i}`, rs] as const).filter(([, rs]) => rs.length > 0);
          const c: Config = valid(parse({ ipAddressPools: used.map(([name, rs]) => pool(name, { addresses: [...rs].reverse().map(write) })) }));
          for (const [name, rs] of used) {
            const want = [...rs].sort((a, b) => (a.family !== b.family ? (a.family === 'IPv4' ? -1 : 1) : a.first < b.first ? -1 : 1));
            assert.deepEqual(c.pools.get(name)!.ranges, want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

test('fixtures: the install namespace', () => assert.equal(ns, 'metallb-system'));
