import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeEthernet,
  encodeEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV6,
  formatMac,
  isMulticastMac,
  normalizeMac,
  parseMac,
  type EthernetFrame,
} from './ethernet.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// An ARP request as the Linux kernel sent it (captured with tcpdump on a veth).
const KERNEL_ARP_REQUEST = hex(`
  ffffffffffff 02000000000b 0806
  0001 0800 06 04 0001 02000000000b 0a630002 000000000000 0a630001`);

describe('MAC addresses', () => {
  it('parses colon and dash forms in any case, and formats canonically', () => {
    assert.deepEqual(parseMac('02:00:5E:10:00:01'), Uint8Array.of(2, 0, 0x5e, 0x10, 0, 1));
    assert.deepEqual(parseMac('02-00-5e-10-00-01'), Uint8Array.of(2, 0, 0x5e, 0x10, 0, 1));
    assert.equal(normalizeMac('AA-BB-CC-DD-EE-0F'), 'aa:bb:cc:dd:ee:0f');
    assert.equal(formatMac(Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7), 2), '02:03:04:05:06:07');
  });

  it('rejects what is not a MAC', () => {
    for (const bad of ['', '02:00:5e:10:00', '02:00:5e:10:00:01:02', 'g2:00:5e:10:00:01', '0200.5e10.0001']) {
      assert.equal(parseMac(bad), undefined, bad);
      assert.throws(() => normalizeMac(bad), RangeError);
    }
  });

  it('knows multicast from unicast', () => {
    assert.equal(isMulticastMac('33:33:ff:00:00:01'), true);
    assert.equal(isMulticastMac('ff:ff:ff:ff:ff:ff'), true);
    assert.equal(isMulticastMac('02:00:00:00:00:01'), false);
  });
});

describe('decodeEthernet', () => {
  it('decodes a kernel-built frame', () => {
    const r = decodeEthernet(KERNEL_ARP_REQUEST);
    assert.ok(r.ok);
    assert.equal(r.value.destination, 'ff:ff:ff:ff:ff:ff');
    assert.equal(r.value.source, '02:00:00:00:00:0b');
    assert.equal(r.value.etherType, ETHERTYPE_ARP);
    assert.equal(r.value.vlan, undefined);
    assert.deepEqual(Buffer.from(r.value.payload), KERNEL_ARP_REQUEST.subarray(14));
  });

  it('tolerates one 802.1Q tag and reports it', () => {
    const tagged = Buffer.concat([KERNEL_ARP_REQUEST.subarray(0, 12), hex('8100 b00a'), KERNEL_ARP_REQUEST.subarray(12)]);
    const r = decodeEthernet(tagged);
    assert.ok(r.ok);
    assert.deepEqual(r.value.vlan, { id: 10, priority: 5, dropEligible: true });
    assert.equal(r.value.etherType, ETHERTYPE_ARP);
    assert.equal(r.value.payload.length, 28);
  });

  it('rejects stacked VLAN tags clearly', () => {
    const qinq = Buffer.concat([KERNEL_ARP_REQUEST.subarray(0, 12), hex('88a8 0064 8100 000a'), KERNEL_ARP_REQUEST.subarray(12)]);
    const r1 = decodeEthernet(qinq);
    assert.ok(!r1.ok);
    assert.equal(r1.error.kind, 'ignored');
    assert.match(r1.error.reason, /802\.1ad/);
    const doubleQ = Buffer.concat([KERNEL_ARP_REQUEST.subarray(0, 12), hex('8100 0064 8100 000a'), KERNEL_ARP_REQUEST.subarray(12)]);
    const r2 = decodeEthernet(doubleQ);
    assert.ok(!r2.ok);
    assert.match(r2.error.reason, /stacked VLAN/);
  });

  it('reports truncation as malformed', () => {
    for (let n = 0; n < 14; n++) {
      const r = decodeEthernet(KERNEL_ARP_REQUEST.subarray(0, n));
      assert.ok(!r.ok);
      assert.deepEqual([r.error.layer, r.error.kind], ['ethernet', 'malformed']);
      assert.match(r.error.reason, /truncated/);
    }
    const tagged = Buffer.concat([KERNEL_ARP_REQUEST.subarray(0, 12), hex('8100 000a')]);
    for (let n = 14; n < 18; n++) {
      const r = decodeEthernet(tagged.subarray(0, n));
      assert.ok(!r.ok);
      assert.match(r.error.reason, /truncated.*VLAN/);
    }
  });

  it('ignores IEEE 802.3 frames (length instead of EtherType)', () => {
    const llc = Buffer.concat([KERNEL_ARP_REQUEST.subarray(0, 12), hex('0026'), Buffer.alloc(38)]);
    const r = decodeEthernet(llc);
    assert.ok(!r.ok);
    assert.equal(r.error.kind, 'ignored');
    assert.match(r.error.reason, /802\.3 length/);
  });
});

