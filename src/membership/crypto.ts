// AES-256-GCM envelope around every membership datagram:
//
//   version u8 (1) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
//   additional authenticated data: version u8 ‖ cluster name (UTF-8)
//
// The cluster name in the AAD keeps two clusters that happen to share a key from accepting each other's
// datagrams. Keys rotate through a keyring: seal with the first key, open with any of them, so a new key
// is rolled out first in second position everywhere, then moved to the front, then the old one removed.
// Random 96-bit nonces are safe for far more messages than a key sees (≈ 2^32 per key).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const envelopeVersion = 1;
export const keyLength = 32;
export const nonceLength = 12;
export const tagLength = 16;
/** Bytes the envelope adds to a plaintext. */
export const envelopeOverhead = 1 + nonceLength + tagLength;

const hkdfSalt = Buffer.from('ironlb-membership-v1', 'utf8');
const hkdfInfo = Buffer.from('aes-256-gcm datagram key', 'utf8');

/**
 * A 32-byte key from a Secret's value: used as is when it is exactly 32 bytes, otherwise derived with
 * HKDF-SHA256 (fixed salt and info), so any passphrase works. Throws on an empty secret.
 */
export function membershipKey(secret: string | Uint8Array): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length === 0) throw new RangeError('membership secret is empty');
  if (bytes.length === keyLength) return bytes;
  return Buffer.from(hkdfSync('sha256', bytes, hkdfSalt, hkdfInfo, keyLength));
}

export type OpenResult =
  | { readonly ok: true; readonly plaintext: Buffer; /** which key of the ring opened it */ readonly keyIndex: number }
  | { readonly ok: false; readonly reason: 'truncated' | 'version' | 'auth' };

export class Keyring {
  private readonly keys: readonly Buffer[];
  private readonly aad: Buffer;

  /** `keys`: 32 bytes each (see membershipKey), the first seals. `cluster`: bound into every envelope. */
  constructor(keys: readonly Uint8Array[], cluster: string) {
    if (keys.length === 0) throw new RangeError('membership keyring is empty');
    this.keys = keys.map((k, i) => {
      if (k.length !== keyLength) throw new RangeError(`membership key ${i} is ${k.length} bytes, want ${keyLength}`);
      return Buffer.from(k);
    });
    this.aad = Buffer.concat([Buffer.from([envelopeVersion]), Buffer.from(cluster, 'utf8')]);
  }

  seal(plaintext: Uint8Array): Buffer {
    const nonce = randomBytes(nonceLength);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0]!, nonce, { authTagLength: tagLength });
    cipher.setAAD(this.aad);
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([Buffer.from([envelopeVersion]), nonce, body, cipher.getAuthTag()]);
  }

  /** Never throws: a short, foreign-version, tampered or wrongly-keyed envelope is { ok: false }. */
  open(envelope: Uint8Array): OpenResult {
    if (envelope.length < envelopeOverhead) return { ok: false, reason: 'truncated' };
    if (envelope[0] !== envelopeVersion) return { ok: false, reason: 'version' };
    const nonce = envelope.subarray(1, 1 + nonceLength);
    const body = envelope.subarray(1 + nonceLength, envelope.length - tagLength);
    const tag = envelope.subarray(envelope.length - tagLength);
    for (let i = 0; i < this.keys.length; i++) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.keys[i]!, nonce, { authTagLength: tagLength });
        decipher.setAAD(this.aad);
        decipher.setAuthTag(tag);
        const out = decipher.update(body);
        decipher.final(); // throws when the tag does not verify
        return { ok: true, plaintext: out, keyIndex: i };
      } catch {
        // next key
      }
    }
    return { ok: false, reason: 'auth' };
  }
}
