import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressRange, type AddressRange } from '../net/address.ts';
import { messages, node, parse, pool, valid, warningsOf } from './fixtures.ts';
import { widestPrefix } from './pool.ts';

const range = (text: string): AddressRange => {
  const r = parseAddressRange(text);
  assert.ok(typeof r !== 'string', text);
  return r;
};

describe('IPAddressPool: valid pools', () => {
  test('CIDRs, ranges and single addresses of both families, sorted v4 first', () => {
    const c = valid(
      parse({
        ipAddressPools: [
          pool('mixed', {
            addresses: ['fc00:f853:ccd:e799::/124', '192.168.10.0/24', '10.0.0.1', '2001:db8::1', '172.16.0.10 - 172.16.0.20', '10.0.1.0-10.0.1.9'],
          }),
        ],
      }),
    );
    const p = c.pools.get('mixed')!;
    assert.deepEqual(p.ranges, [
      range('10.0.0.1'),
      range('10.0.1.0-10.0.1.9'),
      range('172.16.0.10-172.16.0.20'),
      range('192.168.10.0/24'),
      range('2001:db8::1'),
      range('fc00:f853:ccd:e799::/124'),
    ]);
    assert.equal(p.ranges[0]!.first, p.ranges[0]!.last, 'a plain IP is a /32');
    assert.equal(p.ranges[4]!.first, p.ranges[4]!.last, 'a plain IPv6 address is a /128');
    assert.equal(p.autoAssign, true);
    assert.equal(p.avoidBuggyIPs, false);
    assert.equal(p.serviceAllocation, undefined);
    assert.deepEqual(p.labels, {});
  });

  test('CIDR host bits are ignored, as MetalLB does', () => {
    const c = valid(parse({ ipAddressPools: [pool('p', { addresses: ['10.0.0.77/24'] })] }));
    assert.deepEqual(c.pools.get('p')!.ranges, [range('10.0.0.0/24')]);
  });

  test('autoAssign, avoidBuggyIPs, labels and serviceAllocation', () => {
    const c = valid(
      parse({
        ipAddressPools: [
          pool(
            'p',
            {
              addresses: ['10.0.0.0/24'],
              autoAssign: false,
              avoidBuggyIPs: true,
              serviceAllocation: {
                priority: 50,
                namespaces: ['web', 'api'],
                namespaceSelectors: [{ matchLabels: { team: 'a' } }],
                serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] }],
              },
            },
            { labels: { zone: 'east' } },
          ),
        ],
      }),
    );
    assert.deepEqual(c.pools.get('p'), {
      name: 'p',
      labels: { zone: 'east' },
      ranges: [range('10.0.0.0/24')],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation: {
        priority: 50,
        namespaces: ['api', 'web'],
        namespaceSelectors: [{ matchLabels: { team: 'a' }, matchExpressions: [] }],
        serviceSelectors: [{ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] }],
      },
    });
  });

  test('an empty serviceAllocation only sets that there is one (priority unset)', () => {
    const c = valid(parse({ ipAddressPools: [pool('p', { addresses: ['10.0.0.0/24'], serviceAllocation: {} })] }));
    assert.deepEqual(c.pools.get('p')!.serviceAllocation, { priority: undefined, namespaces: [], namespaceSelectors: [], serviceSelectors: [] });
  });

  test('adjacent entries and pools do not overlap', () => {
    valid(
      parse({
        ipAddressPools: [
          pool('a', { addresses: ['10.0.0.0/25', '10.0.0.128-10.0.0.200'] }),
          pool('b', { addresses: ['10.0.0.201-10.0.0.255', '10.0.1.0/24', 'fd00::/64'] }),
          pool('c', { addresses: ['fd00:0:0:1::/64', '10.0.2.0'] }),
        ],
      }),
    );
  });

  test('avoidBuggyIPs: an entry left with no usable address is noted', () => {
    const r = parse({ ipAddressPools: [pool('p', { addresses: ['10.0.0.0/32', '10.0.0.255-10.0.1.0', '10.0.2.255/31', 'fd00::/128'], avoidBuggyIPs: true })] });
    valid(r);
    assert.deepEqual(warningsOf(r), [
      'IPAddressPool metallb-system/p: addresses[0] "10.0.0.0/32" has no usable address: avoidBuggyIPs skips addresses ending in .0 or .255',
      'IPAddressPool metallb-system/p: addresses[1] "10.0.0.255-10.0.1.0" has no usable address: avoidBuggyIPs skips addresses ending in .0 or .255',
    ]);
  });

  test('a node address outside every pool is fine', () => {
    valid(
      parse({
        ipAddressPools: [pool('a', { addresses: ['10.0.0.0/24'] })],
        nodes: [node('n1', {}, [['InternalIP', '10.0.1.1'], ['ExternalIP', 'fd00::1'], ['Hostname', '10.0.0.5']])],
      }),
    );
  });
});

