import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bfd, bgpAdv, community, l2, messages, node, parse, peer, pool, valid, warningsOf } from './fixtures.ts';

const pools = [
  pool('v4', { addresses: ['10.0.0.0/24'] }, { labels: { tier: 'front' } }),
  pool('v6', { addresses: ['fd00::/120'] }, { labels: { tier: 'back' } }),
  pool('dual', { addresses: ['10.1.0.0/28', 'fd01::/124'] }),
];
const ebgp = peer('ebgp', { myASN: 64500, peerASN: 64501, peerAddress: '10.9.0.1' });
const ibgp = peer('ibgp', { myASN: 64500, peerASN: 64500, peerAddress: '10.9.0.2' });

describe('L2Advertisement', () => {
  test('no pools and no selectors → every pool; defaults empty', () => {
    const c = valid(parse({ ipAddressPools: pools, l2Advertisements: [l2('all')] }));
    assert.deepEqual(c.l2Advertisements, [
      { name: 'all', pools: ['dual', 'v4', 'v6'], nodeSelectors: [], interfaces: [], serviceSelectors: [], preferredNodes: [] },
    ]);
  });

  test('every field; pools by name and by selector, deduplicated and sorted', () => {
    const c = valid(
      parse({
        ipAddressPools: pools,
        l2Advertisements: [
          l2('full', {
            ipAddressPools: ['v6', 'v4'],
            ipAddressPoolSelectors: [{ matchLabels: { tier: 'front' } }],
            nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'n1' } }],
            interfaces: ['eth0', 'bond0.100'],
            serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }],
            preferredNodeSelectors: [{ weight: 100, preference: { matchLabels: { fast: 'yes' } } }, { weight: 1, preference: {} }],
          }),
        ],
      }),
    );
    assert.deepEqual(c.l2Advertisements[0], {
      name: 'full',
      pools: ['v4', 'v6'],
      nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'n1' }, matchExpressions: [] }],
      interfaces: ['eth0', 'bond0.100'],
      serviceSelectors: [{ matchLabels: {}, matchExpressions: [{ key: 'app', operator: 'Exists', values: [] }] }],
      preferredNodes: [
        { weight: 100, preference: { matchLabels: { fast: 'yes' }, matchExpressions: [] } },
        { weight: 1, preference: { matchLabels: {}, matchExpressions: [] } },
      ],
    });
  });

  test('a selector that matches no pool is a warning, not an error', () => {
    const r = parse({ ipAddressPools: pools, l2Advertisements: [l2('none', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'x' } }] })] });
    assert.deepEqual(valid(r).l2Advertisements[0]!.pools, []);
    assert.deepEqual(warningsOf(r), [
      'L2Advertisement metallb-system/none: ipAddressPoolSelectors select no IPAddressPool: this advertisement announces nothing',
    ]);
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['unknown pool', { ipAddressPools: ['v4', 'nope'] }, ['ipAddressPools[1] "nope" is not a known IPAddressPool']],
    ['unknown pool after a bad entry keeps its index', { ipAddressPools: ['', 'v4', 'v4', 'nope'] }, [
      'ipAddressPools[0] must not be empty',
      'ipAddressPools[2] "v4" repeats ipAddressPools[1]',
      'ipAddressPools[3] "nope" is not a known IPAddressPool',
    ]],
    ['repeated pool', { ipAddressPools: ['v4', 'v4'] }, ['ipAddressPools[1] "v4" repeats ipAddressPools[0]']],
    ['pools not a list', { ipAddressPools: 'v4' }, ['ipAddressPools must be a list, got "v4"']],
    ['pool name not a string', { ipAddressPools: [4] }, ['ipAddressPools[0] must be a string, got 4']],
    ['bad pool selector', { ipAddressPoolSelectors: [{ matchLabels: 'x' }] }, ['ipAddressPoolSelectors[0].matchLabels must be an object, got "x"']],
    ['bad interface name', { interfaces: ['eth0:1', 'a b', 'averyveryverylongname', ''] }, [
      'interfaces[3] must not be empty',
      'interfaces[1] "a b" is not a network interface name',
      'interfaces[2] "averyveryverylongname" is not a network interface name',
    ]],
    ['repeated node selector', { nodeSelectors: [{}, {}] }, ['nodeSelectors[1] repeats nodeSelectors[0]']],
    ['service selectors not a list', { serviceSelectors: {} }, ['serviceSelectors must be a list, got an object']],
    ['preferred weight out of range', { preferredNodeSelectors: [{ weight: 101, preference: {} }] }, ['preferredNodeSelectors[0].weight must be between 1 and 100, got 101']],
    ['preferred weight missing', { preferredNodeSelectors: [{ preference: {} }] }, ['preferredNodeSelectors[0].weight is required']],
    ['preferred preference missing', { preferredNodeSelectors: [{ weight: 3 }] }, ['preferredNodeSelectors[0].preference is required']],
    ['preferred entry not an object', { preferredNodeSelectors: [7] }, ['preferredNodeSelectors[0] must be an object, got 7']],
  ];
  for (const [name, spec, errors] of cases) {
    test(name, () => {
      assert.deepEqual(
        messages(parse({ ipAddressPools: pools, l2Advertisements: [l2('adv', spec)] })),
        errors.map((e) => `L2Advertisement metallb-system/adv: ${e}`),
      );
    });
  }
});

