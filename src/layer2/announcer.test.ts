// The announcer without a network: fake packet sockets and interfaces, virtual time. Real frames through
// real namespaces are in test/layer2/announcer.test.ts.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { FakeClock } from '../clock/clock.ts';
import { silentLogger } from '../log/logger.ts';
import { parseIP, type IPAddress } from '../net/address.ts';
import { neighborSolicitationFilter, type PacketSocketOptions, type PacketType } from '../net/packet-socket.ts';
import { Layer2Announcer, type L2Metrics, type L2Socket, type L2Target, type Layer2AnnouncerOptions } from './announcer.ts';
import type { Ipv6GroupMembership } from './announcer-multicast.ts';
import { decodeArpFrame, encodeArpFrame, type ArpPacket } from './arp.ts';
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV6, ZERO_MAC } from './ethernet.ts';
import type { LinkFacts } from './interfaces.ts';
import {
  ALL_NODES_MAC,
  decodeNdpFrame,
  encodeIpv6Frame,
  encodeNeighborSolicitation,
  solicitedNodeMac,
  solicitedNodeMulticast,
  type NeighborAdvertisement,
} from './ndp.ts';

const ip = (text: string): IPAddress => parseIP(text)!;
const target = (text: string, interfaces: string[] = []): L2Target => ({ ip: ip(text), interfaces });

const CLIENT_MAC = '02:00:00:00:00:99';
const CLIENT4 = '10.0.0.9';
const CLIENT6 = 'fd00::9';
const VIP4 = '10.0.0.100';
const VIP6 = 'fd00::100';

class FakeSocket implements L2Socket {
  readonly sent: Buffer[] = [];
  readonly groups = new Set<string>();
  closed = false;
  failSend: string | undefined;
  #frame: ((frame: Buffer, packetType: PacketType) => void) | undefined;
  #error: ((error: Error & { code?: string | undefined }) => void) | undefined;
  constructor(
    readonly ifname: string,
    readonly etherType: number,
    readonly options: PacketSocketOptions,
  ) {}
  onFrame(listener: (frame: Buffer, packetType: PacketType) => void): this {
    this.#frame = listener;
    return this;
  }
  onError(listener: (error: Error & { code?: string | undefined }) => void): this {
    this.#error = listener;
    return this;
  }
  send(frame: Uint8Array): void {
    assert.ok(!this.closed, 'send on a closed socket');
    if (this.failSend) throw Object.assign(new Error(this.failSend), { code: this.failSend });
    this.sent.push(Buffer.from(frame));
  }
  join(mac: string): void {
    this.groups.add(mac);
  }
  leave(mac: string): void {
    this.groups.delete(mac);
  }
  close(): void {
    this.closed = true;
    this.groups.clear();
  }
  deliver(frame: Uint8Array, packetType: PacketType = 'broadcast'): void {
    assert.ok(!this.closed, 'frame delivered to a closed socket');
    this.#frame!(Buffer.from(frame), packetType);
  }
  fail(code: string): void {
    this.#error!(Object.assign(new Error(code), { code }));
  }
  /** Sent frames, then forget them. */
  take(): Buffer[] {
    return this.sent.splice(0);
  }
}

const eth = (name: string, n: number, extra: Partial<LinkFacts> = {}): LinkFacts => ({
  name,
  ifindex: n,
  mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  up: true,
  loopback: false,
  noarp: false,
  slave: false,
  master: undefined,
  ...extra,
});

class Counts implements L2Metrics {
  readonly c = new Map<string, number>();
  #inc(k: string): void {
    this.c.set(k, (this.c.get(k) ?? 0) + 1);
  }
  requestReceived(ip: string): void {
    this.#inc(`request ${ip}`);
  }
  responseSent(ip: string): void {
    this.#inc(`response ${ip}`);
  }
  gratuitousSent(ip: string): void {
    this.#inc(`gratuitous ${ip}`);
  }
  badFrame(iface: string, reason: string): void {
    this.#inc(`bad ${iface} ${reason}`);
  }
  get(k: string): number {
    return this.c.get(k) ?? 0;
  }
}

