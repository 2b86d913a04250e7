// The FSM in virtual time, against a scripted peer over in-memory connections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../clock/clock.ts';
import type { BGPPeer, Community } from '../config/model.ts';
import { parseCIDR, formatIP, type CIDR } from '../net/address.ts';
import type { BGPRoute } from '../speaker/plan.ts';
import type { BfdFactory, BfdSessionHandle, BfdState } from './bfd/handle.ts';
import {
  AS_TRANS,
  effectiveAsPath,
  encodeOpen,
  endOfRibFamily,
  fourOctetAsCapability,
  multiprotocolCapability,
  type UpdateMessage,
} from './codec/index.ts';
import { frame, hex, rawUpdate } from './codec/testing.ts';
import { FakePeer, memoryPair, MemoryTransport, settle, testPeer, type FakePeerOptions } from './fake-peer.test-support.ts';
import { BACKOFF_MAX_MS, PeerSession, type SessionOptions } from './session.ts';

function setup(peer: Partial<BGPPeer> = {}, options: Partial<SessionOptions> = {}, peerOptions: FakePeerOptions = {}) {
  const clock = new FakeClock();
  const transport = new MemoryTransport(clock);
  transport.acceptAll(peerOptions);
  const session = new PeerSession(testPeer(peer), { clock, transport, ...options });
  return { clock, transport, session };
}

/** Starts the session and completes the OPEN exchange with the fake peer. */
async function establish(s: ReturnType<typeof setup>, open: Parameters<FakePeer['sendOpen']>[0] = {}): Promise<FakePeer> {
  s.session.start();
  await settle();
  const peer = s.transport.peers.at(-1)!;
  assert.ok(peer.open(), 'the session sent its OPEN');
  peer.sendOpen(open);
  await settle();
  peer.sendKeepalive();
  await settle();
  assert.equal(s.session.state, 'Established');
  return peer;
}

function route(cidr: string, opts: { communities?: Community[]; localPref?: number } = {}): BGPRoute {
  const c = parseCIDR(cidr) as CIDR;
  return {
    prefix: { family: c.address.family, value: c.address.value, length: c.prefixLength },
    communities: opts.communities ?? [],
    localPref: opts.localPref,
    services: ['default/svc'],
  };
}

const std = (asn: number, v: number): Community => ({ kind: 'standard', value: ((asn << 16) | v) >>> 0 });
const large = (a: number, b: number, c: number): Community => ({ kind: 'large', globalAdmin: a, localData1: b, localData2: c });
const text = (p: CIDR): string => `${formatIP(p.address)}/${p.prefixLength}`;
const announced = (u: UpdateMessage): string[] => [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])].map(text);
const withdrawn = (u: UpdateMessage): string[] => [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])].map(text);

