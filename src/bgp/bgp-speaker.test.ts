// The driver: desired peers and routes in, sessions and UPDATEs out, in virtual time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../clock/clock.ts';
import type { BGPPeer, Community } from '../config/model.ts';
import { formatIP, parseCIDR, type CIDR } from '../net/address.ts';
import type { BGPRoute } from '../speaker/plan.ts';
import { BGPSpeaker } from './bgp-speaker.ts';
import type { UpdateMessage } from './codec/index.ts';
import { FakePeer, memoryPair, MemoryTransport, settle, testPeer } from './fake-peer.test-support.ts';

function route(cidr: string, communities: Community[] = [], localPref?: number): BGPRoute {
  const c = parseCIDR(cidr) as CIDR;
  return { prefix: { family: c.address.family, value: c.address.value, length: c.prefixLength }, communities, localPref, services: ['ns/svc'] };
}
const text = (p: CIDR): string => `${formatIP(p.address)}/${p.prefixLength}`;
const announced = (u: UpdateMessage): string[] => [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])].map(text);
const withdrawn = (u: UpdateMessage): string[] => [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])].map(text);

function setup(localAddress = '10.0.0.1') {
  const clock = new FakeClock();
  const transport = new MemoryTransport(clock);
  transport.localAddress = localAddress;
  transport.acceptAll();
  const speaker = new BGPSpeaker({ clock, transport, listen: false, ipv6NextHop: 'fd00::1' });
  return { clock, transport, speaker };
}

/** Completes the OPEN exchange on every peer that has not sent its OPEN yet. */
async function handshake(transport: MemoryTransport, asnOf: (address: string) => number = () => 64512): Promise<void> {
  await settle();
  for (const p of transport.peers) {
    if (p.closed || p.received.length === 0 || p.notifications().length > 0) continue;
    if (p.count('keepalive') > 0) continue;
    p.sendOpen({ asn: asnOf(p.conn.localAddress) });
    p.sendKeepalive();
  }
  await settle();
}

const noProfiles = new Map();
const routesFor = (name: string, routes: BGPRoute[]): Map<string, BGPRoute[]> => new Map([[name, routes]]);