/** A node with interfaces, sockets and IPv6 memberships, all fake. */
class World {
  readonly clock = new FakeClock();
  readonly metrics = new Counts();
  readonly links = new Map<string, LinkFacts>();
  readonly sockets: FakeSocket[] = [];
  readonly ipGroups = new Set<string>();
  readonly inspected: string[] = [];
  openFails = new Map<string, string>();
  readonly announcer: Layer2Announcer;
  constructor(links: LinkFacts[], opts: Partial<Layer2AnnouncerOptions> = {}) {
    for (const l of links) this.links.set(l.name, l);
    const groups: Ipv6GroupMembership = {
      join: (g, i) => void this.ipGroups.add(`${i} ${g}`),
      leave: (g, i) => void this.ipGroups.delete(`${i} ${g}`),
      close: async () => this.ipGroups.clear(),
    };
    this.announcer = new Layer2Announcer({
      log: silentLogger(),
      clock: this.clock,
      metrics: this.metrics,
      listInterfaces: () => ['lo', ...this.links.keys()],
      inspectInterface: (name) => {
        this.inspected.push(name);
        return name === 'lo' ? { ...eth('lo', 1), loopback: true, mac: '00:00:00:00:00:00' } : this.links.get(name);
      },
      openSocket: (name, etherType, options) => {
        const fail = this.openFails.get(name);
        if (fail) throw Object.assign(new Error(fail), { code: fail });
        const s = new FakeSocket(name, etherType, options);
        this.sockets.push(s);
        return s;
      },
      ipv6Groups: groups,
      ...opts,
    });
  }
  /** The open socket on ifname for etherType. */
  open(ifname: string, etherType: number): FakeSocket | undefined {
    const open = this.sockets.filter((s) => s.ifname === ifname && s.etherType === etherType && !s.closed);
    assert.ok(open.length <= 1, `${open.length} open sockets on ${ifname}`);
    return open[0];
  }
  arp(ifname: string): FakeSocket {
    const s = this.open(ifname, ETHERTYPE_ARP);
    assert.ok(s, `no ARP socket on ${ifname}`);
    return s;
  }
  ndp(ifname: string): FakeSocket {
    const s = this.open(ifname, ETHERTYPE_IPV6);
    assert.ok(s, `no IPv6 socket on ${ifname}`);
    return s;
  }
  openSockets(): string[] {
    return this.sockets
      .filter((s) => !s.closed)
      .map((s) => `${s.ifname}/${s.etherType === ETHERTYPE_ARP ? 'arp' : 'ipv6'}`)
      .sort();
  }
}

const arpRequest = (targetIp: string, extra: Partial<ArpPacket> = {}): Buffer =>
  encodeArpFrame(
    { operation: 'request', senderMac: CLIENT_MAC, senderIp: CLIENT4, targetMac: ZERO_MAC, targetIp, ...extra },
    { source: CLIENT_MAC, destination: BROADCAST_MAC },
  );

const neighborSolicitation = (targetIp: string, source = CLIENT6): Buffer =>
  encodeIpv6Frame(
    encodeNeighborSolicitation({ source, target: targetIp, ...(source === '::' ? {} : { sourceLinkLayer: CLIENT_MAC }) }),
    { source: CLIENT_MAC, destination: solicitedNodeMac(targetIp) },
  );

const arpOf = (frame: Buffer): ArpPacket & { ethSource: string; ethDestination: string } => {
  const d = decodeArpFrame(frame);
  assert.ok(d.ok, 'not an ARP frame');
  return { ...d.value.arp, ethSource: d.value.ethernet.source, ethDestination: d.value.ethernet.destination };
};

