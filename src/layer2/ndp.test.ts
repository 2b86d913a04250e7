import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeEthernet, formatMac } from './ethernet.ts';
import { ipv6FromBytes } from './ip-bytes.ts';
import {
  decodeIpv6,
  decodeNdp,
  decodeNdpFrame,
  encodeIcmpv6Packet,
  encodeIpv6Frame,
  encodeNeighborAdvertisement,
  encodeNeighborAdvertisementReplyFrame,
  encodeNeighborSolicitation,
  encodeUnsolicitedNeighborAdvertisementFrame,
  icmpv6Checksum,
  ipv6MulticastMac,
  neighborAdvertisementFor,
  solicitedNodeMac,
  solicitedNodeMulticast,
  type NeighborAdvertisement,
  type NeighborSolicitation,
} from './ndp.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Captured from Linux on a veth pair: fd99::2 asks for fd99::1, and the kernel's answer.
const KERNEL_NS_FRAME = hex(`
  3333ff000001 02000000000b 86dd
  6000 0000 0020 3a ff fd990000000000000000000000000002 ff0200000000000000000001ff000001
  87 00 7c5c 00000000 fd990000000000000000000000000001 01 01 02000000000b`);
const KERNEL_NA_FRAME = hex(`
  02000000000b 02000000000a 86dd
  6000 0000 0020 3a ff fd990000000000000000000000000001 fd990000000000000000000000000002
  88 00 1ac8 60000000 fd990000000000000000000000000001 02 01 02000000000a`);
const IP_OF = (frame: Buffer): Buffer => frame.subarray(14);

/** Recomputes the ICMPv6 checksum of an IPv6 packet after the test changed it. */
function fixChecksum(packet: Uint8Array): Uint8Array {
  const icmp = packet.subarray(40, 40 + ((packet[4]! << 8) | packet[5]!));
  icmp[2] = 0;
  icmp[3] = 0;
  const sum = icmpv6Checksum(packet.subarray(8, 24), packet.subarray(24, 40), icmp);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return packet;
}

/** A copy of the kernel's NS with `edit` applied and the checksum made right again. */
function editedNs(edit: (p: Buffer) => Buffer | void): Uint8Array {
  const p = Buffer.from(IP_OF(KERNEL_NS_FRAME));
  return fixChecksum(edit(p) ?? p);
}

function expectError(packet: Uint8Array, layer: string, kind: 'malformed' | 'ignored', reason: RegExp): void {
  const r = decodeNdp(packet);
  assert.ok(!r.ok, `expected a decode error matching ${reason}`);
  assert.deepEqual([r.error.layer, r.error.kind], [layer, kind]);
  assert.match(r.error.reason, reason);
}

describe('addresses', () => {
  it('solicited-node multicast group and MAC', () => {
    assert.equal(solicitedNodeMulticast('fd99::1'), 'ff02::1:ff00:1');
    assert.equal(solicitedNodeMulticast('2001:db8::abcd:1234'), 'ff02::1:ffcd:1234');
    assert.equal(solicitedNodeMac('2001:db8::abcd:1234'), '33:33:ff:cd:12:34');
    assert.equal(solicitedNodeMac('fd99::1'), '33:33:ff:00:00:01');
    assert.equal(ipv6MulticastMac('ff02::1'), '33:33:00:00:00:01');
    assert.throws(() => solicitedNodeMulticast('10.0.0.1'), RangeError);
  });
});

describe('checksum', () => {
  it('is zero over a kernel-built message', () => {
    const ip = IP_OF(KERNEL_NS_FRAME);
    assert.equal(icmpv6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), ip.subarray(40)), 0);
  });

  it('handles odd lengths (pads with a zero byte)', () => {
    const src = new Uint8Array(16);
    const dst = new Uint8Array(16);
    // Pseudo-header: length 3 + next header 58; words 0x0102 and 0x0300 (the odd byte padded with 0).
    // 3 + 58 + 0x0102 + 0x0300 = 0x043f, complemented: 0xfbc0.
    assert.equal(icmpv6Checksum(src, dst, Uint8Array.of(1, 2, 3)), 0xfbc0);
  });
});

