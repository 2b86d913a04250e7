import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMessage, encodedHeaderSize, encodedUpdateSize, encodeMessage, EncodeError, type Message, type Update } from './codec.ts';

const alive: Update = { kind: 'alive', name: 'node-a', incarnation: 7, address: '10.0.0.1', port: 7946 };
const suspect: Update = { kind: 'suspect', name: 'node-b', incarnation: 3, from: 'node-a' };
const dead: Update = { kind: 'dead', name: 'node-c', incarnation: 0xffffffff, from: 'node-a' };
const left: Update = { kind: 'left', name: 'node-d', incarnation: 1 };
const v6: Update = { kind: 'alive', name: 'node-e', incarnation: 0, address: 'fd99::5', port: 1 };

const samples: Message[] = [
  { type: 'ping', seq: 1, from: 'node-a', target: 'node-b', updates: [] },
  { type: 'ack', seq: 0xffffffff, from: 'node-b', updates: [alive, suspect, dead, left, v6] },
  { type: 'ping-req', seq: 9, from: 'node-a', target: 'node-c', address: '10.0.0.3', port: 7946, updates: [suspect] },
  { type: 'ping-req', seq: 9, from: 'node-a', target: 'node-c', address: '2001:db8::3', port: 65535, updates: [] },
  { type: 'nack', seq: 2, from: 'node-b', updates: [left] },
  { type: 'gossip', from: 'ünïcødé-節點', updates: [dead] },
  { type: 'sync', from: 'node-a', wantsReply: true, updates: [alive, v6] },
  { type: 'sync', from: 'node-a', wantsReply: false, updates: [] },
  { type: 'sync-reply', from: 'node-b', updates: [alive] },
];

describe('membership codec', () => {
  it('round-trips every message type and update kind, and predicts sizes exactly', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m);
      const r = decodeMessage(bytes);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.message, m);
      const expected = encodedHeaderSize(m) + m.updates.reduce((n, u) => n + encodedUpdateSize(u), 0);
      assert.equal(bytes.length, expected, m.type);
    }
  });

  it('is compact: a ping carrying one alive update is 28 bytes', () => {
    const bytes = encodeMessage({ type: 'ping', seq: 1, from: 'n1', target: 'n2', updates: [{ ...alive, name: 'n3' }] });
    // type 1 + seq 4 + from 3 + target 3 + count 2 + (kind 1 + inc 4 + name 3 + fam 1 + ip 4 + port 2)
    assert.equal(bytes.length, 28);
  });

  it('rejects truncation, trailing bytes, unknown types and kinds, bad families, empty and non-UTF-8 names', () => {
    const good = encodeMessage(samples[1]!);
    for (let cut = 0; cut < good.length; cut++) assert.equal(decodeMessage(good.subarray(0, cut)).ok, false, `cut at ${cut}`);
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    assert.match(reason(trailing), /trailing/);
    assert.match(reason(Buffer.from([0])), /unknown message type 0/);
    assert.match(reason(Buffer.from([99, 1, 0x61, 0, 0])), /unknown message type 99/);
    // gossip from "a" with one update of kind 9
    assert.match(reason(Buffer.from([5, 1, 0x61, 0, 1, 9, 0, 0, 0, 0, 1, 0x62])), /unknown update kind 9/);
    // gossip from "a", alive "b" with family 5
    assert.match(reason(Buffer.from([5, 1, 0x61, 0, 1, 1, 0, 0, 0, 0, 1, 0x62, 5, 1, 2, 3, 4, 0, 1])), /family 5/);
    assert.match(reason(Buffer.from([5, 0, 0, 0])), /empty sender name/);
    assert.match(reason(Buffer.from([5, 2, 0xc3, 0x28, 0, 0])), /not UTF-8/);
  });

  it('refuses to encode what the wire cannot carry', () => {
    assert.throws(() => encodeMessage({ type: 'gossip', from: 'x'.repeat(256), updates: [] }), EncodeError);
    assert.throws(() => encodeMessage({ type: 'gossip', from: '', updates: [] }), EncodeError);
    assert.throws(() => encodeMessage({ type: 'gossip', from: 'a', updates: [{ ...alive, address: 'node-a.local' }] }), EncodeError);
    assert.throws(() => encodeMessage({ type: 'gossip', from: 'a', updates: [{ ...alive, port: 70000 }] }), EncodeError);
    assert.throws(() => encodeMessage({ type: 'ping', seq: -1, from: 'a', target: 'b', updates: [] }), EncodeError);
  });

  const name = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => Buffer.byteLength(s) <= 255);
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const port = fc.integer({ min: 0, max: 0xffff });
  const ipv4 = fc.ipV4();
  const ip = fc.oneof(ipv4, fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatV6(b)));
  const update: fc.Arbitrary<Update> = fc.oneof(
    fc.record({ kind: fc.constant('alive' as const), name, incarnation: u32, address: ip, port }),
    fc.record({ kind: fc.constant('suspect' as const), name, incarnation: u32, from: name }),
    fc.record({ kind: fc.constant('dead' as const), name, incarnation: u32, from: name }),
    fc.record({ kind: fc.constant('left' as const), name, incarnation: u32 }),
  );
  const updates = fc.array(update, { maxLength: 8 });
  const message: fc.Arbitrary<Message> = fc.oneof(
    fc.record({ type: fc.constant('ping' as const), seq: u32, from: name, target: name, updates }),
    fc.record({ type: fc.constant('ack' as const), seq: u32, from: name, updates }),
    fc.record({ type: fc.constant('ping-req' as const), seq: u32, from: name, target: name, address: ip, port, updates }),
    fc.record({ type: fc.constant('nack' as const), seq: u32, from: name, updates }),
    fc.record({ type: fc.constant('gossip' as const), from: name, updates }),
    fc.record({ type: fc.constant('sync' as const), from: name, wantsReply: fc.boolean(), updates }),
    fc.record({ type: fc.constant('sync-reply' as const), from: name, updates }),
  );

  it('round-trips arbitrary messages (property)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const r = decodeMessage(encodeMessage(m));
        assert.ok(r.ok);
        assert.deepEqual(r.message, JSON.parse(JSON.stringify(m))); // fast-check records have a null prototype
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes, and whatever decodes re-encodes to the same bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeMessage(bytes);
        if (r.ok) assert.deepEqual(encodeMessage(r.message), Buffer.from(bytes));
        else assert.equal(typeof r.reason, 'string');
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated valid messages (property)', () => {
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (m, flips) => {
        const bytes = Buffer.from(encodeMessage(m));
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        const r = decodeMessage(bytes);
        assert.equal(typeof r.ok, 'boolean');
      }),
      { numRuns: 1000 },
    );
  });
});

function reason(bytes: Uint8Array): string {
  const r = decodeMessage(bytes);
  assert.ok(!r.ok, 'expected a decode error');
  return r.reason;
}

/** Canonical (RFC 5952) text of 16 bytes, as the decoder produces it. */
function formatV6(b: Uint8Array): string {
  const hextets = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  const text = hextets.join(':');
  // Let the codec canonicalise: encode then decode an alive update carrying it.
  const m = decodeMessage(encodeMessage({ type: 'gossip', from: 'a', updates: [{ kind: 'alive', name: 'x', incarnation: 0, address: text, port: 0 }] }));
  assert.ok(m.ok);
  const u = m.message.updates[0]!;
  assert.equal(u.kind, 'alive');
  return (u as Update & { kind: 'alive' }).address;
}