describe('encodeEthernet', () => {
  it('writes the header and pads to 60 bytes', () => {
    const frame = encodeEthernet({
      destination: 'ff:ff:ff:ff:ff:ff',
      source: '02:00:00:00:00:0b',
      etherType: ETHERTYPE_ARP,
      payload: KERNEL_ARP_REQUEST.subarray(14),
    });
    assert.equal(frame.length, 60);
    assert.deepEqual(frame.subarray(0, 42), KERNEL_ARP_REQUEST);
    assert.deepEqual(frame.subarray(42), Buffer.alloc(18));
  });

  it('writes a VLAN tag', () => {
    const frame = encodeEthernet({
      destination: '33:33:00:00:00:01',
      source: '02:00:00:00:00:0b',
      etherType: ETHERTYPE_IPV6,
      vlan: { id: 4095, priority: 7, dropEligible: false },
      payload: Buffer.alloc(100, 1),
    });
    assert.equal(frame.length, 118);
    assert.deepEqual(frame.subarray(12, 18), hex('8100 efff 86dd'));
  });

  it('rejects invalid fields (a caller mistake)', () => {
    const base: EthernetFrame = { destination: 'ff:ff:ff:ff:ff:ff', source: '02:00:00:00:00:01', etherType: 0x0800, payload: new Uint8Array() };
    assert.throws(() => encodeEthernet({ ...base, source: 'nope' }), RangeError);
    assert.throws(() => encodeEthernet({ ...base, etherType: 0x10000 }), RangeError);
    assert.throws(() => encodeEthernet({ ...base, vlan: { id: 4096, priority: 0, dropEligible: false } }), RangeError);
    assert.throws(() => encodeEthernet({ ...base, vlan: { id: 1, priority: 8, dropEligible: false } }), RangeError);
  });
});

describe('properties', () => {
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));
  const frame = fc.record({
    destination: mac,
    source: mac,
    etherType: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => ![0x8100, 0x88a8, 0x9100, 0x9200].includes(t)),
    vlan: fc.option(fc.record({ id: fc.integer({ min: 0, max: 4095 }), priority: fc.integer({ min: 0, max: 7 }), dropEligible: fc.boolean() }), {
      nil: undefined,
    }),
    // At least 46 bytes, so no padding is added and the payload round-trips exactly.
    payload: fc.uint8Array({ minLength: 46, maxLength: 200 }),
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        decodeEthernet(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('valid frames round-trip', () => {
    fc.assert(
      fc.property(frame, (f) => {
        // fast-check records have a null prototype; rebuild plain objects for deepEqual.
        const base = { destination: f.destination, source: f.source, etherType: f.etherType, payload: f.payload };
        const input: EthernetFrame = f.vlan ? { ...base, vlan: { ...f.vlan } } : base;
        const r = decodeEthernet(encodeEthernet(input));
        assert.ok(r.ok);
        assert.deepEqual({ ...r.value, payload: Buffer.from(r.value.payload) }, { ...input, payload: Buffer.from(input.payload) });
      }),
    );
  });
});