const naOf = (frame: Buffer): NeighborAdvertisement & { ethSource: string; ethDestination: string } => {
  const d = decodeNdpFrame(frame);
  assert.ok(d.ok, d.ok ? '' : d.error.reason);
  assert.equal(d.value.message.type, 'neighbor-advertisement');
  return { ...(d.value.message as NeighborAdvertisement), ethSource: d.value.ethernet.source, ethDestination: d.value.ethernet.destination };
};

describe('Layer2Announcer: interfaces and sockets', () => {
  it('opens one ARP socket per eligible interface for IPv4 targets, and an NS-filtered IPv6 socket only for IPv6 ones', () => {
    const w = new World([
      eth('eth0', 2),
      eth('eth1', 3),
      eth('veth12ab', 4),
      eth('cali0', 5),
      eth('down0', 6, { up: false }),
      eth('noarp0', 7, { noarp: true }),
      eth('bondslave0', 8, { slave: true }),
      eth('brport0', 9, { master: 'br0' }),
      eth('wg0', 10, { mac: undefined }),
    ]);
    assert.deepEqual(w.openSockets(), []); // nothing before there is a target
    w.clock.advance(60_000);
    assert.equal(w.inspected.length, 0); // nor any scanning
    w.announcer.setTargets([target(VIP4)]);
    assert.deepEqual(w.openSockets(), ['eth0/arp', 'eth1/arp']);
    assert.ok(!w.inspected.includes('veth12ab') && !w.inspected.includes('cali0'), 'excluded names are not inspected');
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0', 'eth1'] }]);

    w.announcer.setTargets([target(VIP4), target(VIP6)]);
    assert.deepEqual(w.openSockets(), ['eth0/arp', 'eth0/ipv6', 'eth1/arp', 'eth1/ipv6']);
    assert.deepEqual(w.ndp('eth0').options.filter, neighborSolicitationFilter());
    assert.equal(w.arp('eth0').options.filter, undefined);

    w.announcer.setTargets([target(VIP6)]);
    assert.deepEqual(w.openSockets(), ['eth0/ipv6', 'eth1/ipv6']);
    w.announcer.setTargets([]);
    assert.deepEqual(w.openSockets(), []);
    assert.deepEqual(w.announcer.answeredIPs(), []);
  });

  it('uses only the interfaces a target names, and skips named ones that are not eligible', () => {
    const w = new World([eth('eth0', 2), eth('eth1', 3), eth('docker0', 4)]);
    w.announcer.setTargets([target(VIP4, ['eth1', 'docker0', 'nosuch0']), target('10.0.0.101')]);
    assert.deepEqual(w.announcer.answeredIPs(), [
      { ip: VIP4, interfaces: ['eth1'] },
      { ip: '10.0.0.101', interfaces: ['eth0', 'eth1'] },
    ]);
    w.arp('eth0').deliver(arpRequest(VIP4));
    assert.deepEqual(w.arp('eth0').sent.filter((f) => arpOf(f).operation === 'reply' && arpOf(f).ethDestination === CLIENT_MAC), []);
    w.arp('eth1').take();
    w.arp('eth1').deliver(arpRequest(VIP4));
    assert.equal(w.arp('eth1').take().length, 1);
  });

  it('merges a target given twice (union of interfaces; "all" wins)', () => {
    const w = new World([eth('eth0', 2), eth('eth1', 3), eth('eth2', 4)]);
    w.announcer.setTargets([target(VIP4, ['eth0']), target(VIP4, ['eth2'])]);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0', 'eth2'] }]);
    w.announcer.setTargets([target(VIP4, ['eth0']), target(VIP4)]);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0', 'eth1', 'eth2'] }]);
  });

  it('reports a target with no usable interface as answered nowhere', () => {
    const w = new World([eth('eth0', 2, { up: false })]);
    w.announcer.setTargets([target(VIP4)]);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: [] }]);
    assert.deepEqual(w.openSockets(), []);
  });

  it('re-scans periodically: uses an interface that comes up, drops one that goes down or away, reopens a recreated one', () => {
    const w = new World([eth('eth0', 2), eth('eth1', 3, { up: false })]);
    w.announcer.setTargets([target(VIP4)]);
    assert.deepEqual(w.openSockets(), ['eth0/arp']);
    w.arp('eth0').take();

    w.links.set('eth1', eth('eth1', 3));
    w.clock.advance(4999);
    assert.deepEqual(w.openSockets(), ['eth0/arp']);
    w.clock.advance(1);
    assert.deepEqual(w.openSockets(), ['eth0/arp', 'eth1/arp']);
    // The IP is new on eth1: it gets a burst there (and none again on eth0).
    assert.equal(w.arp('eth1').take().length, 2);
    assert.equal(w.arp('eth0').take().length, 1 * 2 * 4); // the rest of eth0's burst, 4 more rounds by now
    w.clock.advance(10_000);
    assert.equal(w.arp('eth1').take().length, 2 * 4);
    assert.equal(w.arp('eth0').take().length, 0);

    w.links.set('eth1', eth('eth1', 3, { up: false }));
    w.clock.advance(5000);
    assert.deepEqual(w.openSockets(), ['eth0/arp']);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0'] }]);

    // Deleted and created again with the same name: a new ifindex, so a new socket (the old one is bound
    // to the dead ifindex) and a new burst.
    const old = w.arp('eth0');
    w.links.set('eth0', { ...eth('eth0', 2), ifindex: 12 });
    w.announcer.setTargets([target(VIP4)]);
    assert.ok(old.closed);
    assert.notEqual(w.arp('eth0'), old);
    assert.equal(w.arp('eth0').take().length, 2);

    w.links.delete('eth0');
    w.clock.advance(5000);
    assert.deepEqual(w.openSockets(), []);
  });

  it('reopens the socket and re-announces when the MAC changes', () => {
    const w = new World([eth('eth0', 2)]);
    w.announcer.setTargets([target(VIP4)]);
    const old = w.arp('eth0');
    w.links.set('eth0', { ...eth('eth0', 2), mac: '02:aa:00:00:00:01' });
    w.clock.advance(5000);
    assert.ok(old.closed);
    const frames = w.arp('eth0').take();
    assert.equal(frames.length, 2);
    assert.equal(arpOf(frames[0]!).senderMac, '02:aa:00:00:00:01');
  });

  it('keeps going when a socket cannot be opened, and retries on the next re-scan', () => {
    const w = new World([eth('eth0', 2), eth('eth1', 3)]);
    w.openFails.set('eth0', 'EPERM');
    w.announcer.setTargets([target(VIP4)]);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth1'] }]);
    w.openFails.clear();
    w.clock.advance(5000);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0', 'eth1'] }]);
    assert.equal(w.arp('eth0').take().length, 2); // newly answered there: burst
  });

  it('keeps the socket on a receive error (ENETDOWN) and survives send errors', () => {
    const w = new World([eth('eth0', 2)]);
    w.announcer.setTargets([target(VIP4)]);
    const s = w.arp('eth0');
    s.fail('ENETDOWN');
    assert.equal(s.closed, false);
    w.clock.advance(5000);
    assert.equal(w.arp('eth0'), s);

    s.take();
    const before = w.metrics.get(`gratuitous ${VIP4}`);
    s.failSend = 'ENETDOWN';
    s.deliver(arpRequest(VIP4));
    w.announcer.announceNow();
    assert.equal(w.metrics.get(`request ${VIP4}`), 1);
    assert.equal(w.metrics.get(`response ${VIP4}`), 0);
    assert.equal(w.metrics.get(`gratuitous ${VIP4}`), before);
    s.failSend = undefined;
    s.deliver(arpRequest(VIP4));
    assert.equal(w.metrics.get(`response ${VIP4}`), 1);
  });
});

