// FRR 8.4 JSON captured in the lab (testdata/): an FRR router with two listen ranges and static
// neighbors, BIRD (node1, dynamic) and GoBGP (node2, static) both announcing 10.0.0.5/32 and fd00::5/128.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  mergeFrrSessions,
  parseFrrBfdPeers,
  parseFrrNeighbors,
  parseFrrRoute,
  parseFrrSummary,
  parseFrrTable,
} from './frr-output.ts';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));

describe('FRR output parsers', () => {
  it('show bgp summary json: sessions by peer with state, ASN, prefixes per family, dynamic flag', () => {
    const s = parseFrrSummary(fixture('frr-summary.json'));
    assert.deepEqual([...s.keys()].sort(), ['10.99.0.11', '10.99.0.12', '10.99.0.99', 'fd99::11', 'fd99::12']);
    assert.deepEqual(s.get('10.99.0.11'), {
      peer: '10.99.0.11',
      remoteAs: 64512,
      state: 'Established',
      established: true,
      prefixesReceived: 1,
      prefixesByFamily: { ipv4: 1 },
      dynamic: true,
    });
    assert.equal(s.get('10.99.0.12')!.dynamic, false);
    assert.equal(s.get('fd99::11')!.prefixesByFamily.ipv6, 1);
    assert.deepEqual([s.get('10.99.0.99')!.state, s.get('10.99.0.99')!.established], ['Active', false]);
  });

  it('show bgp neighbor json: the same sessions, dynamic ones known by their range group', () => {
    const n = parseFrrNeighbors(fixture('frr-neighbors.json'));
    assert.equal(n.size, 5);
    assert.equal(n.get('fd99::11')!.dynamic, true);
    assert.equal(n.get('fd99::12')!.dynamic, false);
    assert.equal(n.get('10.99.0.12')!.prefixesReceived, 1);
    const merged = mergeFrrSessions(parseFrrSummary(fixture('frr-summary.json')), n);
    assert.deepEqual(merged, parseFrrSummary(fixture('frr-summary.json')));
  });

  it('neighbor-only peers (no family active yet) still appear after the merge', () => {
    const merged = mergeFrrSessions(new Map(), parseFrrNeighbors(fixture('frr-neighbors.json')));
    assert.equal(merged.get('10.99.0.99')!.state, 'Active');
  });

  it('show bgp ipv4 unicast json: prefixes with best and multipath flags per path', () => {
    const table = parseFrrTable(fixture('frr-ipv4-table.json'));
    assert.deepEqual(table, [
      {
        prefix: '10.0.0.5/32',
        paths: [
          { peer: '10.99.0.11', best: false, multipath: true },
          { peer: '10.99.0.12', best: true, multipath: false },
        ],
      },
      { prefix: '10.1.0.0/24', paths: [{ best: true, multipath: false }] },
    ]);
  });

  it('show bgp ipv4 unicast PREFIX json: ECMP paths with communities (well-known names made numeric)', () => {
    const route = parseFrrRoute(fixture('frr-ipv4-prefix.json'), parseFrrTable(fixture('frr-ipv4-table.json'))[0])!;
    assert.equal(route.prefix, '10.0.0.5/32');
    assert.equal(route.family, 'ipv4');
    assert.deepEqual(route.nexthops.slice().sort(), ['10.99.0.11', '10.99.0.12']);
    assert.deepEqual(route.communities, ['64512:100', '65535:65282']); // "noAdvertise" in FRR's JSON
    assert.deepEqual(route.largeCommunities, ['64512:1:2']);
    assert.deepEqual(route.asPath, [64512]);
    assert.equal(route.origin, 'igp');
    assert.equal(route.paths.length, 2);
    assert.deepEqual(
      route.paths.map((p) => [p.peer, p.best, p.multipath, p.local]),
      [
        ['10.99.0.11', false, true, false],
        ['10.99.0.12', true, true, false],
      ],
    );
  });

  it('IPv6: global next hop, the link-local one kept apart', () => {
    const route = parseFrrRoute(fixture('frr-ipv6-prefix.json'))!;
    assert.equal(route.prefix, 'fd00::5/128');
    assert.deepEqual(route.nexthops.slice().sort(), ['fd99::11', 'fd99::12']);
    const bird = route.paths.find((p) => p.peer === 'fd99::11')!;
    assert.equal(bird.nexthop, 'fd99::11');
    assert.match(bird.nexthopLinkLocal ?? '', /^fe80::/);
  });

  it('a locally originated route: no peer, no next hop, MED and communities', () => {
    const route = parseFrrRoute(fixture('frr-local-prefix.json'))!;
    assert.equal(route.paths.length, 1);
    const [p] = route.paths;
    assert.equal(p!.local, true);
    assert.equal(p!.peer, undefined);
    assert.equal(p!.nexthop, undefined);
    assert.equal(route.med, 42);
    assert.deepEqual(route.communities, ['64500:7', '65535:666']);
    assert.deepEqual(route.asPath, []);
  });

  it('an unknown prefix ({}) is no route', () => {
    assert.equal(parseFrrRoute({}), undefined);
  });

  it('show bfd peers json', () => {
    const peers = parseFrrBfdPeers(fixture('frr-bfd-peers.json'));
    assert.equal(peers.length, 1);
    assert.deepEqual(
      { ...peers[0], uptimeSeconds: undefined },
      {
        peer: '10.99.0.11',
        local: '10.99.0.1',
        interface: 'eth0',
        status: 'up',
        up: true,
        uptimeSeconds: undefined,
        receiveIntervalMs: 200,
        transmitIntervalMs: 200,
        detectMultiplier: 3,
        remoteReceiveIntervalMs: 300,
        remoteTransmitIntervalMs: 300,
        remoteDetectMultiplier: 3,
        diagnostic: 'ok',
      },
    );
  });
});