describe('decodeNdp', () => {
  it('decodes a kernel Neighbor Solicitation with its source link-layer option', () => {
    const r = decodeNdpFrame(KERNEL_NS_FRAME);
    assert.ok(r.ok);
    assert.equal(r.value.ethernet.source, '02:00:00:00:00:0b');
    assert.deepEqual(r.value.message, {
      type: 'neighbor-solicitation',
      source: 'fd99::2',
      destination: 'ff02::1:ff00:1',
      hopLimit: 255,
      target: 'fd99::1',
      sourceLinkLayer: '02:00:00:00:00:0b',
    });
  });

  it('decodes a kernel Neighbor Advertisement', () => {
    assert.deepEqual(decodeNdp(IP_OF(KERNEL_NA_FRAME)), {
      ok: true,
      value: {
        type: 'neighbor-advertisement',
        source: 'fd99::1',
        destination: 'fd99::2',
        hopLimit: 255,
        target: 'fd99::1',
        router: false,
        solicited: true,
        override: true,
        targetLinkLayer: '02:00:00:00:00:0a',
      },
    });
  });

  it('ignores Ethernet padding after the IPv6 payload', () => {
    assert.ok(decodeNdp(Buffer.concat([IP_OF(KERNEL_NS_FRAME), Buffer.alloc(10)])).ok);
  });

  it('accepts an NS without options, and skips unknown options', () => {
    const bare = editedNs((p) => {
      p.writeUInt16BE(24, 4);
      return p.subarray(0, 64);
    });
    const r1 = decodeNdp(bare);
    assert.ok(r1.ok);
    assert.equal((r1.value as NeighborSolicitation).sourceLinkLayer, undefined);
    const nonce = editedNs((p) => {
      p.writeUInt16BE(40, 4);
      return Buffer.concat([p, hex('0e01 010203040506')]); // nonce option (RFC 3971) after the SLLA
    });
    const r2 = decodeNdp(nonce);
    assert.ok(r2.ok);
    assert.equal((r2.value as NeighborSolicitation).sourceLinkLayer, '02:00:00:00:00:0b');
  });

  it('accepts an NS from :: (duplicate address detection) to the solicited-node group', () => {
    const dad = encodeNeighborSolicitation({ source: '::', target: 'fd99::1' });
    const r = decodeNdp(dad);
    assert.ok(r.ok);
    assert.equal(r.value.source, '::');
  });

  it('rejects a hop limit other than 255', () => {
    for (const hop of [0, 1, 64, 254]) {
      expectError(editedNs((p) => void (p[7] = hop)), 'ndp', 'malformed', new RegExp(`hop limit ${hop}, must be 255`));
    }
  });

  it('rejects a bad checksum', () => {
    const p = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    p[42] = p[42]! ^ 0x01;
    expectError(p, 'icmpv6', 'malformed', /bad checksum 0x7d5c/);
    const q = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    q[70] = q[70]! ^ 0x80; // a bit of the target: the checksum no longer matches
    expectError(q, 'icmpv6', 'malformed', /bad checksum/);
    const r = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    r[23] = r[23]! ^ 0x01; // the pseudo-header (source address) is covered too
    expectError(r, 'icmpv6', 'malformed', /bad checksum/);
  });

  it('rejects an ICMP code other than 0', () => {
    expectError(editedNs((p) => void (p[41] = 1)), 'ndp', 'malformed', /code 1, must be 0/);
  });

  it('rejects a message shorter than 24 bytes', () => {
    const short = editedNs((p) => {
      p.writeUInt16BE(20, 4);
      return p.subarray(0, 60);
    });
    expectError(short, 'ndp', 'malformed', /truncated: neighbor solicitation of 20 bytes/);
  });

  it('rejects a multicast target', () => {
    expectError(editedNs((p) => void (p[48] = 0xff)), 'ndp', 'malformed', /multicast target ff99::1/);
  });

  it('rejects an option of length 0', () => {
    expectError(editedNs((p) => void (p[65] = 0)), 'ndp', 'malformed', /option 1 at byte 24 has length 0/);
  });

  it('rejects an option running past the message', () => {
    expectError(editedNs((p) => void (p[65] = 2)), 'ndp', 'malformed', /overruns the message/);
  });

  it('rejects a lone trailing option byte', () => {
    const p = editedNs((b) => {
      b.writeUInt16BE(33, 4);
      return Buffer.concat([b, Uint8Array.of(1)]);
    });
    expectError(p, 'ndp', 'malformed', /truncated option at byte 32/);
  });

  it('rejects a link-layer option that is not Ethernet-sized', () => {
    const p = editedNs((b) => {
      b.writeUInt16BE(40, 4);
      b[65] = 2;
      return Buffer.concat([b, Buffer.alloc(8)]);
    });
    expectError(p, 'ndp', 'malformed', /link-layer address option of 2 units/);
  });

  it('rejects an NS from :: that is not sent to a solicited-node group', () => {
    const p = encodeNeighborSolicitation({ source: '::', destination: 'fd99::1', target: 'fd99::1' });
    expectError(p, 'ndp', 'malformed', /from :: to fd99::1, not a solicited-node group/);
  });

  it('rejects an NS from :: with a source link-layer option', () => {
    const p = encodeNeighborSolicitation({ source: '::', target: 'fd99::1', sourceLinkLayer: '02:00:00:00:00:01' });
    expectError(p, 'ndp', 'malformed', /from :: with a source link-layer address option/);
  });

  it('rejects a solicited NA sent to a multicast group', () => {
    const p = encodeNeighborAdvertisement({ source: 'fd99::1', destination: 'ff02::1', target: 'fd99::1', solicited: true, override: true });
    expectError(p, 'ndp', 'malformed', /solicited neighbor advertisement to multicast ff02::1/);
  });

  it('rejects broken IPv6 headers', () => {
    const ip = IP_OF(KERNEL_NS_FRAME);
    for (let n = 0; n < 40; n++) expectError(ip.subarray(0, n), 'ipv6', 'malformed', /truncated: \d+ bytes, the header needs 40/);
    expectError(ip.subarray(0, 60), 'ipv6', 'malformed', /payload length 32 but 20 bytes follow/);
    const v4 = Buffer.from(ip);
    v4[0] = 0x45;
    expectError(v4, 'ipv6', 'malformed', /version 4, not 6/);
  });

  it('rejects a truncated ICMPv6 header', () => {
    const p = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    p.writeUInt16BE(3, 4);
    expectError(p, 'icmpv6', 'malformed', /truncated: 3 bytes/);
  });

  it('ignores other IPv6 and ICMPv6 traffic', () => {
    const udp = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    udp[6] = 17;
    expectError(udp, 'ipv6', 'ignored', /next header 17 is not ICMPv6/);
    const hopByHop = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    hopByHop[6] = 0;
    expectError(hopByHop, 'ipv6', 'ignored', /next header 0/);
    const echo = encodeIcmpv6Packet('fd99::2', 'fd99::1', 64, hex('8000 0000 00010001'));
    expectError(echo, 'icmpv6', 'ignored', /type 128/);
    const ra = Buffer.from(IP_OF(KERNEL_NS_FRAME));
    ra[40] = 134; // router advertisement, even with a bad checksum
    expectError(ra, 'icmpv6', 'ignored', /type 134/);
  });

  it('ignores frames of another EtherType, and passes Ethernet errors through', () => {
    const arp = Buffer.from(KERNEL_NS_FRAME);
    arp.writeUInt16BE(0x0806, 12);
    const r = decodeNdpFrame(arp);
    assert.ok(!r.ok);
    assert.deepEqual([r.error.layer, r.error.kind], ['ethernet', 'ignored']);
    const t = decodeNdpFrame(KERNEL_NS_FRAME.subarray(0, 5));
    assert.ok(!t.ok);
    assert.equal(t.error.layer, 'ethernet');
  });
});