describe('BGPAdvertisement', () => {
  test('defaults: every pool, /32 and /128, no localPref, all peers', () => {
    const c = valid(parse({ ipAddressPools: pools, bgpAdvertisements: [bgpAdv('all')] }));
    assert.deepEqual(c.bgpAdvertisements, [
      {
        name: 'all',
        pools: ['dual', 'v4', 'v6'],
        aggregationLength: 32,
        aggregationLengthV6: 128,
        localPref: undefined,
        communities: [],
        nodeSelectors: [],
        peers: [],
        serviceSelectors: [],
      },
    ]);
  });

  test('every field', () => {
    const r = parse({
      ipAddressPools: pools,
      bgpPeers: [ebgp, ibgp],
      communities: [community('aliases', { 'no-advertise': '65535:65282' })],
      bgpAdvertisements: [
        bgpAdv('full', {
          ipAddressPools: ['v4'],
          ipAddressPoolSelectors: [{ matchLabels: { tier: 'back' } }],
          aggregationLength: 24,
          aggregationLengthV6: 120,
          localPref: 150,
          communities: ['no-advertise', '64500:1', 'large:64500:2:3'],
          nodeSelectors: [{ matchLabels: { rack: 'r1' } }],
          peers: ['ibgp', 'ebgp'],
        }),
      ],
    });
    assert.deepEqual(valid(r).bgpAdvertisements[0], {
      name: 'full',
      pools: ['v4', 'v6'],
      aggregationLength: 24,
      aggregationLengthV6: 120,
      localPref: 150,
      communities: [
        { kind: 'standard', value: 0xffffff02 },
        { kind: 'standard', value: 64500 * 65536 + 1 },
        { kind: 'large', globalAdmin: 64500, localData1: 2, localData2: 3 },
      ],
      nodeSelectors: [{ matchLabels: { rack: 'r1' }, matchExpressions: [] }],
      peers: ['ebgp', 'ibgp'],
      serviceSelectors: [],
    });
    assert.deepEqual(warningsOf(r), [], 'an iBGP peer is reached: localPref means something');
  });

  test('localPref reaching only eBGP peers: accepted, with a note', () => {
    const r = parse({ ipAddressPools: pools, bgpPeers: [ebgp, ibgp], bgpAdvertisements: [bgpAdv('lp', { localPref: 100, peers: ['ebgp'] })] });
    valid(r);
    assert.deepEqual(warningsOf(r), [
      'BGPAdvertisement metallb-system/lp: localPref 100 has no effect: LOCAL_PREF is sent only to iBGP peers, and every BGPPeer this advertisement reaches is eBGP',
    ]);
  });

  test('aggregation equal to or longer than the pool prefix is fine; ranges use their widest CIDR', () => {
    valid(
      parse({
        ipAddressPools: [pool('a', { addresses: ['10.0.0.0/24', 'fd00::/64'] }), pool('b', { addresses: ['10.0.1.4-10.0.1.7'] })],
        bgpAdvertisements: [
          bgpAdv('x', { ipAddressPools: ['a'], aggregationLength: 24, aggregationLengthV6: 64 }),
          bgpAdv('y', { ipAddressPools: ['b'], aggregationLength: 30 }),
        ],
      }),
    );
  });

  test('localPref differences that MetalLB allows', () => {
    valid(
      parse({
        nodes: [node('n1', { rack: 'a' }), node('n2', { rack: 'b' })],
        ipAddressPools: pools,
        bgpPeers: [ebgp, ibgp],
        bgpAdvertisements: [
          // different aggregation on a single-family pool
          bgpAdv('a1', { ipAddressPools: ['v4'], localPref: 100 }),
          bgpAdv('a2', { ipAddressPools: ['v4'], localPref: 200, aggregationLength: 24 }),
          // disjoint peers
          bgpAdv('b1', { ipAddressPools: ['v6'], localPref: 100, peers: ['ibgp'] }),
          bgpAdv('b2', { ipAddressPools: ['v6'], localPref: 200, peers: ['ebgp'] }),
          // disjoint nodes
          bgpAdv('c1', { ipAddressPools: ['dual'], localPref: 100, nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
          bgpAdv('c2', { ipAddressPools: ['dual'], localPref: 200, nodeSelectors: [{ matchLabels: { rack: 'b' } }] }),
          // service selectors are exempt
          bgpAdv('d1', { ipAddressPools: ['dual'], localPref: 300, serviceSelectors: [{ matchLabels: { app: 'x' } }] }),
        ],
      }),
    );
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['unknown pool', { ipAddressPools: ['nope'] }, ['ipAddressPools[0] "nope" is not a known IPAddressPool']],
    ['unknown peer', { peers: ['ebgp', 'ghost'] }, ['peers[1] "ghost" is not a known BGPPeer']],
    ['unknown peer after a bad entry keeps its index', { peers: [7, 'ghost'] }, ['peers[0] must be a string, got 7', 'peers[1] "ghost" is not a known BGPPeer']],
    ['repeated peer', { peers: ['ebgp', 'ebgp'] }, ['peers[1] "ebgp" repeats peers[0]']],
    ['aggregationLength above 32', { aggregationLength: 33 }, ['aggregationLength must be between 0 and 32, got 33']],
    ['aggregationLength negative', { aggregationLength: -1 }, ['aggregationLength must be between 0 and 32, got -1']],
    ['aggregationLengthV6 above 128', { aggregationLengthV6: 129 }, ['aggregationLengthV6 must be between 0 and 128, got 129']],
    ['aggregationLength a string', { aggregationLength: '24' }, ['aggregationLength must be an integer, got "24"']],
    ['localPref negative', { localPref: -1 }, ['localPref must be between 0 and 4294967295, got -1']],
    ['localPref too big', { localPref: 2 ** 32 }, ['localPref must be between 0 and 4294967295, got 4294967296']],
    ['bad literal community', { communities: ['65536:1'] }, ['communities[0] "65536:1" is not a valid community: each half of a:b must be 0..65535']],
    ['bad large community', { communities: ['large:1:2:99999999999'] }, ['communities[0] "large:1:2:99999999999" is not a valid large community: write large:a:b:c with each part 0..4294967295']],
    ['unknown community alias', { communities: ['no-export'] }, ['communities[0] "no-export" is neither a community (a:b or large:a:b:c) nor the name of a Community alias']],
    ['communities not strings', { communities: [1] }, ['communities[0] must be a string, got 1']],
    ['aggregation shorter than a v4 CIDR', { ipAddressPools: ['v4'], aggregationLength: 16 }, [
      'aggregationLength 16 is shorter than /24, the widest prefix of "10.0.0.0/24" at addresses[0] of IPAddressPool metallb-system/v4: the aggregated route would cover addresses outside the pool',
    ]],
    ['aggregation shorter than a v6 CIDR', { ipAddressPools: ['v6'], aggregationLengthV6: 64 }, [
      'aggregationLengthV6 64 is shorter than /120, the widest prefix of "fd00::/120" at addresses[0] of IPAddressPool metallb-system/v6: the aggregated route would cover addresses outside the pool',
    ]],
    ['aggregation checks the pools the advertisement reaches (all)', { aggregationLength: 25 }, [
      'aggregationLength 25 is shorter than /28, the widest prefix of "10.1.0.0/28" at addresses[0] of IPAddressPool metallb-system/dual: the aggregated route would cover addresses outside the pool',
    ]],
    ['aggregation with service selectors', { serviceSelectors: [{ matchLabels: { a: 'b' } }], aggregationLength: 28, aggregationLengthV6: 124 }, [
      'aggregationLength cannot be combined with serviceSelectors (only the default 32 can)',
      'aggregationLengthV6 cannot be combined with serviceSelectors (only the default 128 can)',
    ]],
  ];
  for (const [name, spec, errors] of cases) {
    test(name, () => {
      assert.deepEqual(
        messages(parse({ ipAddressPools: pools, bgpPeers: [ebgp, ibgp], bgpAdvertisements: [bgpAdv('adv', spec)] })),
        errors.map((e) => `BGPAdvertisement metallb-system/adv: ${e}`),
      );
    });
  }

  test('aggregation against a range: widest CIDR of the range', () => {
    const r = parse({
      ipAddressPools: [pool('r', { addresses: ['192.168.1.100-192.168.1.200'] })],
      bgpAdvertisements: [bgpAdv('a', { aggregationLength: 26 }), bgpAdv('b', { aggregationLength: 25 })],
    });
    assert.deepEqual(messages(r), [
      'BGPAdvertisement metallb-system/b: aggregationLength 25 is shorter than /26, the widest prefix of "192.168.1.100-192.168.1.200" at addresses[0] of IPAddressPool metallb-system/r: the aggregated route would cover addresses outside the pool',
    ]);
  });

  test('conflicting localPref for the same routes, peers and nodes', () => {
    const r = parse({
      ipAddressPools: pools,
      bgpPeers: [ebgp, ibgp],
      bgpAdvertisements: [bgpAdv('a', { ipAddressPools: ['v4'], localPref: 100 }), bgpAdv('b', { ipAddressPools: ['v4'], localPref: 200, peers: ['ibgp'] })],
    });
    assert.deepEqual(messages(r), [
      'BGPAdvertisement metallb-system/b: localPref 200 conflicts with localPref 100 of BGPAdvertisement metallb-system/a: both announce IPAddressPool v4 with the same aggregation to the same peers from every node',
    ]);
  });

  test('conflicting localPref on a dual-stack pool with one aggregation length changed', () => {
    const r = parse({
      nodes: [node('n1', { rack: 'a', zone: 'z' })],
      ipAddressPools: pools,
      bgpAdvertisements: [
        bgpAdv('a', { ipAddressPools: ['dual'], localPref: 100, nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
        bgpAdv('b', { ipAddressPools: ['dual'], aggregationLength: 30, nodeSelectors: [{ matchLabels: { zone: 'z' } }] }),
      ],
    });
    assert.deepEqual(messages(r), [
      'BGPAdvertisement metallb-system/b: localPref 0 conflicts with localPref 100 of BGPAdvertisement metallb-system/a: both announce IPAddressPool dual with the same aggregation to the same peers from Node n1',
    ]);
  });

  test('BFD echo mode cannot serve IPv6 pools', () => {
    const r = parse({
      ipAddressPools: pools,
      bfdProfiles: [bfd('echo', { echoMode: true }), bfd('plain')],
      bgpPeers: [
        peer('e', { myASN: 1, peerASN: 2, peerAddress: '10.9.0.1', bfdProfile: 'echo' }),
        peer('p', { myASN: 1, peerASN: 2, peerAddress: '10.9.0.2', bfdProfile: 'plain' }),
      ],
      bgpAdvertisements: [
        bgpAdv('v4only', { ipAddressPools: ['v4'] }),
        bgpAdv('v6plain', { ipAddressPools: ['v6'], peers: ['p'] }),
        bgpAdv('v6echo', { ipAddressPools: ['v6'], peers: ['e', 'p'] }),
      ],
    });
    assert.deepEqual(messages(r), [
      'BGPAdvertisement metallb-system/v6echo: peers announces IPv6 IPAddressPool v6 to BGPPeer metallb-system/e, whose BFDProfile echo has echoMode: BFD echo cannot serve IPv6',
    ]);
  });
});
