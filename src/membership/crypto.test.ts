import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { envelopeOverhead, Keyring, membershipKey } from './crypto.ts';

const k1 = membershipKey('first secret');
const k2 = membershipKey('second secret');
const plain = Buffer.from('hello membership');

describe('membership crypto', () => {
  it('derives a 32-byte key with HKDF unless the secret is exactly 32 bytes', () => {
    assert.equal(k1.length, 32);
    assert.deepEqual(membershipKey('first secret'), k1, 'deterministic');
    assert.notDeepEqual(k1, k2);
    const raw = Buffer.alloc(32, 7);
    assert.deepEqual(membershipKey(raw), raw);
    assert.deepEqual(membershipKey('x'.repeat(32)), Buffer.from('x'.repeat(32)));
    assert.equal(membershipKey(Buffer.alloc(33, 7)).length, 32);
    assert.throws(() => membershipKey(''), RangeError);
    assert.throws(() => new Keyring([], 'c'), RangeError);
    assert.throws(() => new Keyring([Buffer.alloc(16)], 'c'), RangeError);
  });

  it('seals with a version byte, a fresh nonce and a tag, and opens', () => {
    const ring = new Keyring([k1], 'prod');
    const a = ring.seal(plain);
    const b = ring.seal(plain);
    assert.equal(a.length, plain.length + envelopeOverhead);
    assert.equal(a[0], 1);
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13), 'nonces differ');
    const r = ring.open(a);
    assert.ok(r.ok);
    assert.deepEqual(r.plaintext, plain);
    assert.equal(r.keyIndex, 0);
  });

  it('rejects a wrong key, another cluster name, a foreign version and truncation', () => {
    const sealed = new Keyring([k1], 'prod').seal(plain);
    assert.deepEqual(new Keyring([k2], 'prod').open(sealed), { ok: false, reason: 'auth' });
    assert.deepEqual(new Keyring([k1], 'staging').open(sealed), { ok: false, reason: 'auth' });
    const v2 = Buffer.from(sealed);
    v2[0] = 2;
    assert.deepEqual(new Keyring([k1], 'prod').open(v2), { ok: false, reason: 'version' });
    const ring = new Keyring([k1], 'prod');
    for (let cut = 0; cut < sealed.length; cut++) assert.equal(ring.open(sealed.subarray(0, cut)).ok, false, `cut ${cut}`);
    assert.deepEqual(ring.open(Buffer.alloc(0)), { ok: false, reason: 'truncated' });
  });

  it('detects any single flipped bit (tamper)', () => {
    const ring = new Keyring([k1], 'prod');
    const sealed = ring.seal(plain);
    for (let bit = 8; bit < sealed.length * 8; bit++) {
      const t = Buffer.from(sealed);
      t[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(ring.open(t).ok, false, `bit ${bit}`);
    }
  });

  it('rotates: seals with the first key, opens with any', () => {
    const old = new Keyring([k1], 'prod');
    const rolling = new Keyring([k1, k2], 'prod'); // new key added second everywhere
    const rotated = new Keyring([k2, k1], 'prod'); // then moved to the front
    const done = new Keyring([k2], 'prod'); // then the old one removed
    assert.ok(rolling.open(old.seal(plain)).ok);
    assert.ok(old.open(rolling.seal(plain)).ok);
    const r = rolling.open(rotated.seal(plain));
    assert.ok(r.ok && r.keyIndex === 1);
    assert.ok(rotated.open(old.seal(plain)).ok);
    assert.ok(done.open(rotated.seal(plain)).ok);
    assert.equal(done.open(old.seal(plain)).ok, false);
  });

  it('never throws on arbitrary bytes (property)', () => {
    const ring = new Keyring([k1, k2], 'prod');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        assert.equal(ring.open(bytes).ok, false);
      }),
      { numRuns: 2000 },
    );
  });
});