describe('OPEN', () => {
  it('carries MP IPv4/IPv6, route refresh and 4-octet AS, our hold time and router ID', async () => {
    const s = setup({ routerID: '192.0.2.7', holdTimeSeconds: 9, keepaliveTimeSeconds: 3 });
    s.session.start();
    await settle();
    const open = s.transport.peers[0]!.open()!;
    assert.equal(open.version, 4);
    assert.equal(open.myAs, 64512);
    assert.equal(open.holdTime, 9);
    assert.equal(open.bgpId, 0xc0000207);
    const kinds = open.capabilities.map((c) => (c.kind === 'multiprotocol' ? `mp${c.afi}/${c.safi}` : c.kind));
    assert.deepEqual(kinds, ['mp1/1', 'mp2/1', 'route-refresh', 'four-octet-as']);
    assert.equal(s.session.state, 'OpenSent');
  });

  it('uses the local IPv4 address of the connection as router ID when none is configured', async () => {
    const s = setup();
    s.transport.localAddress = '10.0.0.9';
    s.session.start();
    await settle();
    assert.equal(s.transport.peers[0]!.open()!.bgpId, 0x0a000009);
  });

  it('sends AS_TRANS with the 4-octet ASN in the capability, accepts a 4-octet peer, and encodes AS_PATH in 4 octets', async () => {
    const s = setup({ myASN: 4200000001, peerASN: 4200000002 });
    const peer = await establish(s, { asn: 4200000002 });
    const open = peer.open()!;
    assert.equal(open.myAs, AS_TRANS);
    assert.equal(open.asn, 4200000001);
    s.session.setRoutes([route('10.10.0.1/32')]);
    await settle();
    const u = peer.updates().find((x) => x.nlri.length > 0)!;
    assert.deepEqual(u.attributes.asPath, [{ type: 'sequence', asns: [4200000001] }]);
    assert.equal(s.session.status().peerASN, 4200000002);
  });

  it('talks to a 2-octet-only peer: AS_TRANS in AS_PATH with the real ASN in AS4_PATH', async () => {
    const s = setup({ myASN: 4200000001, peerASN: 65001 });
    const peer = await establish(s, { asn: 65001, capabilities: [] });
    s.session.setRoutes([route('10.10.0.1/32')]);
    await settle();
    const u = peer.updates().find((x) => x.nlri.length > 0)!;
    assert.deepEqual(u.attributes.asPath, [{ type: 'sequence', asns: [AS_TRANS] }]);
    assert.deepEqual(effectiveAsPath(u.attributes), [{ type: 'sequence', asns: [4200000001] }]);
  });

  it('rejects the wrong peer AS with NOTIFICATION 2/2 and closes', async () => {
    const s = setup({ peerASN: 64512 });
    s.session.start();
    await settle();
    const peer = s.transport.peers[0]!;
    peer.sendOpen({ asn: 65000 });
    await settle();
    const n = peer.notifications()[0]!;
    assert.deepEqual([n.code, n.subcode], [2, 2]);
    assert.ok(peer.closed);
    assert.equal(s.session.state, 'Active');
    assert.match(s.session.status().lastError!, /sent NOTIFICATION code 2 .*Bad Peer AS/);
  });

  it('dynamicASN internal accepts only our AS, external only another AS', async () => {
    for (const [dynamicASN, asn, ok] of [
      ['internal', 64512, true],
      ['internal', 65000, false],
      ['external', 65000, true],
      ['external', 64512, false],
    ] as const) {
      const s = setup({ peerASN: undefined, dynamicASN });
      s.session.start();
      await settle();
      const peer = s.transport.peers[0]!;
      peer.sendOpen({ asn });
      peer.sendKeepalive();
      await settle();
      assert.equal(s.session.state, ok ? 'Established' : 'Active', `${dynamicASN} ${asn}`);
      if (!ok) assert.deepEqual([peer.notifications()[0]!.code, peer.notifications()[0]!.subcode], [2, 2]);
    }
  });

  it('announces graceful restart only when enabled, with the F bit for both families', async () => {
    const off = setup();
    off.session.start();
    await settle();
    assert.ok(!off.transport.peers[0]!.open()!.capabilities.some((c) => c.kind === 'graceful-restart'));

    const on = setup({ enableGracefulRestart: true });
    on.session.start();
    await settle();
    const gr = on.transport.peers[0]!.open()!.capabilities.find((c) => c.kind === 'graceful-restart');
    assert.deepEqual(gr, {
      kind: 'graceful-restart',
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [
        { afi: 1, safi: 1, forwardingPreserved: true },
        { afi: 2, safi: 1, forwardingPreserved: true },
      ],
    });
  });
});