describe('encoding', () => {
  it('encodes a Neighbor Solicitation exactly as the kernel does', () => {
    const packet = encodeNeighborSolicitation({ source: 'fd99::2', target: 'fd99::1', sourceLinkLayer: '02:00:00:00:00:0b' });
    assert.deepEqual(Buffer.from(packet), IP_OF(KERNEL_NS_FRAME));
  });

  it('answers the kernel NS exactly as the kernel does (VIP as source)', () => {
    const r = decodeNdpFrame(KERNEL_NS_FRAME);
    assert.ok(r.ok && r.value.message.type === 'neighbor-solicitation');
    const frame = encodeNeighborAdvertisementReplyFrame(r.value.message, r.value.ethernet.source, '02:00:00:00:00:0a');
    assert.deepEqual(frame, KERNEL_NA_FRAME);
  });

  it('answers to the source link-layer option, else to the frame source', () => {
    const ns: NeighborSolicitation = { type: 'neighbor-solicitation', source: 'fd99::2', destination: 'ff02::1:ff00:1', hopLimit: 255, target: 'fd99::1' };
    const toFrameSource = decodeEthernet(encodeNeighborAdvertisementReplyFrame(ns, '02:00:00:00:00:0c', '02:00:00:00:00:0a'));
    assert.ok(toFrameSource.ok);
    assert.equal(toFrameSource.value.destination, '02:00:00:00:00:0c');
    const toOption = decodeEthernet(
      encodeNeighborAdvertisementReplyFrame({ ...ns, sourceLinkLayer: '02:00:00:00:00:0d' }, '02:00:00:00:00:0c', '02:00:00:00:00:0a'),
    );
    assert.ok(toOption.ok);
    assert.equal(toOption.value.destination, '02:00:00:00:00:0d');
  });

  it('answers an NS from :: to all nodes, not solicited (RFC 4861 §7.2.4)', () => {
    const dad: NeighborSolicitation = { type: 'neighbor-solicitation', source: '::', destination: 'ff02::1:ff00:1', hopLimit: 255, target: 'fd99::1' };
    const r = decodeNdpFrame(encodeNeighborAdvertisementReplyFrame(dad, '02:00:00:00:00:0b', '02:00:00:00:00:0a'));
    assert.ok(r.ok);
    assert.equal(r.value.ethernet.destination, '33:33:00:00:00:01');
    assert.deepEqual(r.value.message, {
      type: 'neighbor-advertisement',
      source: 'fd99::1',
      destination: 'ff02::1',
      hopLimit: 255,
      target: 'fd99::1',
      router: false,
      solicited: false,
      override: true,
      targetLinkLayer: '02:00:00:00:00:0a',
    });
  });

  it('can use another source address, e.g. the link-local one', () => {
    const ns: NeighborSolicitation = { type: 'neighbor-solicitation', source: 'fd99::2', destination: 'ff02::1:ff00:1', hopLimit: 255, target: 'fd99::1' };
    assert.equal(neighborAdvertisementFor(ns, '02:00:00:00:00:0a', { source: 'fe80::a' }).source, 'fe80::a');
  });

  it('builds the unsolicited NA for a takeover: ff02::1, Override, hop limit 255', () => {
    const frame = encodeUnsolicitedNeighborAdvertisementFrame('2001:db8::100', '02:42:AC:11:00:02');
    assert.deepEqual(
      frame.subarray(0, 14 + 8),
      hex('333300000001 0242ac110002 86dd 6000 0000 0020 3a ff'),
    );
    const r = decodeNdpFrame(frame);
    assert.ok(r.ok);
    assert.deepEqual(r.value.message, {
      type: 'neighbor-advertisement',
      source: '2001:db8::100',
      destination: 'ff02::1',
      hopLimit: 255,
      target: '2001:db8::100',
      router: false,
      solicited: false,
      override: true,
      targetLinkLayer: '02:42:ac:11:00:02',
    });
  });

  it('rejects invalid fields (a caller mistake)', () => {
    assert.throws(() => encodeNeighborSolicitation({ source: '10.0.0.1', target: 'fd99::1' }), RangeError);
    assert.throws(() => encodeNeighborAdvertisement({ source: 'fd99::1', destination: 'fd99::2', target: 'fd99::1', solicited: true, override: true, hopLimit: 256 }), RangeError);
    assert.throws(() => encodeUnsolicitedNeighborAdvertisementFrame('fd99::1', 'zz:00:00:00:00:00'), RangeError);
  });
});