describe('BGPSpeaker', () => {
  it('one session per peer; a route change only sends UPDATEs', async () => {
    const { transport, speaker } = setup();
    const a = testPeer({ name: 'a', peerAddress: '10.0.0.2' });
    const b = testPeer({ name: 'b', peerAddress: '10.0.0.3', peerASN: 65000 });
    let changes = 0;
    speaker.onStatusChange(() => changes++);
    speaker.apply([a, b], new Map([['a', [route('10.10.0.1/32')]], ['b', [route('10.10.0.2/32')]]]), noProfiles);
    await handshake(transport, (address) => (address === '10.0.0.3' ? 65000 : 64512));
    assert.deepEqual(speaker.status().map((s) => [s.peer, s.state, s.prefixesSent]), [
      ['a', 'Established', 1],
      ['b', 'Established', 1],
    ]);
    assert.ok(changes > 0);
    const [pa, pb] = transport.peers;
    assert.deepEqual(pa!.updates().flatMap(announced), ['10.10.0.1/32']);
    assert.deepEqual(pb!.updates().flatMap(announced), ['10.10.0.2/32']);
    pa!.take();
    pb!.take();

    speaker.apply([a, b], new Map([['a', [route('10.10.0.1/32'), route('10.10.0.9/32')]], ['b', []]]), noProfiles);
    await settle();
    const ga = pa!.take();
    const gb = pb!.take();
    assert.ok([...ga, ...gb].every((m) => m.type === 'update'));
    assert.deepEqual((ga as UpdateMessage[]).flatMap(announced), ['10.10.0.9/32']);
    assert.deepEqual((gb as UpdateMessage[]).flatMap(withdrawn), ['10.10.0.2/32']);
    assert.equal(transport.attempts.length, 2, 'no reconnect');
    assert.deepEqual(speaker.status().map((s) => s.establishedCount), [1, 1]);
  });

  it('a changed peer is torn down (Cease 6/6) and rebuilt; a removed one is withdrawn and closed (Cease 6/3)', async () => {
    const { transport, speaker } = setup();
    const a = testPeer({ name: 'a', peerAddress: '10.0.0.2' });
    const b = testPeer({ name: 'b', peerAddress: '10.0.0.3' });
    speaker.apply([a, b], new Map([['a', [route('10.10.0.1/32')]], ['b', [route('10.10.0.2/32')]]]), noProfiles);
    await handshake(transport);
    const [pa, pb] = transport.peers;
    // Node selectors are not session parameters: no reset.
    speaker.apply([{ ...a, nodeSelectors: [{ matchLabels: { x: 'y' }, matchExpressions: [] }] as unknown as BGPPeer['nodeSelectors'] }, b], new Map([['a', [route('10.10.0.1/32')]], ['b', [route('10.10.0.2/32')]]]), noProfiles);
    await settle();
    assert.equal(pa!.notifications().length, 0);

    const liveA = (): FakePeer => transport.peers.filter((p) => p.conn.localAddress === '10.0.0.2' && !p.closed).at(-1)!;
    const both = new Map([['a', [route('10.10.0.1/32')]], ['b', [route('10.10.0.2/32')]]]);
    for (const change of [{ holdTimeSeconds: 30 }, { password: 'x' }, { peerPort: 1179 }, { enableGracefulRestart: true }, { routerID: '1.2.3.4' }, { ebgpMultiHop: true }]) {
      for (const next of [{ ...a, ...change }, a]) {
        const old = liveA();
        const before = transport.peers.length;
        speaker.apply([next, b], both, noProfiles);
        await settle();
        assert.deepEqual(old.notifications().map((n) => [n.code, n.subcode]), [[6, 6]], JSON.stringify(change));
        assert.equal(transport.peers.length, before + 1, 'a new connection');
        await handshake(transport);
        assert.deepEqual(liveA().updates().flatMap(announced), ['10.10.0.1/32']);
      }
    }
    assert.equal(pb!.notifications().length, 0, 'the other peer is untouched');

    pb!.take();
    speaker.apply([a], new Map([['a', [route('10.10.0.1/32')]]]), noProfiles);
    await settle();
    const got = pb!.take();
    assert.deepEqual(got.flatMap((m) => (m.type === 'update' ? withdrawn(m) : [])), ['10.10.0.2/32']);
    assert.deepEqual(got.filter((m) => m.type === 'notification').map((n) => n.type === 'notification' && [n.code, n.subcode]), [[6, 3]]);
    assert.deepEqual(speaker.status().map((s) => s.peer), ['a']);
  });

  it('every speaker sends identical attributes for a shared prefix, except the next hop', async () => {
    const routes = [route('10.10.0.1/32', [{ kind: 'standard', value: 0xfde80001 }, { kind: 'large', globalAdmin: 64512, localData1: 1, localData2: 1 }], 150), route('fd10::1/128')];
    const attrs: unknown[] = [];
    for (const local of ['10.0.0.11', '10.0.0.12', '10.0.0.13']) {
      const { transport, speaker } = setup(local);
      speaker.apply([testPeer({ name: 'r' })], routesFor('r', routes), noProfiles);
      await handshake(transport);
      const updates = transport.peers[0]!.updates().filter((u) => announced(u).length > 0);
      attrs.push(
        updates.map((u) => {
          const { nextHop: _nh, mpReach, ...rest } = u.attributes;
          return { ...rest, mpReachFamily: mpReach?.afi };
        }),
      );
      assert.equal(formatIP(updates[0]!.attributes.nextHop!), local);
    }
    assert.deepEqual(attrs[1], attrs[0]);
    assert.deepEqual(attrs[2], attrs[0]);
  });

  it('takes connections the peer opens, refuses unknown ones', async () => {
    const { transport, speaker } = setup();
    transport.answer = () => 'refuse';
    speaker.apply([testPeer({ name: 'a', peerAddress: '10.0.0.2' })], routesFor('a', [route('10.10.0.1/32')]), noProfiles);
    await settle();
    const [local, remote] = memoryPair('10.0.0.1', '::ffff:10.0.0.2');
    const peer = new FakePeer(remote);
    speaker.onIncoming(local);
    await settle();
    peer.sendOpen();
    peer.sendKeepalive();
    await settle();
    assert.equal(speaker.status()[0]!.state, 'Established');
    assert.deepEqual(peer.updates().flatMap(announced), ['10.10.0.1/32']);

    const [l2, r2] = memoryPair('10.0.0.1', '10.0.0.77');
    const stranger = new FakePeer(r2);
    speaker.onIncoming(l2);
    await settle();
    assert.ok(stranger.closed);
    assert.equal(stranger.received.length, 0);
  });

  it('stop() withdraws everything and sends Cease 6/2 with a shutdown message to every peer', async () => {
    const { transport, speaker } = setup();
    const peers = [testPeer({ name: 'a', peerAddress: '10.0.0.2' }), testPeer({ name: 'b', peerAddress: '10.0.0.3' })];
    speaker.apply(peers, new Map([['a', [route('10.10.0.1/32')]], ['b', [route('10.10.0.1/32'), route('fd10::1/128')]]]), noProfiles);
    await handshake(transport);
    for (const p of transport.peers) p.take();
    await speaker.stop();
    for (const p of transport.peers) {
      const got = p.take();
      const w = got.flatMap((m) => (m.type === 'update' ? withdrawn(m) : []));
      assert.ok(w.includes('10.10.0.1/32'));
      const n = got.at(-1)!;
      assert.ok(n.type === 'notification');
      assert.deepEqual([n.code, n.subcode, n.shutdownCommunication], [6, 2, 'IronLB speaker shutting down']);
      assert.ok(p.closed);
    }
    assert.deepEqual(speaker.status().map((s) => s.state), ['Idle', 'Idle']);
    // apply() after stop does nothing.
    speaker.apply(peers, new Map(), noProfiles);
    await settle();
    assert.equal(transport.attempts.length, 2);
  });

  it('counts updates and pending prefixes for the metrics', async () => {
    const { transport, speaker } = setup();
    const routes = Array.from({ length: 2000 }, (_, i) => route(`10.${40 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`));
    speaker.apply([testPeer({ name: 'a' })], routesFor('a', routes), noProfiles);
    await settle();
    assert.equal(speaker.status()[0]!.pendingPrefixes, 2000);
    await handshake(transport);
    const st = speaker.status()[0]!;
    assert.equal(st.prefixesSent, 2000);
    assert.equal(st.pendingPrefixes, 0);
    // 2000 × 5 bytes in 4096-byte UPDATEs: 3 messages, plus 2 End-of-RIB.
    assert.equal(st.updatesSent, transport.peers[0]!.updates().length);
    assert.ok(st.updatesSent <= 5, `${st.updatesSent} UPDATEs`);
  });
});
