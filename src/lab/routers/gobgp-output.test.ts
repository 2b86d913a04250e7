// GoBGP 3.10 JSON captured in the lab (testdata/): a speaker with static neighbors to an FRR router
// and a BIRD router, announcing 10.0.0.5/32 and fd00::5/128 and learning the FRR router's prefixes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gobgpState, parseGobgpNeighbors, parseGobgpRib } from './gobgp-output.ts';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));

describe('GoBGP output parsers', () => {
  it('neighbor -j: session_state 6 is Established; accepted prefixes per family', () => {
    const s = parseGobgpNeighbors(fixture('gobgp-neighbors.json'), ['10.99.0.1', 'fd99::1', '10.99.0.100', 'fd99::100']);
    assert.deepEqual([...s.keys()].sort(), ['10.99.0.1', '10.99.0.100', 'fd99::1', 'fd99::100']);
    assert.deepEqual(s.get('10.99.0.1'), {
      peer: '10.99.0.1',
      remoteAs: 64500,
      state: 'Established',
      established: true,
      prefixesReceived: 1,
      prefixesByFamily: { ipv4: 1 },
      dynamic: false,
    });
    assert.equal(s.get('fd99::1')!.prefixesByFamily.ipv6, 1);
    // Peers not among the configured neighbors came in through dynamic-neighbors.
    assert.equal(parseGobgpNeighbors(fixture('gobgp-neighbors.json')).get('10.99.0.1')!.dynamic, true);
  });

  it('state names and numbers', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(gobgpState), ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established']);
    assert.equal(gobgpState('BGP_FSM_ESTABLISHED'), 'Established');
    assert.equal(gobgpState('active'), 'Active');
  });

  it('global rib -j: attributes by type code; local routes have no peer and no next hop', () => {
    const rib = parseGobgpRib(fixture('gobgp-rib-ipv4.json'));
    const learned = rib.get('10.1.0.0/24')!;
    assert.deepEqual(
      { nexthops: learned.nexthops, communities: learned.communities, large: learned.largeCommunities, med: learned.med, asPath: learned.asPath, origin: learned.origin },
      { nexthops: ['10.99.0.1'], communities: ['64500:7', '65535:666'], large: ['64500:1:1'], med: 42, asPath: [64500], origin: 'igp' },
    );
    assert.equal(learned.paths[0]!.peer, '10.99.0.1');
    const own = rib.get('10.0.0.5/32')!;
    assert.deepEqual([own.paths[0]!.local, own.paths[0]!.peer, own.nexthops], [true, undefined, []]);
    assert.deepEqual(own.communities, ['64512:100', '65535:65282']);
  });

  it('global rib -a ipv6 -j: the next hop comes from MP_REACH_NLRI', () => {
    const rib = parseGobgpRib(fixture('gobgp-rib-ipv6.json'));
    assert.deepEqual(rib.get('fd01::/64')!.nexthops, ['fd99::1']);
    assert.equal(rib.get('fd01::/64')!.family, 'ipv6');
    assert.deepEqual(rib.get('fd00::5/128')!.nexthops, []);
  });

  it('an empty RIB is null or {}', () => {
    assert.equal(parseGobgpRib(null).size, 0);
    assert.equal(parseGobgpRib({}).size, 0);
  });
});