describe('properties', () => {
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));
  const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6FromBytes(b));
  const unicastIpv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).filter((b) => b[0] !== 0xff && b.some((x) => x !== 0)).map((b) => ipv6FromBytes(b));

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        decodeIpv6(bytes);
        decodeNdp(bytes);
        decodeNdpFrame(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('random ICMPv6 bodies behind a valid header never throw, and any accepted one is consistent', () => {
    fc.assert(
      fc.property(fc.constantFrom(135, 136), fc.uint8Array({ maxLength: 80 }), fc.boolean(), (type, body, checksum) => {
        const message = Uint8Array.of(type, 0, 0, 0, ...body);
        const packet = encodeIcmpv6Packet('fe80::1', 'ff02::1:ff00:1', 255, message);
        if (!checksum) packet[42] = packet[42]! ^ 0xff;
        const r = decodeNdp(packet);
        if (r.ok) assert.equal(r.value.target, ipv6FromBytes(packet, 48));
      }),
      { numRuns: 2000 },
    );
  });

  it('random NS round-trip', () => {
    fc.assert(
      fc.property(unicastIpv6, unicastIpv6, fc.option(mac, { nil: undefined }), (source, target, sll) => {
        const fields = { source, target, ...(sll !== undefined ? { sourceLinkLayer: sll } : {}) };
        const r = decodeNdp(encodeNeighborSolicitation(fields));
        assert.deepEqual(r, {
          ok: true,
          value: { type: 'neighbor-solicitation', destination: solicitedNodeMulticast(target), hopLimit: 255, ...fields },
        });
      }),
    );
  });

  it('random NA round-trip, also in frames', () => {
    fc.assert(
      fc.property(unicastIpv6, ipv6, unicastIpv6, fc.option(mac, { nil: undefined }), fc.boolean(), fc.boolean(), fc.boolean(), mac, (source, destination, target, tll, router, solicitedWish, override, ethSource) => {
        const solicited = solicitedWish && !destination.startsWith('ff');
        const expected: NeighborAdvertisement = {
          type: 'neighbor-advertisement',
          source,
          destination,
          hopLimit: 255,
          target,
          router,
          solicited,
          override,
          ...(tll !== undefined ? { targetLinkLayer: tll } : {}),
        };
        const packet = encodeNeighborAdvertisement({ source, destination, target, router, solicited, override, ...(tll !== undefined ? { targetLinkLayer: tll } : {}) });
        assert.deepEqual(decodeNdp(packet), { ok: true, value: expected });
        const r = decodeNdpFrame(encodeIpv6Frame(packet, { source: ethSource, destination: '33:33:00:00:00:01' }));
        assert.ok(r.ok);
        assert.deepEqual(r.value.message, expected);
      }),
    );
  });
});
