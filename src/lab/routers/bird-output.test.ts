// BIRD 2.0.12 text captured in the lab (testdata/): a BIRD router with two neighbor ranges (dynamic
// sessions dyn1_*, dyn2_*) learning 10.0.0.5/32 and fd00::5/128 from two speakers (ECMP), and a BIRD
// speaker (static neighbors nbr1..4) announcing them from its static protocols ann4/ann6.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { birdSessions, parseBirdProtocols, parseBirdRoutes } from './bird-output.ts';

const fixture = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

describe('BIRD output parsers', () => {
  it('show protocols all: one session per BGP protocol with a neighbor; range protocols skipped', () => {
    const protocols = parseBirdProtocols(fixture('bird-router-protocols.txt'));
    assert.deepEqual(protocols.map((p) => p.name).sort(), ['dyn1_1', 'dyn1_2', 'dyn2_1', 'dyn2_2']);
    const sessions = birdSessions(protocols);
    assert.deepEqual([...sessions.keys()].sort(), ['10.99.0.11', '10.99.0.12', 'fd99::11', 'fd99::12']);
    assert.deepEqual(sessions.get('10.99.0.12'), {
      peer: '10.99.0.12',
      remoteAs: 64512,
      state: 'Established',
      established: true,
      prefixesReceived: 2,
      prefixesByFamily: { ipv4: 2 },
      dynamic: true,
    });
  });

  it('static neighbors are not dynamic', () => {
    const sessions = birdSessions(parseBirdProtocols(fixture('bird-speaker-protocols.txt')));
    assert.deepEqual([...sessions.keys()].sort(), ['10.99.0.1', '10.99.0.100', 'fd99::1', 'fd99::100']);
    for (const s of sessions.values()) assert.deepEqual([s.established, s.dynamic], [true, false]);
    assert.equal(sessions.get('10.99.0.1')!.prefixesReceived, 1);
  });

  it('states other than Established map to RFC names', () => {
    const text = [
      'BIRD 2.0.12 ready.',
      'Name       Proto      Table      State  Since         Info',
      'nbr1       BGP        ---        start  11:37:14.905  Active        Socket: Connection closed',
      '  BGP state:          Active',
      '    Neighbor address: 10.99.0.1',
      '    Neighbor AS:      64500',
      '  Channel ipv4',
      '    State:          DOWN',
      'nbr2       BGP        ---        start  11:37:14.905  OpenSent',
      '  BGP state:          OpenSent',
      '    Neighbor address: fd99::1%eth0',
      '    Neighbor AS:      64500',
    ].join('\n');
    const s = birdSessions(parseBirdProtocols(text));
    assert.deepEqual([s.get('10.99.0.1')!.state, s.get('10.99.0.1')!.established, s.get('10.99.0.1')!.prefixesReceived], ['Active', false, 0]);
    assert.equal(s.get('fd99::1')!.state, 'OpenSent');
  });

  it('show route all: ECMP paths (continuation lines), attributes, peers by address', () => {
    const protocols = parseBirdProtocols(fixture('bird-router-protocols.txt'));
    const routes = parseBirdRoutes(fixture('bird-router-routes.txt'), { protocols });
    assert.deepEqual([...routes.keys()].sort(), ['10.0.0.5/32', '10.1.0.0/24', 'fd00::5/128', 'fd01::/64']);
    const r = routes.get('10.0.0.5/32')!;
    assert.deepEqual(r.nexthops, ['10.99.0.11', '10.99.0.12']);
    assert.deepEqual(r.paths.map((p) => [p.peer, p.best]), [
      ['10.99.0.11', true],
      ['10.99.0.12', false],
    ]);
    assert.deepEqual(r.communities, ['64512:100', '65535:65282']);
    assert.deepEqual(r.largeCommunities, ['64512:1:2']);
    assert.deepEqual([r.asPath, r.origin, r.localPref], [[64512], 'igp', 100]);
    const v6 = routes.get('fd00::5/128')!;
    assert.deepEqual(v6.nexthops, ['fd99::11', 'fd99::12']);
    assert.match(v6.paths[0]!.nexthopLinkLocal ?? '', /^fe80::/);
    assert.deepEqual(routes.get('10.1.0.0/24')!.asPath, [64512, 64500]);
  });

  it("the router's own announcements are local paths; MED is read", () => {
    const routes = parseBirdRoutes(fixture('bird-speaker-routes.txt'), { protocols: parseBirdProtocols(fixture('bird-speaker-protocols.txt')) });
    const own = routes.get('10.0.0.5/32')!;
    assert.deepEqual(own.paths.map((p) => [p.local, p.peer, p.nexthop]), [[true, undefined, undefined]]);
    assert.deepEqual(own.communities, ['64512:100', '65535:65282']);
    const learned = routes.get('fd01::/64')!;
    assert.deepEqual([learned.paths[0]!.peer, learned.med, learned.nexthops], ['fd99::1', 42, ['fd99::1']]);
  });
});
