import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bfd, messages, node, parse, peer, secret, valid } from './fixtures.ts';

const base = { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.1' };
const basicAuth = 'kubernetes.io/basic-auth';
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('BGPPeer: valid peers', () => {
  test('defaults: port 179, hold 90s, keepalive 30s', () => {
    const c = valid(parse({ bgpPeers: [peer('p', base)] }));
    assert.deepEqual(c.peers, [
      {
        name: 'p',
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
      },
    ]);
  });

  test('every v1beta2 field', () => {
    const c = valid(
      parse({
        bfdProfiles: [bfd('fast')],
        secrets: [secret('bgp-auth', basicAuth, { password: b64('s3cret'), username: b64('x') })],
        bgpPeers: [
          peer('full', {
            myASN: 4200000000,
            dynamicASN: 'external',
            peerAddress: 'FD00:0::1',
            sourceAddress: 'fd00::2',
            peerPort: 1179,
            holdTime: '3m',
            keepaliveTime: '1m30s',
            connectTime: '10s',
            routerID: '10.10.10.10',
            nodeSelectors: [{ matchLabels: { rack: 'a' } }],
            passwordSecret: { name: 'bgp-auth', namespace: 'metallb-system' },
            bfdProfile: 'fast',
            ebgpMultiHop: true,
            vrf: 'red',
            enableGracefulRestart: true,
            disableMP: false,
            dualStackAddressFamily: true,
          }),
        ],
      }),
    );
    assert.deepEqual(c.peers[0], {
      name: 'full',
      myASN: 4200000000,
      peerASN: undefined,
      dynamicASN: 'external',
      peerAddress: 'fd00::1',
      peerFamily: 'IPv6',
      sourceAddress: 'fd00::2',
      peerPort: 1179,
      holdTimeSeconds: 180,
      keepaliveTimeSeconds: 90,
      connectTimeSeconds: 10,
      routerID: '10.10.10.10',
      nodeSelectors: [{ matchLabels: { rack: 'a' }, matchExpressions: [] }],
      password: 's3cret',
      bfdProfile: 'fast',
      ebgpMultiHop: true,
      vrf: 'red',
      enableGracefulRestart: true,
    });
  });

  test('v1beta1 shape (peerASN required, no v1beta2 fields) parses the same', () => {
    const v1 = peer('p', { ...base, password: 'pw', holdTime: '120s' }, { apiVersion: 'metallb.io/v1beta1' });
    const v2 = peer('p', { ...base, password: 'pw', holdTime: '120s' });
    assert.deepEqual(valid(parse({ bgpPeers: [v1] })), valid(parse({ bgpPeers: [v2] })));
  });

  const timers: [Record<string, unknown>, number, number][] = [
    [{}, 90, 30],
    [{ holdTime: '0s' }, 0, 0],
    [{ holdTime: '3s' }, 3, 1],
    [{ holdTime: '10s' }, 10, 3],
    [{ holdTime: '90s', keepaliveTime: '90s' }, 90, 90],
    [{ keepaliveTime: '20s' }, 60, 20],
    [{ holdTime: '1m30s', keepaliveTime: '0s' }, 90, 0],
    [{ holdTime: '3.9s' }, 3, 1],
    [{ holdTime: '65535s' }, 65535, 21845],
  ];
  for (const [spec, hold, keepalive] of timers) {
    test(`timers ${JSON.stringify(spec)} → hold ${hold}s, keepalive ${keepalive}s`, () => {
      const p = valid(parse({ bgpPeers: [peer('p', { ...base, ...spec })] })).peers[0]!;
      assert.equal(p.holdTimeSeconds, hold);
      assert.equal(p.keepaliveTimeSeconds, keepalive);
    });
  }

  test('same address on disjoint nodes is fine; different port or vrf too', () => {
    valid(
      parse({
        nodes: [node('a', { rack: 'a' }), node('b', { rack: 'b' })],
        bgpPeers: [
          peer('p1', { ...base, nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
          peer('p2', { ...base, nodeSelectors: [{ matchLabels: { rack: 'b' } }] }),
          peer('p3', { ...base, peerPort: 1179 }),
          peer('p4', { ...base, vrf: 'red' }),
        ],
      }),
    );
  });

  test('peerASN 0 next to dynamicASN is the unset Go zero value', () => {
    const p = valid(parse({ bgpPeers: [peer('p', { ...base, peerASN: 0, dynamicASN: 'internal' })] })).peers[0]!;
    assert.equal(p.peerASN, undefined);
    assert.equal(p.dynamicASN, 'internal');
  });

  test('peers are sorted by name', () => {
    const c = valid(
      parse({ bgpPeers: [peer('zz', { ...base, peerAddress: '10.0.0.3' }), peer('aa', { ...base, peerAddress: '10.0.0.2' })] }),
    );
    assert.deepEqual(
      c.peers.map((p) => p.name),
      ['aa', 'zz'],
    );
  });
});

describe('BGPPeer: errors', () => {
  const cases: { name: string; spec: Record<string, unknown>; errors: string[]; secrets?: unknown[]; apiVersion?: string }[] = [
    { name: 'myASN missing', spec: { peerASN: 1, peerAddress: '10.0.0.1' }, errors: ['myASN is required'] },
    { name: 'myASN zero', spec: { ...base, myASN: 0 }, errors: ['myASN must be between 1 and 4294967295, got 0'] },
    { name: 'myASN too big', spec: { ...base, myASN: 4294967296 }, errors: ['myASN must be between 1 and 4294967295, got 4294967296'] },
    { name: 'myASN a string', spec: { ...base, myASN: '64500' }, errors: ['myASN must be an integer, got "64500"'] },
    { name: 'neither peerASN nor dynamicASN', spec: { myASN: 1, peerAddress: '10.0.0.1' }, errors: ['peerASN is required (or set dynamicASN to internal or external)'] },
    { name: 'both peerASN and dynamicASN', spec: { ...base, dynamicASN: 'internal' }, errors: ['dynamicASN cannot be set together with peerASN: set exactly one of them'] },
    { name: 'peerASN zero', spec: { ...base, peerASN: 0 }, errors: ['peerASN must be between 1 and 4294967295, got 0'] },
    { name: 'peerASN too big', spec: { ...base, peerASN: 2 ** 32 }, errors: ['peerASN must be between 1 and 4294967295, got 4294967296'] },
    { name: 'peerASN null and no dynamicASN', spec: { ...base, peerASN: null }, errors: ['peerASN is required (or set dynamicASN to internal or external)'] },
    { name: 'dynamicASN unknown', spec: { myASN: 1, dynamicASN: 'both', peerAddress: '10.0.0.1' }, errors: ['dynamicASN "both" is not one of internal, external'] },
    { name: 'ebgpMultiHop on iBGP', spec: { ...base, peerASN: 64500, ebgpMultiHop: true }, errors: ['ebgpMultiHop cannot be set for an iBGP peer (the peer ASN equals myASN)'] },
    { name: 'ebgpMultiHop on dynamic internal', spec: { myASN: 1, dynamicASN: 'internal', peerAddress: '10.0.0.1', ebgpMultiHop: true }, errors: ['ebgpMultiHop cannot be set for an iBGP peer (the peer ASN equals myASN)'] },
    { name: 'peerAddress missing', spec: { myASN: 1, peerASN: 2 }, errors: ['peerAddress is required'] },
    { name: 'peerAddress not an IP', spec: { ...base, peerAddress: 'router.example' }, errors: ['peerAddress "router.example" is not an IP address'] },
    { name: 'peerAddress a CIDR', spec: { ...base, peerAddress: '10.0.0.1/32' }, errors: ['peerAddress "10.0.0.1/32" is not an IP address'] },
    { name: 'interface (unnumbered)', spec: { myASN: 1, peerASN: 2, interface: 'eth0' }, errors: ['interface unnumbered BGP (peering over an interface) is not supported; set peerAddress instead'] },
    { name: 'sourceAddress not an IP', spec: { ...base, sourceAddress: 'eth0' }, errors: ['sourceAddress "eth0" is not an IP address'] },
    { name: 'sourceAddress of the other family', spec: { ...base, sourceAddress: 'fd00::1' }, errors: ['sourceAddress fd00::1 is IPv6 but peerAddress 10.0.0.1 is IPv4'] },
    { name: 'peerPort zero', spec: { ...base, peerPort: 0 }, errors: ['peerPort must be between 1 and 65535, got 0'] },
    { name: 'peerPort too big', spec: { ...base, peerPort: 65536 }, errors: ['peerPort must be between 1 and 65535, got 65536'] },
    { name: 'peerPort a string', spec: { ...base, peerPort: '179' }, errors: ['peerPort must be an integer, got "179"'] },
    { name: 'holdTime not a duration', spec: { ...base, holdTime: '90' }, errors: ['holdTime "90" is not a duration such as "90s", "1m30s" or "3m"'] },
    { name: 'holdTime a number', spec: { ...base, holdTime: 90 }, errors: ['holdTime must be a string, got 90'] },
    { name: 'holdTime below 3s', spec: { ...base, holdTime: '2s' }, errors: ['holdTime must be 0 or at least 3s, got "2s"'] },
    { name: 'holdTime 2.9s rounds down', spec: { ...base, holdTime: '2900ms' }, errors: ['holdTime must be 0 or at least 3s, got "2900ms"'] },
    { name: 'holdTime negative', spec: { ...base, holdTime: '-90s' }, errors: ['holdTime "-90s" must not be negative'] },
    { name: 'holdTime above BGP\'s 16 bits', spec: { ...base, holdTime: '20h' }, errors: ['holdTime must be at most 65535s (18h12m15s), got "20h"'] },
    { name: 'keepalive longer than hold', spec: { ...base, holdTime: '30s', keepaliveTime: '40s' }, errors: ['keepaliveTime "40s" is longer than holdTime "30s"'] },
    { name: 'keepalive with hold 0', spec: { ...base, holdTime: '0s', keepaliveTime: '10s' }, errors: ['keepaliveTime "10s" is longer than holdTime "0s"'] },
    { name: 'keepalive alone implying a too short hold', spec: { ...base, keepaliveTime: '500ms' }, errors: ['keepaliveTime implies a holdTime of 1.5s (three keepalives); the holdTime must be 0 or at least 3s'] },
    { name: 'keepalive not a duration', spec: { ...base, keepaliveTime: '30 s' }, errors: ['keepaliveTime "30 s" is not a duration such as "90s", "1m30s" or "3m"'] },
    { name: 'connectTime fractional', spec: { ...base, connectTime: '1.5s' }, errors: ['connectTime must be a whole number of seconds between 1s and 65535s, got "1.5s"'] },
    { name: 'connectTime zero', spec: { ...base, connectTime: '0s' }, errors: ['connectTime must be a whole number of seconds between 1s and 65535s, got "0s"'] },
    { name: 'routerID IPv6', spec: { ...base, routerID: 'fd00::1' }, errors: ['routerID "fd00::1" is not an IPv4 address'] },
    { name: 'routerID junk', spec: { ...base, routerID: 'me' }, errors: ['routerID "me" is not an IPv4 address'] },
    { name: 'nodeSelectors bad', spec: { ...base, nodeSelectors: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] }, errors: ['nodeSelectors[0].matchExpressions[0].values must not be empty for operator In'] },
    { name: 'password with a line break', spec: { ...base, password: 'a\nb' }, errors: ['password must not contain a line break'] },
    { name: 'password and passwordSecret', spec: { ...base, password: 'x', passwordSecret: { name: 'good' } }, errors: ['passwordSecret cannot be set together with password: use one of them'] },
    { name: 'passwordSecret missing Secret', spec: { ...base, passwordSecret: { name: 'nope' } }, errors: ['passwordSecret.name Secret metallb-system/nope does not exist'] },
    { name: 'passwordSecret wrong type', spec: { ...base, passwordSecret: { name: 'opaque' } }, errors: ['passwordSecret.name Secret metallb-system/opaque has type "Opaque"; it must be kubernetes.io/basic-auth'] },
    { name: 'passwordSecret without password key', spec: { ...base, passwordSecret: { name: 'nokey' } }, errors: ['passwordSecret.name Secret metallb-system/nokey has no "password" key'] },
    { name: 'passwordSecret bad base64', spec: { ...base, passwordSecret: { name: 'badb64' } }, errors: ['passwordSecret.name Secret metallb-system/badb64 key "password" is not valid base64'] },
    { name: 'passwordSecret password with line break', spec: { ...base, passwordSecret: { name: 'newline' } }, errors: ['passwordSecret.name Secret metallb-system/newline key "password" must not contain a line break'] },
    { name: 'passwordSecret in another namespace', spec: { ...base, passwordSecret: { name: 'good', namespace: 'kube-system' } }, errors: ['passwordSecret.namespace "kube-system" must be the install namespace "metallb-system"'] },
    { name: 'passwordSecret Secret of another namespace is not seen', spec: { ...base, passwordSecret: { name: 'elsewhere' } }, errors: ['passwordSecret.name Secret metallb-system/elsewhere does not exist'] },
    { name: 'passwordSecret with namespace only', spec: { ...base, passwordSecret: { namespace: 'metallb-system' } }, errors: ['passwordSecret.name is required'] },
    { name: 'passwordSecret not an object', spec: { ...base, passwordSecret: 'good' }, errors: ['passwordSecret must be an object, got "good"'] },
    { name: 'bfdProfile unknown', spec: { ...base, bfdProfile: 'slow' }, errors: ['bfdProfile "slow" is not a known BFDProfile'] },
    { name: 'vrf with a line break', spec: { ...base, vrf: 'r\n' }, errors: ['vrf must not contain a line break'] },
    { name: 'flags of the wrong type', spec: { ...base, ebgpMultiHop: 'yes', enableGracefulRestart: 1, disableMP: 'no' }, errors: ['ebgpMultiHop must be a boolean, got "yes"', 'enableGracefulRestart must be a boolean, got 1', 'disableMP must be a boolean, got "no"'] },
    { name: 'apiVersion not served', spec: base, apiVersion: 'metallb.io/v1beta3', errors: ['apiVersion "metallb.io/v1beta3" is not served for BGPPeer (use metallb.io/v1beta1 or metallb.io/v1beta2)'] },
  ];
  const secrets = [
    secret('good', basicAuth, { password: b64('pw') }),
    secret('opaque', 'Opaque', { password: b64('pw') }),
    secret('nokey', basicAuth, { username: b64('u') }),
    secret('badb64', basicAuth, { password: 'not base64!' }),
    secret('newline', basicAuth, { password: b64('pw\n') }),
    secret('elsewhere', basicAuth, { password: b64('pw') }, 'other'),
  ];
  for (const c of cases) {
    test(c.name, () => {
      const obj = peer('p', c.spec, c.apiVersion ? { apiVersion: c.apiVersion } : {});
      assert.deepEqual(
        messages(parse({ bgpPeers: [obj], secrets })),
        c.errors.map((e) => `BGPPeer metallb-system/p: ${e}`),
      );
    });
  }

  test('duplicate peers: same address, port and vrf on overlapping nodes', () => {
    const r = parse({
      nodes: [node('n1', { rack: 'a', zone: 'x' }), node('n2', { rack: 'b', zone: 'x' })],
      bgpPeers: [
        peer('a', base),
        peer('b', { ...base, myASN: 64510 }),
        peer('c', { ...base, vrf: 'red', nodeSelectors: [{ matchLabels: { rack: 'a' } }] }),
        peer('d', { ...base, vrf: 'red', nodeSelectors: [{ matchLabels: { zone: 'x' } }] }),
        peer('e', { ...base, peerPort: 1000, nodeSelectors: [{ matchLabels: { rack: 'z' } }] }),
        peer('f', { ...base, peerPort: 1000, nodeSelectors: [{ matchLabels: { rack: 'z' } }] }),
      ],
    });
    assert.deepEqual(messages(r), [
      'BGPPeer metallb-system/b: peerAddress 10.0.0.1 port 179 is also the peer of BGPPeer metallb-system/a on every node',
      'BGPPeer metallb-system/d: peerAddress 10.0.0.1 port 179 in vrf "red" is also the peer of BGPPeer metallb-system/c on Node n1',
      'BGPPeer metallb-system/f: peerAddress 10.0.0.1 port 1000 is also the peer of BGPPeer metallb-system/e on the same nodes',
    ]);
  });

  test('address spelled differently is still the same peer', () => {
    const r = parse({ bgpPeers: [peer('a', { ...base, peerAddress: 'fd00::1' }), peer('b', { ...base, peerAddress: 'FD00:0:0::1' })] });
    assert.deepEqual(messages(r), ['BGPPeer metallb-system/b: peerAddress fd00::1 port 179 is also the peer of BGPPeer metallb-system/a on every node']);
  });
});

describe('a component that may not read Secrets (the controller)', () => {
  test('accepts a passwordSecret reference without resolving it, and still checks its shape', () => {
    const ok = valid(parse({ secrets: undefined, bgpPeers: [peer('p', { ...base, passwordSecret: { name: 'whatever' } })] }));
    assert.equal(ok.peers[0]!.password, undefined);
    assert.deepEqual(messages(parse({ secrets: undefined, bgpPeers: [peer('p', { ...base, password: 'x', passwordSecret: { name: 'w' } })] })), [
      'BGPPeer metallb-system/p: passwordSecret cannot be set together with password: use one of them',
    ]);
  });
});
