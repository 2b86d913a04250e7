import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCommunity, parseCommunity } from './community.ts';
import { bgpAdv, community, messages, parse, pool, valid } from './fixtures.ts';

test('parseCommunity: standard and large literals, limits, and non-literals', () => {
  const cases: [string, unknown][] = [
    ['0:0', { kind: 'standard', value: 0 }],
    ['65535:65282', { kind: 'standard', value: 0xffffff02 }],
    ['64500:100', { kind: 'standard', value: 64500 * 65536 + 100 }],
    ['65536:1', { error: 'is not a valid community: each half of a:b must be 0..65535' }],
    ['1:65536', { error: 'is not a valid community: each half of a:b must be 0..65535' }],
    ['large:1:2:3', { kind: 'large', globalAdmin: 1, localData1: 2, localData2: 3 }],
    ['large:4294967295:0:4294967295', { kind: 'large', globalAdmin: 4294967295, localData1: 0, localData2: 4294967295 }],
    ['LARGE:1:2:3', { kind: 'large', globalAdmin: 1, localData1: 2, localData2: 3 }],
    ['large:4294967296:0:0', { error: 'is not a valid large community: write large:a:b:c with each part 0..4294967295' }],
    ['large:1:2', { error: 'is not a valid large community: write large:a:b:c with each part 0..4294967295' }],
    ['large:a:b:c', { error: 'is not a valid large community: write large:a:b:c with each part 0..4294967295' }],
    ['no-advertise', undefined],
    ['1:2:3', undefined],
    [':1', undefined],
    ['-1:1', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseCommunity(text), want, text);
});

test('formatCommunity round-trips', () => {
  for (const text of ['0:0', '65535:65282', '64500:100', 'large:1:2:3']) {
    const c = parseCommunity(text);
    assert.ok(c && !('error' in c));
    assert.equal(formatCommunity(c), text);
  }
});

test('Community objects: aliases resolve in advertisements; bad values and duplicate names are errors', () => {
  const ok = valid(
    parse({
      ipAddressPools: [pool('p', { addresses: ['10.0.0.0/24'] })],
      communities: [community('a', { 'no-advertise': '65535:65282', big: 'large:64500:1:2' }), community('b', { other: '64500:7' })],
      bgpAdvertisements: [bgpAdv('x', { communities: ['no-advertise', 'big', 'other', '1:1', '65535:65282'] })],
    }),
  );
  assert.deepEqual(ok.bgpAdvertisements[0]!.communities, [
    { kind: 'standard', value: 0xffffff02 },
    { kind: 'large', globalAdmin: 64500, localData1: 1, localData2: 2 },
    { kind: 'standard', value: 64500 * 65536 + 7 },
    { kind: 'standard', value: 65537 },
  ]);

  const cases: { name: string; communities: unknown[]; advertised?: string[]; errors: string[] }[] = [
    {
      name: 'value not a community',
      communities: [community('a', { x: 'foo' })],
      errors: ['Community metallb-system/a: communities[0].value "foo" is not a community: write a:b or large:a:b:c'],
    },
    {
      name: 'value out of range',
      communities: [community('a', { x: '1:70000' })],
      errors: ['Community metallb-system/a: communities[0].value "1:70000" is not a valid community: each half of a:b must be 0..65535'],
    },
    {
      name: 'alias of an alias',
      communities: [community('a', { x: '1:1', y: 'x' })],
      errors: ['Community metallb-system/a: communities[1].value "x" is not a community: write a:b or large:a:b:c'],
    },
    {
      name: 'duplicate alias across objects',
      communities: [community('a', { x: '1:1' }), community('b', { x: '1:2' })],
      errors: ['Community metallb-system/b: communities[0].name "x" is already defined at communities[0].name of Community metallb-system/a'],
    },
    {
      name: 'missing name and value',
      communities: [{ metadata: { name: 'a', namespace: 'metallb-system' }, spec: { communities: [{}, null, { name: '', value: 5 }] } }],
      errors: [
        'Community metallb-system/a: communities[0].name is required',
        'Community metallb-system/a: communities[0].value is required',
        'Community metallb-system/a: communities[1] must be an object, got null',
        'Community metallb-system/a: communities[2].name must not be empty',
        'Community metallb-system/a: communities[2].value must be a string, got 5',
      ],
    },
    {
      name: 'communities not a list',
      communities: [{ metadata: { name: 'a' }, spec: { communities: { x: '1:1' } } }],
      errors: ['Community metallb-system/a: communities must be a list, got an object'],
    },
    {
      name: 'unknown alias in an advertisement',
      communities: [],
      advertised: ['nope'],
      errors: [
        'BGPAdvertisement metallb-system/x: communities[0] "nope" is neither a community (a:b or large:a:b:c) nor the name of a Community alias',
      ],
    },
    {
      name: 'repeated community in an advertisement',
      communities: [],
      advertised: ['1:1', '1:1'],
      errors: ['BGPAdvertisement metallb-system/x: communities[1] "1:1" repeats communities[0]'],
    },
  ];
  for (const c of cases) {
    const r = parse({
      ipAddressPools: [pool('p', { addresses: ['10.0.0.0/24'] })],
      communities: c.communities,
      bgpAdvertisements: c.advertised ? [bgpAdv('x', { communities: c.advertised })] : [],
    });
    assert.deepEqual(messages(r), c.errors, c.name);
  }
});