describe('Layer2Announcer: gratuitous announcements', () => {
  let w: World;
  beforeEach(() => {
    w = new World([eth('eth0', 2)]);
  });

  it('sends gratuitous ARP request + reply at once, then every 1.1 s for 5 rounds', () => {
    w.announcer.setTargets([target(VIP4)]);
    const s = w.arp('eth0');
    const first = s.take().map(arpOf);
    assert.deepEqual(
      first.map((a) => [a.operation, a.senderMac, a.senderIp, a.targetIp, a.targetMac, a.ethSource, a.ethDestination]),
      [
        ['request', '02:00:00:00:00:02', VIP4, VIP4, BROADCAST_MAC, '02:00:00:00:00:02', BROADCAST_MAC],
        ['reply', '02:00:00:00:00:02', VIP4, VIP4, BROADCAST_MAC, '02:00:00:00:00:02', BROADCAST_MAC],
      ],
    );
    const times: number[] = [];
    for (let t = 1; t <= 10_000; t++) {
      w.clock.advance(1);
      const n = s.take().length;
      if (n > 0) {
        assert.equal(n, 2);
        times.push(w.clock.now());
      }
    }
    assert.deepEqual(times, [1100, 2200, 3300, 4400]);
    assert.equal(w.metrics.get(`gratuitous ${VIP4}`), 10);
  });

  it('sends an unsolicited NA (from the VIP to ff02::1, Override, not Solicited, target link-layer option)', () => {
    w.announcer.setTargets([target(VIP6)]);
    const [frame, ...rest] = w.ndp('eth0').take();
    assert.equal(rest.length, 0);
    const na = naOf(frame!);
    assert.deepEqual(
      [na.source, na.destination, na.target, na.override, na.solicited, na.router, na.targetLinkLayer, na.hopLimit, na.ethDestination],
      [VIP6, 'ff02::1', VIP6, true, false, false, '02:00:00:00:00:02', 255, ALL_NODES_MAC],
    );
    w.clock.advance(5000);
    assert.equal(w.ndp('eth0').take().length, 4);
    assert.equal(w.metrics.get(`gratuitous ${VIP6}`), 5);
  });

  it('is idempotent: the same targets again start no new burst', () => {
    w.announcer.setTargets([target(VIP4)]);
    const s = w.arp('eth0');
    s.take();
    w.clock.advance(500);
    w.announcer.setTargets([target(VIP4)]);
    w.announcer.setTargets([target(VIP4, [])]);
    assert.equal(s.take().length, 0);
    assert.equal(w.arp('eth0'), s);
    w.clock.advance(10_000);
    assert.equal(s.take().length, 8);
  });

  it('stops the burst of a removed IP and starts a fresh one when it comes back', () => {
    w.announcer.setTargets([target(VIP4), target('10.0.0.101')]);
    const s = w.arp('eth0');
    s.take();
    w.clock.advance(1100);
    assert.equal(s.take().length, 4);
    w.announcer.setTargets([target('10.0.0.101')]);
    w.clock.advance(1100);
    assert.deepEqual(s.take().map((f) => arpOf(f).senderIp), ['10.0.0.101', '10.0.0.101']);
    w.announcer.setTargets([target(VIP4), target('10.0.0.101')]);
    assert.deepEqual(s.take().map((f) => arpOf(f).senderIp), [VIP4, VIP4]);
  });

  it('a quiet target (handed over) is answered but never announced: its burst stops; it starts again when the IP is ours again', () => {
    w.announcer.setTargets([target(VIP4), target(VIP6)]);
    const s = w.arp('eth0');
    s.take();
    w.ndp('eth0').take();
    w.clock.advance(1100);
    assert.equal(s.take().length, 2);
    assert.equal(w.ndp('eth0').take().length, 1);
    // Handed over mid-burst: no more gratuitous rounds (they would pull clients back), not even from
    // announceNow, but requests are still answered.
    w.announcer.setTargets([{ ...target(VIP4), quiet: true }, { ...target(VIP6), quiet: true }]);
    assert.equal(s.take().length, 0);
    w.clock.advance(10_000);
    w.announcer.announceNow();
    assert.equal(s.take().length, 0);
    assert.equal(w.ndp('eth0').take().length, 0);
    s.deliver(arpRequest(VIP4));
    assert.deepEqual(s.take().map((f) => [arpOf(f).operation, arpOf(f).targetIp]), [['reply', CLIENT4]]);
    w.ndp('eth0').deliver(neighborSolicitation(VIP6));
    assert.equal(naOf(w.ndp('eth0').take()[0]!).solicited, true);
    assert.deepEqual(w.announcer.answeredIPs(), [{ ip: VIP4, interfaces: ['eth0'] }, { ip: VIP6, interfaces: ['eth0'] }]);
    // Quiet only if every mention is quiet.
    w.announcer.setTargets([{ ...target(VIP4), quiet: true }, target(VIP4), { ...target(VIP6), quiet: true }]);
    assert.equal(s.take().length, 2);
    assert.equal(w.ndp('eth0').take().length, 0);
  });

  it('follows custom delays, including a first round that is not immediate', () => {
    const c = new World([eth('eth0', 2)], { gratuitousDelaysMs: [100, 100, 3000] });
    c.announcer.setTargets([target(VIP4)]);
    const s = c.arp('eth0');
    assert.equal(s.take().length, 0);
    c.clock.advance(100);
    assert.equal(s.take().length, 4);
    c.clock.advance(2899);
    assert.equal(s.take().length, 0);
    c.clock.advance(1);
    assert.equal(s.take().length, 2);
    assert.throws(() => new World([], { gratuitousDelaysMs: [0, 2000, 1000] }), RangeError);
  });

  it('announceNow sends one round for the given IPs only, on every interface answering them', () => {
    const m = new World([eth('eth0', 2), eth('eth1', 3)]);
    m.announcer.setTargets([target(VIP4), target('10.0.0.101', ['eth1']), target(VIP6)]);
    m.clock.advance(10_000);
    for (const s of m.sockets) s.take();
    m.announcer.announceNow([ip('10.0.0.101'), ip(VIP6), ip('10.0.0.200')]);
    assert.equal(m.arp('eth0').take().length, 0);
    assert.deepEqual(m.arp('eth1').take().map((f) => arpOf(f).senderIp), ['10.0.0.101', '10.0.0.101']);
    assert.equal(m.ndp('eth0').take().length, 1);
    assert.equal(m.ndp('eth1').take().length, 1);
    m.announcer.announceNow();
    assert.equal(m.arp('eth0').take().length, 2);
    assert.equal(m.arp('eth1').take().length, 4);
  });

  it('refreshes periodically when refreshIntervalMs is set', () => {
    const r = new World([eth('eth0', 2)], { refreshIntervalMs: 30_000, gratuitousDelaysMs: [0] });
    r.announcer.setTargets([target(VIP4)]);
    const s = r.arp('eth0');
    assert.equal(s.take().length, 2);
    r.clock.advance(29_999);
    assert.equal(s.take().length, 0);
    r.clock.advance(1);
    assert.equal(s.take().length, 2);
    r.clock.advance(30_000);
    assert.equal(s.take().length, 2);
  });
});

