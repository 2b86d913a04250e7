// The outcome of decoding bytes from the wire: a value, or a typed error. Decoders never throw, so a
// responder can count a bad frame and drop it.

export type DecodeLayer = 'ethernet' | 'arp' | 'ipv6' | 'icmpv6' | 'ndp';

export interface DecodeError {
  readonly layer: DecodeLayer;
  /**
   * `malformed`: broken or invalid per its RFC (count it, drop it).
   * `ignored`: well-formed but not something this decoder handles, e.g. an IPv6 packet that is not
   * ICMPv6 or an ARP operation other than request/reply (drop it silently).
   */
  readonly kind: 'malformed' | 'ignored';
  readonly reason: string;
}

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DecodeError };

export const decoded = <T>(value: T): DecodeResult<T> => ({ ok: true, value });

export const malformed = (layer: DecodeLayer, reason: string): { ok: false; error: DecodeError } => ({
  ok: false,
  error: { layer, kind: 'malformed', reason },
});

export const ignored = (layer: DecodeLayer, reason: string): { ok: false; error: DecodeError } => ({
  ok: false,
  error: { layer, kind: 'ignored', reason },
});

/** "ndp: hop limit 64, must be 255" */
export const describeDecodeError = (e: DecodeError): string => `${e.layer}: ${e.reason}`;
