import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  arpReplyFor,
  decodeArp,
  decodeArpFrame,
  encodeArp,
  encodeArpReplyFrame,
  encodeGratuitousArpReplyFrame,
  encodeGratuitousArpRequestFrame,
  type ArpPacket,
} from './arp.ts';
import { formatMac } from './ethernet.ts';
import { ipv4FromBytes } from './ip-bytes.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Captured from Linux on a veth pair: "who-has 10.99.0.1 tell 10.99.0.2" and the kernel's reply.
const KERNEL_REQUEST = hex(`
  ffffffffffff 02000000000b 0806
  0001 0800 06 04 0001 02000000000b 0a630002 000000000000 0a630001`);
const KERNEL_REPLY = hex(`
  02000000000b 02000000000a 0806
  0001 0800 06 04 0002 02000000000a 0a630001 02000000000b 0a630002`);
const ARP_OF = (frame: Buffer): Buffer => frame.subarray(14);

const expectMalformed = (bytes: Uint8Array, reason: RegExp): void => {
  const r = decodeArp(bytes);
  assert.ok(!r.ok, `expected a decode error matching ${reason}`);
  assert.deepEqual([r.error.layer, r.error.kind], ['arp', 'malformed']);
  assert.match(r.error.reason, reason);
};

describe('decodeArp', () => {
  it('decodes a kernel request and reply', () => {
    assert.deepEqual(decodeArp(ARP_OF(KERNEL_REQUEST)), {
      ok: true,
      value: { operation: 'request', senderMac: '02:00:00:00:00:0b', senderIp: '10.99.0.2', targetMac: '00:00:00:00:00:00', targetIp: '10.99.0.1' },
    });
    assert.deepEqual(decodeArp(ARP_OF(KERNEL_REPLY)), {
      ok: true,
      value: { operation: 'reply', senderMac: '02:00:00:00:00:0a', senderIp: '10.99.0.1', targetMac: '02:00:00:00:00:0b', targetIp: '10.99.0.2' },
    });
  });

  it('ignores trailing padding', () => {
    const padded = Buffer.concat([ARP_OF(KERNEL_REQUEST), Buffer.alloc(18)]);
    assert.ok(decodeArp(padded).ok);
  });

  it('decodes whole frames, padded as on the wire', () => {
    const r = decodeArpFrame(Buffer.concat([KERNEL_REQUEST, Buffer.alloc(18)]));
    assert.ok(r.ok);
    assert.equal(r.value.ethernet.source, '02:00:00:00:00:0b');
    assert.equal(r.value.arp.targetIp, '10.99.0.1');
  });

  it('ignores frames of another EtherType', () => {
    const ipv4 = Buffer.from(KERNEL_REQUEST);
    ipv4.writeUInt16BE(0x0800, 12);
    const r = decodeArpFrame(ipv4);
    assert.ok(!r.ok);
    assert.deepEqual([r.error.layer, r.error.kind], ['ethernet', 'ignored']);
  });

  it('passes Ethernet errors through', () => {
    const r = decodeArpFrame(KERNEL_REQUEST.subarray(0, 10));
    assert.ok(!r.ok);
    assert.equal(r.error.layer, 'ethernet');
  });

  it('rejects truncated packets', () => {
    const arp = ARP_OF(KERNEL_REQUEST);
    for (let n = 0; n < 28; n++) expectMalformed(arp.subarray(0, n), /truncated/);
  });

  it('rejects a wrong hardware type', () => {
    const arp = Buffer.from(ARP_OF(KERNEL_REQUEST));
    arp.writeUInt16BE(6, 0); // IEEE 802
    expectMalformed(arp, /hardware type 6 is not Ethernet/);
  });

  it('rejects a wrong protocol type', () => {
    const arp = Buffer.from(ARP_OF(KERNEL_REQUEST));
    arp.writeUInt16BE(0x86dd, 2);
    expectMalformed(arp, /protocol type 0x86dd is not IPv4/);
  });

  it('rejects wrong address lengths', () => {
    const hlen = Buffer.from(ARP_OF(KERNEL_REQUEST));
    hlen[4] = 8;
    expectMalformed(hlen, /hardware address length 8/);
    const plen = Buffer.from(ARP_OF(KERNEL_REQUEST));
    plen[5] = 16;
    expectMalformed(plen, /protocol address length 16/);
  });

  it('ignores operations other than request and reply', () => {
    for (const op of [0, 3, 4, 8, 9, 0xffff]) {
      const arp = Buffer.from(ARP_OF(KERNEL_REQUEST));
      arp.writeUInt16BE(op, 6);
      const r = decodeArp(arp);
      assert.ok(!r.ok);
      assert.equal(r.error.kind, 'ignored');
      assert.match(r.error.reason, new RegExp(`operation ${op}`));
    }
  });
});