describe('IPAddressPool: errors', () => {
  const cases: { name: string; pools: unknown[]; nodes?: unknown[]; errors: string[] }[] = [
    {
      name: 'not an IP',
      pools: [pool('default', { addresses: ['10.0.0.0/24', '10.0.0.300/32'] })],
      errors: ['IPAddressPool metallb-system/default: addresses[1] "10.0.0.300/32" is not an IP, range or CIDR'],
    },
    {
      name: 'garbage entry',
      pools: [pool('p', { addresses: ['hello'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "hello" is not an IP, range or CIDR'],
    },
    {
      name: 'range with three parts',
      pools: [pool('p', { addresses: ['10.0.0.1-10.0.0.2-10.0.0.3'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "10.0.0.1-10.0.0.2-10.0.0.3" is not an IP, range or CIDR'],
    },
    {
      name: 'range start after end',
      pools: [pool('p', { addresses: ['10.0.0.9-10.0.0.1'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "10.0.0.9-10.0.0.1" has its start after its end'],
    },
    {
      name: 'range mixing families',
      pools: [pool('p', { addresses: ['10.0.0.1-fd00::1'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "10.0.0.1-fd00::1" mixes IPv4 and IPv6 in one range'],
    },
    {
      name: 'prefix too long',
      pools: [pool('p', { addresses: ['10.0.0.0/33', 'fd00::/129'] })],
      errors: [
        'IPAddressPool metallb-system/p: addresses[0] "10.0.0.0/33" has prefix length /33, too long for IPv4',
        'IPAddressPool metallb-system/p: addresses[1] "fd00::/129" has prefix length /129, too long for IPv6',
      ],
    },
    {
      name: 'zone in an IPv6 address',
      pools: [pool('p', { addresses: ['fe80::1%eth0'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "fe80::1%eth0" is not an IP, range or CIDR'],
    },
    {
      name: 'empty and non-string entries',
      pools: [pool('p', { addresses: ['', '  ', 5, null, { a: 1 }, '10.0.0.1'] })],
      errors: [
        'IPAddressPool metallb-system/p: addresses[0] must not be empty',
        'IPAddressPool metallb-system/p: addresses[1] must not be empty',
        'IPAddressPool metallb-system/p: addresses[2] must be a string, got 5',
        'IPAddressPool metallb-system/p: addresses[3] must be a string, got null',
        'IPAddressPool metallb-system/p: addresses[4] must be a string, got an object',
      ],
    },
    {
      name: 'no addresses',
      pools: [pool('p', {})],
      errors: ['IPAddressPool metallb-system/p: addresses is required: list at least one CIDR or range'],
    },
    {
      name: 'empty addresses',
      pools: [pool('p', { addresses: [] })],
      errors: ['IPAddressPool metallb-system/p: addresses must not be empty: list at least one CIDR or range'],
    },
    {
      name: 'addresses not a list',
      pools: [pool('p', { addresses: '10.0.0.0/24' })],
      errors: ['IPAddressPool metallb-system/p: addresses must be a list, got "10.0.0.0/24"'],
    },
    {
      name: 'overlap within a pool',
      pools: [pool('p', { addresses: ['10.0.0.0/24', '10.0.1.0/24', '10.0.0.128/25'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[2] "10.0.0.128/25" overlaps "10.0.0.0/24" at addresses[0]'],
    },
    {
      name: 'the same entry twice',
      pools: [pool('p', { addresses: ['fd00::/120', 'fd00::/120'] })],
      errors: ['IPAddressPool metallb-system/p: addresses[1] "fd00::/120" overlaps "fd00::/120" at addresses[0]'],
    },
    {
      name: 'overlap across pools names both',
      pools: [pool('a', { addresses: ['10.0.0.0/24'] }), pool('b', { addresses: ['10.0.0.250-10.0.1.5'] })],
      errors: ['IPAddressPool metallb-system/b: addresses[0] "10.0.0.250-10.0.1.5" overlaps "10.0.0.0/24" at addresses[0] of IPAddressPool metallb-system/a'],
    },
    {
      name: 'a CIDR and a single address of it',
      pools: [pool('a', { addresses: ['10.0.0.5'] }), pool('b', { addresses: ['10.0.0.0/24'] })],
      errors: ['IPAddressPool metallb-system/a: addresses[0] "10.0.0.5" overlaps "10.0.0.0/24" at addresses[0] of IPAddressPool metallb-system/b'],
    },
    {
      name: 'several overlaps, each reported once',
      pools: [pool('a', { addresses: ['10.0.0.0/16'] }), pool('b', { addresses: ['10.0.1.0/24', '10.0.2.0/24'] })],
      errors: [
        'IPAddressPool metallb-system/b: addresses[0] "10.0.1.0/24" overlaps "10.0.0.0/16" at addresses[0] of IPAddressPool metallb-system/a',
        'IPAddressPool metallb-system/b: addresses[1] "10.0.2.0/24" overlaps "10.0.0.0/16" at addresses[0] of IPAddressPool metallb-system/a',
      ],
    },
    {
      name: 'IPv4-mapped IPv6 does not overlap IPv4',
      pools: [pool('a', { addresses: ['10.0.0.0/24'] }), pool('b', { addresses: ['::ffff:10.0.0.0/120'] })],
      errors: [],
    },
    {
      name: 'node InternalIP inside a pool',
      pools: [pool('p', { addresses: ['192.168.0.0/24'] })],
      nodes: [node('worker-1', {}, [['InternalIP', '192.168.0.5']])],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "192.168.0.0/24" contains 192.168.0.5, the InternalIP of Node worker-1'],
    },
    {
      name: 'node ExternalIP (IPv6) inside a range',
      pools: [pool('p', { addresses: ['fd00::10-fd00::20'] })],
      nodes: [node('worker-2', {}, [['ExternalIP', 'fd00::0:15']])],
      errors: ['IPAddressPool metallb-system/p: addresses[0] "fd00::10-fd00::20" contains fd00::15, the ExternalIP of Node worker-2'],
    },
    {
      name: 'malformed node objects are skipped',
      pools: [pool('p', { addresses: ['10.0.0.0/24'] })],
      nodes: [5, {}, { metadata: { name: 'x' }, status: { addresses: 'no' } }, { metadata: { name: 'y' }, status: { addresses: [{ type: 'InternalIP', address: 'junk' }, 7] } }],
      errors: [],
    },
    {
      name: 'autoAssign and avoidBuggyIPs types',
      pools: [pool('p', { addresses: ['10.0.0.0/24'], autoAssign: 'false', avoidBuggyIPs: 1 })],
      errors: [
        'IPAddressPool metallb-system/p: autoAssign must be a boolean, got "false"',
        'IPAddressPool metallb-system/p: avoidBuggyIPs must be a boolean, got 1',
      ],
    },
    {
      name: 'serviceAllocation fields',
      pools: [
        pool('p', {
          addresses: ['10.0.0.0/24'],
          serviceAllocation: {
            priority: '1',
            namespaces: ['ok', 'ok', 'Bad_NS', ''],
            namespaceSelectors: [{ matchLabels: { a: 'b' } }, { matchLabels: { a: 'b' } }],
            serviceSelectors: 'x',
          },
        }),
      ],
      errors: [
        'IPAddressPool metallb-system/p: serviceAllocation.priority must be an integer, got "1"',
        'IPAddressPool metallb-system/p: serviceAllocation.namespaces[1] "ok" repeats serviceAllocation.namespaces[0]',
        'IPAddressPool metallb-system/p: serviceAllocation.namespaces[3] must not be empty',
        'IPAddressPool metallb-system/p: serviceAllocation.namespaces[2] "Bad_NS" is not a valid namespace name',
        'IPAddressPool metallb-system/p: serviceAllocation.namespaceSelectors[1] repeats serviceAllocation.namespaceSelectors[0]',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors must be a list, got "x"',
      ],
    },
    {
      name: 'serviceAllocation not an object',
      pools: [pool('p', { addresses: ['10.0.0.0/24'], serviceAllocation: ['x'] })],
      errors: ['IPAddressPool metallb-system/p: serviceAllocation must be an object, got a list'],
    },
    {
      name: 'label selectors are checked like Kubernetes does',
      pools: [
        pool('p', {
          addresses: ['10.0.0.0/24'],
          serviceAllocation: {
            serviceSelectors: [
              { matchLabels: { 'bad key!': 'x', ok: 'bad value!', n: 5 } },
              { matchExpressions: [{ key: 'k', operator: 'Like', values: ['a'] }] },
              { matchExpressions: [{ key: 'k', operator: 'In' }] },
              { matchExpressions: [{ key: 'k', operator: 'DoesNotExist', values: ['a'] }] },
              { matchExpressions: [{ operator: 'Exists' }, { key: 'k' }] },
              { matchExpressions: [{ key: 'k', operator: 'In', values: ['a', 'a'] }] },
              { matchExpressions: [{ key: 'k', operator: 'Exists' }, { key: 'k', operator: 'Exists' }] },
              null,
            ],
          },
        }),
      ],
      errors: [
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[0].matchLabels key "bad key!" is not a valid label key',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[0].matchLabels.n must be a string, got 5',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[0].matchLabels.ok "bad value!" is not a valid label value',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[1].matchExpressions[0].operator "Like" is not one of In, NotIn, Exists, DoesNotExist',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[2].matchExpressions[0].values must not be empty for operator In',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[3].matchExpressions[0].values must be empty for operator DoesNotExist',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[4].matchExpressions[0].key is required',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[4].matchExpressions[1].operator is required',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[5].matchExpressions[0].values[1] "a" repeats serviceAllocation.serviceSelectors[5].matchExpressions[0].values[0]',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[6].matchExpressions[1] repeats serviceAllocation.serviceSelectors[6].matchExpressions[0]',
        'IPAddressPool metallb-system/p: serviceAllocation.serviceSelectors[7] must be an object, got null',
      ],
    },
    {
      name: 'every error of every pool is collected',
      pools: [pool('a', { addresses: ['x'] }), pool('b', { addresses: ['y'], autoAssign: 3 })],
      errors: [
        'IPAddressPool metallb-system/a: addresses[0] "x" is not an IP, range or CIDR',
        'IPAddressPool metallb-system/b: addresses[0] "y" is not an IP, range or CIDR',
        'IPAddressPool metallb-system/b: autoAssign must be a boolean, got 3',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(messages(parse({ ipAddressPools: c.pools, nodes: c.nodes ?? [] })), c.errors);
    });
  }
});

describe('widestPrefix', () => {
  const cases: [string, number][] = [
    ['10.0.0.0/24', 24],
    ['10.0.0.0/0', 0],
    ['10.0.0.1', 32],
    ['10.0.0.0-10.0.0.255', 24],
    ['10.0.0.1-10.0.0.5', 31],
    ['10.0.0.4-10.0.0.7', 30],
    ['192.168.1.100-192.168.1.200', 26],
    ['10.0.0.0-10.0.1.255', 23],
    ['fd00::/64', 64],
    ['fd00::1', 128],
    ['::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 0],
    ['fd00::1-fd00::ffff:ffff:ffff:fffe', 66],
  ];
  for (const [text, want] of cases) test(text, () => assert.equal(widestPrefix(range(text)), want));
});