describe('Layer2Announcer: answering', () => {
  let w: World;
  beforeEach(() => {
    w = new World([eth('eth0', 2)]);
    w.announcer.setTargets([target(VIP4), target(VIP6)]);
    for (const s of w.sockets) s.take();
  });

  it('answers an ARP request for a target with the interface MAC, unicast to the requester', () => {
    w.arp('eth0').deliver(arpRequest(VIP4));
    const [reply, ...rest] = w.arp('eth0').take().map(arpOf);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [reply!.operation, reply!.senderMac, reply!.senderIp, reply!.targetMac, reply!.targetIp, reply!.ethSource, reply!.ethDestination],
      ['reply', '02:00:00:00:00:02', VIP4, CLIENT_MAC, CLIENT4, '02:00:00:00:00:02', CLIENT_MAC],
    );
    assert.equal(w.metrics.get(`request ${VIP4}`), 1);
    assert.equal(w.metrics.get(`response ${VIP4}`), 1);
  });

  it('answers an ARP probe (sender 0.0.0.0) and a unicast request', () => {
    w.arp('eth0').deliver(arpRequest(VIP4, { senderIp: '0.0.0.0' }));
    w.arp('eth0').deliver(arpRequest(VIP4), 'host');
    assert.deepEqual(w.arp('eth0').take().map((f) => arpOf(f).targetIp), ['0.0.0.0', CLIENT4]);
  });

  it('never answers for another IP, for frames to another host, for replies, or for a gratuitous ARP', () => {
    const s = w.arp('eth0');
    s.deliver(arpRequest('10.0.0.1'));
    s.deliver(arpRequest(VIP4), 'otherhost');
    s.deliver(arpRequest(VIP4, { operation: 'reply' }));
    s.deliver(arpRequest(VIP4, { senderIp: VIP4, senderMac: '02:00:00:00:00:77' }));
    s.deliver(arpRequest(VIP4, { senderMac: '02:00:00:00:00:02' })); // our own MAC
    assert.deepEqual(s.take(), []);
    assert.deepEqual([...w.metrics.c.keys()].filter((k) => k.startsWith('request') || k.startsWith('bad')), []);
  });

  it('answers a Neighbor Solicitation with a solicited NA carrying the target link-layer address', () => {
    w.ndp('eth0').deliver(neighborSolicitation(VIP6), 'multicast');
    const [frame, ...rest] = w.ndp('eth0').take();
    assert.equal(rest.length, 0);
    const na = naOf(frame!);
    assert.deepEqual(
      [na.source, na.destination, na.target, na.solicited, na.override, na.targetLinkLayer, na.ethSource, na.ethDestination],
      [VIP6, CLIENT6, VIP6, true, true, '02:00:00:00:00:02', '02:00:00:00:00:02', CLIENT_MAC],
    );
    assert.equal(w.metrics.get(`request ${VIP6}`), 1);
    assert.equal(w.metrics.get(`response ${VIP6}`), 1);
  });

  it('answers duplicate address detection (NS from ::) to all nodes, and ignores NS for others or to other hosts', () => {
    const s = w.ndp('eth0');
    s.deliver(neighborSolicitation(VIP6, '::'), 'multicast');
    const na = naOf(s.take()[0]!);
    assert.deepEqual([na.destination, na.solicited, na.ethDestination], ['ff02::1', false, ALL_NODES_MAC]);
    s.deliver(neighborSolicitation('fd00::1'), 'multicast');
    s.deliver(neighborSolicitation(VIP6), 'otherhost');
    assert.deepEqual(s.take(), []);
  });

  it('stops answering a removed IP at once, on the same socket, and closes a socket no target needs', () => {
    const s = w.arp('eth0');
    w.announcer.setTargets([target('10.0.0.101'), target(VIP6)]);
    assert.equal(w.arp('eth0'), s);
    s.take();
    s.deliver(arpRequest(VIP4));
    assert.deepEqual(s.take(), []);
    s.deliver(arpRequest('10.0.0.101'));
    assert.equal(s.take().length, 1);
    w.announcer.setTargets([target(VIP6)]);
    assert.ok(s.closed);
    w.announcer.setTargets([target('10.0.0.101')]);
    assert.equal(w.open('eth0', ETHERTYPE_IPV6), undefined);
  });

  it('counts malformed frames per interface and layer, drops them, and ignores well-formed foreign ones silently', () => {
    const arp = w.arp('eth0');
    arp.deliver(arpRequest(VIP4).subarray(0, 20)); // truncated ARP
    arp.deliver(Buffer.alloc(5)); // not even an Ethernet header
    const badHardware = arpRequest(VIP4);
    badHardware.writeUInt16BE(6, 14); // hardware type 6
    arp.deliver(badHardware);
    arp.deliver(arpRequest(VIP4, { senderMac: 'ff:ff:ff:ff:ff:ff' }));
    const ndp = w.ndp('eth0');
    const badSum = neighborSolicitation(VIP6);
    badSum[14 + 40 + 2]! ^= 0xff;
    ndp.deliver(badSum, 'multicast');
    const lowHop = neighborSolicitation(VIP6);
    lowHop[14 + 7] = 64; // hop limit 64 (checksum does not cover it)
    ndp.deliver(lowHop, 'multicast');
    const op3 = arpRequest(VIP4);
    op3.writeUInt16BE(3, 20); // RARP request: well-formed, not ours
    arp.deliver(op3);
    assert.deepEqual([...arp.take(), ...ndp.take()], []);
    assert.deepEqual(
      Object.fromEntries([...w.metrics.c].filter(([k]) => k.startsWith('bad') || k.startsWith('request'))),
      { 'bad eth0 arp': 3, 'bad eth0 ethernet': 1, 'bad eth0 icmpv6': 1, 'bad eth0 ndp': 1 },
    );
  });

  it('survives a frame handler error (nothing escapes into the socket callback)', () => {
    const metrics: L2Metrics = {
      requestReceived: () => {
        throw new Error('boom');
      },
      responseSent() {},
      gratuitousSent() {},
      badFrame() {},
    };
    const broken = new World([eth('eth0', 2)], { metrics });
    broken.announcer.setTargets([target(VIP4)]);
    assert.doesNotThrow(() => broken.arp('eth0').deliver(arpRequest(VIP4)));
  });
});