describe('encoding', () => {
  it('answers a request exactly as the kernel does (plus padding)', () => {
    const request = decodeArp(ARP_OF(KERNEL_REQUEST));
    assert.ok(request.ok);
    const frame = encodeArpReplyFrame(request.value, '02:00:00:00:00:0A');
    assert.equal(frame.length, 60);
    assert.deepEqual(frame.subarray(0, 42), KERNEL_REPLY);
    assert.deepEqual(frame.subarray(42), Buffer.alloc(18));
  });

  it('builds the reply packet', () => {
    const request: ArpPacket = { operation: 'request', senderMac: '02:00:00:00:00:0b', senderIp: '10.0.0.2', targetMac: '00:00:00:00:00:00', targetIp: '10.0.0.100' };
    assert.deepEqual(arpReplyFor(request, '02:00:00:00:00:AA'), {
      operation: 'reply',
      senderMac: '02:00:00:00:00:aa',
      senderIp: '10.0.0.100',
      targetMac: '02:00:00:00:00:0b',
      targetIp: '10.0.0.2',
    });
  });

  it('builds gratuitous request and reply: sender = target = VIP, to broadcast', () => {
    const request = encodeGratuitousArpRequestFrame('192.168.1.240', '02:42:ac:11:00:02');
    assert.deepEqual(
      request.subarray(0, 42),
      hex(`ffffffffffff 0242ac110002 0806
           0001 0800 06 04 0001 0242ac110002 c0a801f0 ffffffffffff c0a801f0`),
    );
    const reply = encodeGratuitousArpReplyFrame('192.168.1.240', '02:42:ac:11:00:02');
    assert.deepEqual(
      reply.subarray(0, 42),
      hex(`ffffffffffff 0242ac110002 0806
           0001 0800 06 04 0002 0242ac110002 c0a801f0 ffffffffffff c0a801f0`),
    );
    assert.equal(request.length, 60);
    assert.equal(reply.length, 60);
  });

  it('rejects invalid addresses (a caller mistake)', () => {
    const base: ArpPacket = { operation: 'reply', senderMac: '02:00:00:00:00:01', senderIp: '10.0.0.1', targetMac: '02:00:00:00:00:02', targetIp: '10.0.0.2' };
    assert.throws(() => encodeArp({ ...base, senderIp: 'fd00::1' }), RangeError);
    assert.throws(() => encodeArp({ ...base, targetIp: '10.0.0.256' }), RangeError);
    assert.throws(() => encodeArp({ ...base, senderMac: '02:00' }), RangeError);
  });
});

describe('properties', () => {
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));
  const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ipv4FromBytes(b));
  const packet = fc.record({
    operation: fc.constantFrom('request' as const, 'reply' as const),
    senderMac: mac,
    senderIp: ipv4,
    targetMac: mac,
    targetIp: ipv4,
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeArp(bytes);
        decodeArpFrame(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid ARP header never throw', () => {
    const header = hex('0001 0800 06 04');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (tail) => {
        decodeArp(Buffer.concat([header, tail]));
      }),
    );
  });

  it('valid packets round-trip, alone and in frames', () => {
    fc.assert(
      fc.property(packet, mac, (p, source) => {
        const plain: ArpPacket = { ...p };
        assert.deepEqual(decodeArp(encodeArp(plain)), { ok: true, value: plain });
        const reply = arpReplyFor(plain, source);
        const r = decodeArpFrame(encodeArpReplyFrame(plain, source));
        assert.ok(r.ok);
        assert.deepEqual(r.value.arp, reply);
        assert.equal(r.value.ethernet.destination, plain.senderMac);
        assert.equal(r.value.ethernet.source, source);
      }),
    );
  });
});
