import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeControl, diagnosticName, encodeControl, type BfdDecodeReason, type ControlPacket } from './codec.ts';

const base: ControlPacket = {
  diagnostic: 0,
  state: 'Up',
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  demand: false,
  detectMult: 3,
  myDiscriminator: 0x01020304,
  yourDiscriminator: 0x0a0b0c0d,
  desiredMinTxUs: 300_000,
  requiredMinRxUs: 300_000,
  requiredMinEchoRxUs: 50_000,
};

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Decodes and returns the failure reason (asserting there is one). */
const reason = (bytes: Uint8Array): BfdDecodeReason => {
  const r = decodeControl(bytes);
  assert.equal(r.ok, false, 'expected a decode failure');
  return r.ok ? (undefined as never) : r.error.reason;
};

const withByte = (bytes: Buffer, at: number, value: number): Buffer => {
  const b = Buffer.from(bytes);
  b[at] = value;
  return b;
};

describe('BFD Control packet codec', () => {
  it('encodes the RFC 5880 §4.1 layout byte for byte', () => {
    const bytes = encodeControl({ ...base, diagnostic: 1, state: 'Init', poll: true, controlPlaneIndependent: true });
    assert.deepEqual(
      bytes,
      hex(`
        21 a8 03 18
        01 02 03 04
        0a 0b 0c 0d
        00 04 93 e0
        00 04 93 e0
        00 00 c3 50`),
    );
  });

  it('decodes a packet as FRR bfdd sends it while Down (Your Discriminator 0, 1 s slow TX)', () => {
    const r = decodeControl(hex('20 40 03 18  5b 2e 4a 11  00 00 00 00  00 0f 42 40  00 01 86 a0  00 00 c3 50'));
    assert.ok(r.ok);
    assert.deepEqual(r.packet, {
      diagnostic: 0,
      state: 'Down',
      poll: false,
      final: false,
      controlPlaneIndependent: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: 0x5b2e4a11,
      yourDiscriminator: 0,
      desiredMinTxUs: 1_000_000,
      requiredMinRxUs: 100_000,
      requiredMinEchoRxUs: 50_000,
    });
  });

  it('reads every flag and the states', () => {
    for (const state of ['AdminDown', 'Down', 'Init', 'Up'] as const) {
      for (const flags of [{ poll: true }, { final: true }, { demand: true }, { controlPlaneIndependent: true }]) {
        const p = { ...base, state, ...flags };
        const r = decodeControl(encodeControl(p));
        assert.ok(r.ok);
        assert.deepEqual(r.packet, p);
      }
    }
  });

  it('ignores bytes after Length (Length ≤ payload is all RFC 5880 asks)', () => {
    const r = decodeControl(Buffer.concat([encodeControl(base), Buffer.from([1, 2, 3])]));
    assert.ok(r.ok);
    assert.deepEqual(r.packet, base);
  });

  it('applies the reception checks of RFC 5880 §6.8.6 in order', () => {
    const good = encodeControl(base);
    assert.equal(reason(new Uint8Array(0)), 'truncated');
    assert.equal(reason(withByte(good, 0, 0x40)), 'bad-version'); // version 2
    assert.equal(reason(withByte(good, 0, 0x00)), 'bad-version'); // version 0
    assert.equal(reason(good.subarray(0, 23)), 'truncated');
    assert.equal(reason(withByte(good, 3, 23)), 'bad-length');
    assert.equal(reason(withByte(good, 3, 0)), 'bad-length');
    assert.equal(reason(withByte(good, 3, 25)), 'length-exceeds-payload');
    assert.equal(reason(withByte(good, 2, 0)), 'zero-detect-mult');
    assert.equal(reason(withByte(good, 1, good[1]! | 0x01)), 'multipoint');
    const noMy = Buffer.from(good);
    noMy.writeUInt32BE(0, 4);
    assert.equal(reason(noMy), 'zero-my-discriminator');
  });

  it('accepts Your Discriminator 0 only in Down and AdminDown', () => {
    for (const state of ['AdminDown', 'Down'] as const) {
      assert.ok(decodeControl(encodeControl({ ...base, state, yourDiscriminator: 0 })).ok);
    }
    for (const state of ['Init', 'Up'] as const) {
      const bytes = encodeControl({ ...base, state, yourDiscriminator: 1 });
      bytes.writeUInt32BE(0, 8);
      assert.equal(reason(bytes), 'zero-your-discriminator');
    }
  });

  it('checks the authentication section, then rejects authentication (none is configured)', () => {
    const withAuth = (length: number, authLen: number, payload = length): Buffer => {
      const b = Buffer.alloc(payload);
      encodeControl(base).copy(b);
      b[1] = b[1]! | 0x04;
      b[3] = length;
      if (payload > 24) b[24] = 1; // Simple Password
      if (payload > 25) b[25] = authLen;
      return b;
    };
    assert.equal(reason(withAuth(24, 0, 24)), 'bad-length'); // A set: at least 26
    assert.equal(reason(withAuth(25, 0, 26)), 'bad-length');
    assert.equal(reason(withAuth(30, 6, 27)), 'length-exceeds-payload');
    assert.equal(reason(withAuth(28, 5, 28)), 'bad-auth-section'); // section runs past Length
    assert.equal(reason(withAuth(28, 1, 28)), 'bad-auth-section');
    assert.equal(reason(withAuth(28, 4, 28)), 'authentication-unsupported');
    const r = decodeControl(withAuth(28, 4, 28));
    assert.ok(!r.ok && /type 1/.test(r.error.message));
  });

  it('refuses to encode values out of range, and P with F', () => {
    assert.throws(() => encodeControl({ ...base, detectMult: 0 }), RangeError);
    assert.throws(() => encodeControl({ ...base, detectMult: 256 }), RangeError);
    assert.throws(() => encodeControl({ ...base, diagnostic: 32 }), RangeError);
    assert.throws(() => encodeControl({ ...base, myDiscriminator: 0 }), RangeError);
    assert.throws(() => encodeControl({ ...base, desiredMinTxUs: 2 ** 32 }), RangeError);
    assert.throws(() => encodeControl({ ...base, requiredMinRxUs: 1.5 }), RangeError);
    assert.throws(() => encodeControl({ ...base, poll: true, final: true }), RangeError);
  });

  it('names diagnostics', () => {
    assert.equal(diagnosticName(1), 'Control Detection Time Expired');
    assert.equal(diagnosticName(3), 'Neighbor Signaled Session Down');
    assert.equal(diagnosticName(7), 'Administratively Down');
    assert.equal(diagnosticName(20), 'Diagnostic 20');
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const arbPacket: fc.Arbitrary<ControlPacket> = fc
  .record({
    diagnostic: fc.integer({ min: 0, max: 31 }),
    state: fc.constantFrom('AdminDown', 'Down', 'Init', 'Up' as const),
    pf: fc.constantFrom('none', 'poll', 'final'),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: u32,
    desiredMinTxUs: u32,
    requiredMinRxUs: u32,
    requiredMinEchoRxUs: u32,
  })
  .map(({ pf, ...p }) => ({
    ...p,
    poll: pf === 'poll',
    final: pf === 'final',
    yourDiscriminator: p.state === 'Up' || p.state === 'Init' ? p.yourDiscriminator || 1 : p.yourDiscriminator,
  }));

describe('BFD codec properties', () => {
  it('decode(encode(p)) is p', () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const r = decodeControl(encodeControl(p));
        assert.ok(r.ok);
        assert.deepEqual(r.packet, p);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes; what it accepts re-encodes to the same 24 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const r = decodeControl(bytes);
        if (!r.ok) {
          assert.equal(typeof r.error.reason, 'string');
          return;
        }
        if (r.packet.poll && r.packet.final) return; // accepted (§6.8.6 does not discard it), but we never send it
        const again = Buffer.from(bytes.subarray(0, 24));
        again[3] = 24;
        assert.deepEqual(encodeControl(r.packet), again);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on mutations of valid packets (one byte changed, truncated, or extended)', () => {
    fc.assert(
      fc.property(
        arbPacket,
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 40 }),
        (p, at, value, cut) => {
          const b = Buffer.from(encodeControl(p));
          b[at] = value;
          const variants = [b, b.subarray(0, cut), Buffer.concat([b, Buffer.alloc(cut, value)])];
          for (const v of variants) {
            const r = decodeControl(v);
            assert.ok(r.ok || r.error instanceof Error);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