describe('hold time and keepalives', () => {
  const cases: [ours: number, keepalive: number, theirs: number, hold: number, keepaliveMs: number][] = [
    [90, 30, 30, 30, 10_000],
    [9, 3, 90, 9, 3000],
    [9, 2, 90, 9, 2000], // a configured keepalive below hold/3 wins
    [90, 30, 3, 3, 1000],
    [90, 30, 0, 0, 0],
    [0, 0, 90, 0, 0],
  ];
  for (const [ours, keepalive, theirs, hold, keepaliveMs] of cases) {
    it(`ours ${ours}/${keepalive}, theirs ${theirs} → hold ${hold} s, keepalive ${keepaliveMs} ms`, async () => {
      const s = setup({ holdTimeSeconds: ours, keepaliveTimeSeconds: keepalive });
      const peer = await establish(s, { holdTime: theirs });
      assert.equal(s.session.status().holdTimeSeconds, hold);
      assert.equal(s.session.status().keepaliveMs, keepaliveMs);
      peer.take();
      // Keep the session alive from the peer's side, count what we send over 60 s.
      for (let t = 0; t < 60; t++) {
        s.clock.advance(1000);
        if (hold > 0 && t % 2 === 0) peer.sendKeepalive();
        await settle(1);
      }
      const expected = keepaliveMs === 0 ? 0 : Math.floor(60_000 / keepaliveMs);
      assert.equal(peer.count('keepalive'), expected);
      assert.equal(s.session.state, 'Established');
    });
  }

  it('rejects a peer hold time of 1 or 2 s with NOTIFICATION 2/6', async () => {
    for (const holdTime of [1, 2]) {
      const s = setup();
      s.session.start();
      await settle();
      const peer = s.transport.peers[0]!;
      // encodeOpen refuses 1–2 s: patch the field of a valid OPEN.
      const buf = encodeOpen({ asn: 64512, holdTime: 90, bgpId: 1, capabilities: [] });
      buf.writeUInt16BE(holdTime, 22);
      peer.sendRaw(buf);
      await settle();
      const n = peer.notifications()[0]!;
      assert.deepEqual([n.code, n.subcode], [2, 6]);
      assert.equal(s.session.state, 'Active');
    }
  });

  it('hold timer expiry sends NOTIFICATION 4/0, closes, and reconnects after 1 s', async () => {
    const s = setup({ holdTimeSeconds: 9, keepaliveTimeSeconds: 3 });
    const peer = await establish(s, { holdTime: 9 });
    s.clock.advance(8999);
    await settle();
    assert.equal(s.session.state, 'Established');
    s.clock.advance(1);
    await settle();
    const n = peer.notifications()[0]!;
    assert.deepEqual([n.code, n.subcode], [4, 0]);
    assert.ok(peer.closed);
    assert.equal(s.session.state, 'Active');
    assert.match(s.session.status().lastError!, /Hold Timer Expired/);
    assert.equal(s.transport.attempts.length, 1);
    s.clock.advance(1000);
    await settle();
    assert.equal(s.transport.attempts.length, 2);
    assert.equal(s.session.state, 'OpenSent');
  });

  it('any message from the peer restarts the hold timer', async () => {
    const s = setup({ holdTimeSeconds: 9, keepaliveTimeSeconds: 3 });
    const peer = await establish(s, { holdTime: 9 });
    for (let i = 0; i < 10; i++) {
      s.clock.advance(5000);
      peer.sendRaw(rawUpdate({}));
      await settle();
    }
    assert.equal(s.session.state, 'Established');
    assert.equal(peer.notifications().length, 0);
  });

  it('a peer that never sends its OPEN is dropped after the 4-minute OpenSent hold timer', async () => {
    const s = setup();
    s.session.start();
    await settle();
    s.clock.advance(239_999);
    await settle();
    assert.equal(s.session.state, 'OpenSent');
    s.clock.advance(1);
    await settle();
    assert.deepEqual([s.transport.peers[0]!.notifications()[0]!.code], [4]);
  });
});