describe('Layer2Announcer: multicast memberships', () => {
  it('joins the solicited-node MAC (link layer) and group (IP layer) per IPv6 target, sharing them, and leaves when unused', () => {
    const w = new World([eth('eth0', 2), eth('eth1', 3)]);
    // fd00:1::100 shares its low 24 bits with fd00::100 (VIP6): one group for both.
    const same = ['fd00::100', 'fd00:1::100'];
    const group = solicitedNodeMac(VIP6);
    const ipGroup = solicitedNodeMulticast(VIP6);
    assert.equal(group, '33:33:ff:00:01:00');
    w.announcer.setTargets([target(same[0]!), target(same[1]!, ['eth1'])]);
    assert.deepEqual([...w.ndp('eth0').groups], [group]);
    assert.deepEqual([...w.ndp('eth1').groups], [group]);
    assert.deepEqual([...w.ipGroups].sort(), [`eth0 ${ipGroup}`, `eth1 ${ipGroup}`]);

    w.announcer.setTargets([target(same[1]!), target('fd00::2:200')]);
    assert.deepEqual([...w.ndp('eth0').groups].sort(), [group, '33:33:ff:02:02:00']);
    w.announcer.setTargets([target('fd00::2:200', ['eth1'])]);
    assert.equal(w.open('eth0', ETHERTYPE_IPV6), undefined);
    assert.deepEqual([...w.ndp('eth1').groups], ['33:33:ff:02:02:00']);
    assert.deepEqual([...w.ipGroups], ['eth1 ff02::1:ff02:200']);
    w.announcer.setTargets([target(VIP4)]);
    assert.deepEqual([...w.ipGroups], []);
  });
});

describe('Layer2Announcer: stop', () => {
  it('closes every socket, leaves every group, cancels every timer', async () => {
    const w = new World([eth('eth0', 2)], { refreshIntervalMs: 60_000 });
    w.announcer.setTargets([target(VIP4), target(VIP6)]);
    await w.announcer.stop();
    assert.deepEqual(w.openSockets(), []);
    assert.deepEqual([...w.ipGroups], []);
    assert.equal(w.clock.pendingTimers(), 0);
    assert.throws(() => w.announcer.setTargets([]), /stopped/);
    assert.doesNotThrow(() => w.announcer.announceNow());
    await w.announcer.stop();
  });
});