describe('connect retry', () => {
  it('backs off 1, 2, 4 … 120 s and resets once Established', async () => {
    const s2 = setup();
    s2.transport.answer = () => 'refuse';
    s2.session.start();
    await settle();
    for (let i = 0; i < 600; i++) {
      s2.clock.advance(1000);
      await settle(1);
    }
    const at = s2.transport.attempts.map((a) => a.at / 1000);
    const diffs = at.slice(1).map((t, i) => t - at[i]!);
    assert.deepEqual(diffs.slice(0, 10), [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
    assert.equal(s2.session.state, 'Active');
    assert.match(s2.session.status().lastError!, /ECONNREFUSED/);

    // Established, then dropped: the next attempt comes 1 s later.
    s2.transport.acceptAll();
    s2.clock.advance(120_000);
    await settle();
    const peer = s2.transport.peers.at(-1)!;
    peer.sendOpen();
    peer.sendKeepalive();
    await settle();
    assert.equal(s2.session.state, 'Established');
    const before = s2.transport.attempts.length;
    peer.close();
    await settle();
    assert.equal(s2.session.state, 'Active');
    s2.transport.answer = () => 'refuse';
    s2.clock.advance(999);
    await settle();
    assert.equal(s2.transport.attempts.length, before);
    s2.clock.advance(1);
    await settle();
    assert.equal(s2.transport.attempts.length, before + 1);
    s2.clock.advance(2000);
    await settle();
    assert.equal(s2.transport.attempts.length, before + 2);
  });

  it('gives up a TCP connect after connectTime and retries', async () => {
    const s = setup({ connectTimeSeconds: 5 });
    s.transport.answer = () => 'hang';
    s.session.start();
    await settle();
    assert.equal(s.session.state, 'Connect');
    s.clock.advance(4999);
    await settle();
    assert.equal(s.session.state, 'Connect');
    s.clock.advance(1);
    await settle();
    assert.equal(s.session.state, 'Active');
    assert.match(s.session.status().lastError!, /timed out after 5000 ms/);
    s.clock.advance(1000);
    await settle();
    assert.equal(s.transport.attempts.length, 2);
  });

  it('binds the source address, uses the peer port, MD5 key and TTL 1 for single-hop eBGP', async () => {
    const s = setup({ peerASN: 65000, sourceAddress: '10.0.0.1', peerPort: 1179, password: 'sekrit' });
    s.session.start();
    await settle();
    const r = s.transport.attempts[0]!.request;
    assert.deepEqual([r.peer, r.port, r.local, r.key, r.ttl], ['10.0.0.2', 1179, '10.0.0.1', 'sekrit', 1]);
    const multi = setup({ peerASN: 65000, ebgpMultiHop: true });
    multi.session.start();
    await settle();
    assert.equal(multi.transport.attempts[0]!.request.ttl, 255);
    const ibgp = setup();
    ibgp.session.start();
    await settle();
    assert.equal(ibgp.transport.attempts[0]!.request.ttl, undefined);
  });
});

describe('what the native speaker cannot do', () => {
  it('a peer in a VRF stays Idle and says why', async () => {
    const s = setup({ vrf: 'red' });
    s.session.start();
    await settle();
    assert.equal(s.session.state, 'Idle');
    assert.equal(s.transport.attempts.length, 0);
    assert.match(s.session.status().lastError!, /VRF "red" is not supported/);
  });
});

describe('connection collision (RFC 4271 §6.8)', () => {
  for (const [ourId, theirId, survivor] of [
    ['10.0.0.1', 0x0a0000fe, 'in'],
    ['10.0.0.200', 0x0a000002, 'out'],
  ] as const) {
    it(`our id ${ourId}, theirs ${theirId.toString(16)}: the ${survivor === 'in' ? 'peer' : 'our'}-initiated connection survives`, async () => {
      const s = setup({ routerID: ourId });
      s.session.start();
      await settle();
      const outgoing = s.transport.peers[0]!;
      // The peer dials us too.
      const [local, remote] = memoryPair('10.0.0.1', '10.0.0.2');
      const incoming = new FakePeer(remote);
      assert.equal(s.session.accept(local), true);
      await settle();
      assert.ok(incoming.open());
      // OPEN on the outgoing connection first: it reaches OpenConfirm.
      outgoing.sendOpen({ bgpId: theirId });
      await settle();
      assert.equal(s.session.state, 'OpenConfirm');
      // Then OPEN on the incoming one: collision, resolved by identifier.
      incoming.sendOpen({ bgpId: theirId });
      await settle();
      const [loser, winner] = survivor === 'in' ? [outgoing, incoming] : [incoming, outgoing];
      assert.deepEqual(
        loser.notifications().map((n) => [n.code, n.subcode]),
        [[6, 7]],
      );
      assert.ok(loser.closed);
      assert.equal(winner.notifications().length, 0);
      winner.sendKeepalive();
      await settle();
      assert.equal(s.session.state, 'Established');
      assert.ok(!winner.closed);
    });
  }

  it('a new connection while Established is closed with Cease 7', async () => {
    const s = setup();
    const peer = await establish(s);
    const [local, remote] = memoryPair('10.0.0.1', '10.0.0.2');
    const second = new FakePeer(remote);
    s.session.accept(local);
    await settle();
    second.sendOpen();
    await settle();
    assert.deepEqual(second.notifications().map((n) => [n.code, n.subcode]), [[6, 7]]);
    assert.equal(s.session.state, 'Established');
    assert.equal(peer.notifications().length, 0);
  });

  it('takes an incoming connection while its own attempts fail', async () => {
    const s = setup();
    s.transport.answer = () => 'refuse';
    s.session.start();
    await settle();
    assert.equal(s.session.state, 'Active');
    const [local, remote] = memoryPair('10.0.0.1', '10.0.0.2');
    const peer = new FakePeer(remote);
    s.session.accept(local);
    await settle();
    peer.sendOpen();
    peer.sendKeepalive();
    await settle();
    assert.equal(s.session.state, 'Established');
    // No retry timer left running.
    const attempts = s.transport.attempts.length;
    for (let i = 0; i < 20; i++) {
      s.clock.advance(30_000);
      peer.sendKeepalive();
      await settle(1);
    }
    assert.equal(s.transport.attempts.length, attempts);
    assert.equal(s.session.state, 'Established');
  });
});

describe('malformed and unexpected messages', () => {
  const cases: [string, Buffer, [number, number]][] = [
    ['bad marker', Buffer.concat([hex('00'.repeat(16)), hex('0013 04')]), [1, 1]],
    ['bad length', Buffer.concat([hex('ff'.repeat(16)), hex('0012 04')]), [1, 2]],
    ['bad type', frame(9), [1, 3]],
    ['KEEPALIVE with a body', frame(4, '00'), [1, 2]],
    ['UPDATE with a truncated attribute list', rawUpdate({ attrs: '400101' }), [3, 1]],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`${name} → NOTIFICATION ${expected.join('/')}`, async () => {
      const s = setup();
      const peer = await establish(s);
      peer.sendRaw(bytes);
      await settle();
      const n = peer.notifications().at(-1)!;
      assert.deepEqual([n.code, n.subcode], expected);
      assert.ok(peer.closed);
      assert.equal(s.session.state, 'Active');
    });
  }

  it('UPDATE in OpenSent → 5/1, OPEN in Established → 5/3, KEEPALIVE in OpenSent → 5/1', async () => {
    const a = setup();
    a.session.start();
    await settle();
    a.transport.peers[0]!.sendRaw(rawUpdate({}));
    await settle();
    assert.deepEqual(a.transport.peers[0]!.notifications().map((n) => [n.code, n.subcode]), [[5, 1]]);

    const b = setup();
    const peer = await establish(b);
    peer.sendOpen();
    await settle();
    assert.deepEqual(peer.notifications().map((n) => [n.code, n.subcode]), [[5, 3]]);

    const c = setup();
    c.session.start();
    await settle();
    c.transport.peers[0]!.sendKeepalive();
    await settle();
    assert.deepEqual(c.transport.peers[0]!.notifications().map((n) => [n.code, n.subcode]), [[5, 1]]);
  });

  it('a NOTIFICATION from the peer closes the session and is the last error', async () => {
    const s = setup();
    const peer = await establish(s);
    peer.sendNotification({ code: 6, subcode: 2, shutdownCommunication: 'maintenance' });
    await settle();
    assert.equal(s.session.state, 'Active');
    assert.equal(s.session.status().lastError, 'received NOTIFICATION code 6 (Cease) subcode 2 (Administrative Shutdown): "maintenance"');
    assert.equal(peer.notifications().length, 0);
  });
});

describe('routes', () => {
  it('sends the full table and End-of-RIB once Established, with iBGP attributes', async () => {
    const s = setup({}, { ipv6NextHop: 'fd00::1' });
    s.session.setRoutes([
      route('10.10.0.1/32', { communities: [std(64512, 7), large(64512, 1, 2)], localPref: 200 }),
      route('10.10.0.2/32'),
      route('fd10::1/128', { communities: [std(64512, 7)] }),
    ]);
    const peer = await establish(s);
    const updates = peer.updates();
    const eor = updates.map(endOfRibFamily).filter(Boolean);
    assert.deepEqual(eor, ['IPv4', 'IPv6']);
    // End-of-RIB comes after the table.
    assert.ok(updates.findIndex((u) => endOfRibFamily(u) !== undefined) > updates.findIndex((u) => announced(u).length > 0));
    const u1 = updates.find((u) => announced(u).includes('10.10.0.1/32'))!;
    assert.equal(u1.attributes.origin, 'igp');
    assert.deepEqual(u1.attributes.asPath, []);
    assert.equal(formatIP(u1.attributes.nextHop!), '10.0.0.1');
    assert.equal(u1.attributes.localPref, 200);
    assert.deepEqual(u1.attributes.communities, [((64512 << 16) | 7) >>> 0]);
    assert.deepEqual(u1.attributes.largeCommunities, [{ kind: 'large', globalAdmin: 64512, localData1: 1, localData2: 2 }]);
    const u2 = updates.find((u) => announced(u).includes('10.10.0.2/32'))!;
    assert.equal(u2.attributes.localPref, 100);
    assert.equal(u2.attributes.communities, undefined);
    const u6 = updates.find((u) => announced(u).includes('fd10::1/128'))!;
    assert.equal(formatIP(u6.attributes.mpReach!.nextHop.global), 'fd00::1');
    assert.equal(u6.attributes.nextHop, undefined);
    const st = s.session.status();
    assert.equal(st.prefixesSent, 3);
    assert.equal(st.pendingPrefixes, 0);
    assert.equal(st.updatesSent, updates.length);
  });

  it('eBGP: AS_PATH [myASN], no LOCAL_PREF', async () => {
    const s = setup({ peerASN: 65000 });
    s.session.setRoutes([route('10.10.0.1/32', { localPref: 200 })]);
    const peer = await establish(s, { asn: 65000 });
    const u = peer.updates().find((x) => x.nlri.length > 0)!;
    assert.deepEqual(u.attributes.asPath, [{ type: 'sequence', asns: [64512] }]);
    assert.equal(u.attributes.localPref, undefined);
  });

  it('a route change sends only UPDATEs (no reset), withdrawals batched', async () => {
    const s = setup();
    const many = Array.from({ length: 500 }, (_, i) => route(`10.20.${i >> 8}.${i & 255}/32`));
    s.session.setRoutes(many);
    const peer = await establish(s);
    const firstUpdates = peer.updates().filter((u) => announced(u).length > 0);
    assert.ok(firstUpdates.length <= 2, `500 prefixes packed into ${firstUpdates.length} UPDATEs`);
    peer.take();

    s.session.setRoutes([...many.slice(0, 100), route('10.30.0.1/32', { communities: [std(1, 1)] })]);
    await settle();
    const got = peer.take();
    assert.ok(got.every((m) => m.type === 'update'), 'only UPDATEs');
    const updates = got as UpdateMessage[];
    assert.equal(updates.flatMap(withdrawn).length, 400);
    assert.ok(updates.filter((u) => withdrawn(u).length > 0).length <= 1, 'withdrawals share an UPDATE');
    assert.deepEqual(updates.flatMap(announced), ['10.30.0.1/32']);
    assert.equal(s.session.state, 'Established');
    assert.equal(s.session.status().establishedCount, 1);
    assert.equal(s.session.status().prefixesSent, 101);

    // Same routes again: nothing to send. Changed communities: re-announced, not withdrawn.
    s.session.setRoutes([...many.slice(0, 100), route('10.30.0.1/32', { communities: [std(1, 1)] })]);
    await settle();
    assert.equal(peer.take().length, 0);
    s.session.setRoutes([...many.slice(0, 100), route('10.30.0.1/32', { communities: [std(1, 2)] })]);
    await settle();
    const changed = peer.take() as UpdateMessage[];
    assert.deepEqual(changed.flatMap(announced), ['10.30.0.1/32']);
    assert.deepEqual(changed.flatMap(withdrawn), []);
  });

  it('IPv6 routes on an IPv4 session without an IPv6 next hop are held back and say so', async () => {
    const s = setup();
    s.session.setRoutes([route('10.10.0.1/32'), route('fd10::1/128')]);
    const peer = await establish(s);
    assert.deepEqual(peer.updates().flatMap(announced), ['10.10.0.1/32']);
    const st = s.session.status();
    assert.equal(st.pendingPrefixes, 1);
    assert.match(st.lastError!, /1 IPv6 route\(s\) not advertised: no IPv6 next hop/);
  });

  it('on an IPv6 session: IPv6 next hop = local address, IPv4 routes need ipv4NextHop', async () => {
    for (const ipv4NextHop of ['10.0.0.1', undefined]) {
      const s = setup({ peerAddress: 'fd00::2', peerFamily: 'IPv6' }, { ipv4NextHop });
      s.transport.localAddress = 'fd00::1';
      s.session.setRoutes([route('10.10.0.1/32'), route('fd10::1/128')]);
      const peer = await establish(s, { bgpId: 0x0a0000fe });
      const u6 = peer.updates().find((u) => announced(u).includes('fd10::1/128'))!;
      assert.equal(formatIP(u6.attributes.mpReach!.nextHop.global), 'fd00::1');
      const u4 = peer.updates().find((u) => announced(u).includes('10.10.0.1/32'));
      if (ipv4NextHop) {
        assert.equal(formatIP(u4!.attributes.nextHop!), ipv4NextHop);
      } else {
        assert.equal(u4, undefined);
        assert.match(s.session.status().lastError!, /IPv4 route\(s\) not advertised: no IPv4 next hop on this IPv6 session/);
      }
    }
  });

  it('routes of a family the peer did not negotiate are held back', async () => {
    const s = setup({}, { ipv6NextHop: 'fd00::1' });
    s.session.setRoutes([route('10.10.0.1/32'), route('fd10::1/128')]);
    const peer = await establish(s, { capabilities: [multiprotocolCapability('IPv4'), fourOctetAsCapability(64512)] });
    assert.deepEqual(peer.updates().flatMap(announced), ['10.10.0.1/32']);
    assert.deepEqual(peer.updates().map(endOfRibFamily).filter(Boolean), ['IPv4']);
    assert.match(s.session.status().lastError!, /did not negotiate IPv6/);
  });

  it('ROUTE-REFRESH from the peer → the full table again', async () => {
    const s = setup({}, { ipv6NextHop: 'fd00::1' });
    s.session.setRoutes([route('10.10.0.1/32'), route('10.10.0.2/32'), route('fd10::1/128')]);
    const peer = await establish(s);
    peer.take();
    peer.sendRouteRefresh('IPv4');
    await settle();
    assert.deepEqual(peer.take().flatMap((m) => (m.type === 'update' ? announced(m) : [])).sort(), ['10.10.0.1/32', '10.10.0.2/32']);
    peer.sendRouteRefresh('IPv6');
    await settle();
    assert.deepEqual(peer.take().flatMap((m) => (m.type === 'update' ? announced(m) : [])), ['fd10::1/128']);
  });

  it('received UPDATEs (even treat-as-withdraw ones) are ignored without a reset', async () => {
    const s = setup();
    const peer = await establish(s);
    peer.sendRaw(rawUpdate({ attrs: '40010100 400200 400304 0a000002', nlri: '200a630001' }));
    peer.sendRaw(rawUpdate({ attrs: '40010100 400200 400305 0a00000201', nlri: '200a630002' })); // bad NEXT_HOP length
    await settle();
    assert.equal(s.session.state, 'Established');
    assert.equal(peer.notifications().length, 0);
    assert.equal(s.session.status().updatesReceived, 2);
  });

  it('stop() withdraws everything, then sends Cease 6/2 with the shutdown message', async () => {
    const s = setup({}, { ipv6NextHop: 'fd00::1' });
    s.session.setRoutes([route('10.10.0.1/32'), route('fd10::1/128')]);
    const peer = await establish(s);
    peer.take();
    await s.session.stop({ subcode: 2, message: 'node drained', withdraw: true });
    const got = peer.take();
    assert.deepEqual(got.flatMap((m) => (m.type === 'update' ? withdrawn(m) : [])).sort(), ['10.10.0.1/32', 'fd10::1/128']);
    const n = got.at(-1)!;
    assert.equal(n.type, 'notification');
    assert.deepEqual([n.code, n.subcode, n.shutdownCommunication], [6, 2, 'node drained']);
    assert.ok(peer.closed);
    assert.equal(s.session.state, 'Idle');
    // No reconnect after a stop.
    s.clock.advance(600_000);
    await settle();
    assert.equal(s.transport.attempts.length, 1);
  });
});

describe('BFD', () => {
  class FakeBfd implements BfdFactory {
    handles: { peer: string; local: string; state: BfdState; listeners: ((s: BfdState, d: string) => void)[]; closed: boolean }[] = [];
    open(peer: string, local: string): BfdSessionHandle {
      const h = { peer, local, state: 'Down' as BfdState, listeners: [] as ((s: BfdState, d: string) => void)[], closed: false };
      this.handles.push(h);
      return {
        state: () => h.state,
        onStateChange: (l) => h.listeners.push(l),
        close: () => (h.closed = true),
      };
    }
    set(i: number, state: BfdState): void {
      const h = this.handles[i]!;
      h.state = state;
      for (const l of h.listeners) l(state, 'control detection time expired');
    }
  }
  const profile = { name: 'fast', receiveIntervalMs: 300, transmitIntervalMs: 300, detectMultiplier: 3, echoIntervalMs: 50, echoMode: false, passiveMode: false, minimumTtl: 254 };

  it('opens BFD once Established; BFD Down after Up closes with Cease 10 and reconnects', async () => {
    const bfd = new FakeBfd();
    const s = setup({ bfdProfile: 'fast' }, { bfd, bfdProfile: profile });
    const peer = await establish(s);
    assert.equal(bfd.handles.length, 1);
    assert.deepEqual([bfd.handles[0]!.peer, bfd.handles[0]!.local], ['10.0.0.2', '10.0.0.1']);
    assert.equal(s.session.status().bfdState, 'Down');
    bfd.set(0, 'Down'); // not Up yet: no effect
    await settle();
    assert.equal(s.session.state, 'Established');
    bfd.set(0, 'Up');
    assert.equal(s.session.status().bfdState, 'Up');
    bfd.set(0, 'Down');
    await settle();
    assert.deepEqual(peer.notifications().map((n) => [n.code, n.subcode]), [[6, 10]]);
    assert.ok(bfd.handles[0]!.closed);
    assert.equal(s.session.state, 'Active');
    s.clock.advance(1000);
    await settle();
    assert.equal(s.transport.attempts.length, 2);
  });
});
