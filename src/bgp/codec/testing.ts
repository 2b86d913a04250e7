// Test support for the codec's tests (and the session's): raw byte builders for hand-written vectors and
// malformed messages, and fast-check arbitraries for valid messages. Not used by production code.
import fc from 'fast-check';
import type { IPAddress, IPFamily } from '../../net/address.ts';
import type {
  Aggregator,
  AsPathSegment,
  Capability,
  LargeCommunity,
  MpReach,
  MpUnreach,
  PathAttributes,
  Prefix,
  RawAttribute,
} from './messages.ts';
import type { NotificationInput, OpenInput, RouteRefreshInput, UpdateInput } from './serializer.ts';

/** Bytes from hex, ignoring whitespace: `hex('ff 00')`. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const MARKER = 'ff'.repeat(16);

/** A message with a correct header around `body` (hex or bytes). */
export function frame(type: number, body: string | Buffer = ''): Buffer {
  const b = typeof body === 'string' ? hex(body) : body;
  const h = Buffer.alloc(19, 0xff);
  h.writeUInt16BE(19 + b.length, 16);
  h[18] = type;
  return Buffer.concat([h, b]);
}

/** One raw path attribute as hex; the extended-length bit in `flags` selects a 2-octet length. */
export function attr(flags: number, type: number, value: string = ''): string {
  const v = hex(value);
  const len = flags & 0x10 ? v.length.toString(16).padStart(4, '0') : v.length.toString(16).padStart(2, '0');
  return flags.toString(16).padStart(2, '0') + type.toString(16).padStart(2, '0') + len + v.toString('hex');
}

/** An UPDATE from raw hex fields, with both length fields computed. */
export function rawUpdate(fields: { withdrawn?: string; attrs?: string; nlri?: string }): Buffer {
  const w = hex(fields.withdrawn ?? '');
  const a = hex(fields.attrs ?? '');
  const n = hex(fields.nlri ?? '');
  const body = Buffer.alloc(4 + w.length + a.length + n.length);
  body.writeUInt16BE(w.length, 0);
  w.copy(body, 2);
  body.writeUInt16BE(a.length, 2 + w.length);
  a.copy(body, 4 + w.length);
  n.copy(body, 4 + w.length + a.length);
  return frame(2, body);
}

export { MARKER };

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

/** fc.record with ordinary objects (fast-check makes null-prototype ones, which deepEqual tells apart). */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });

const ipv4 = (value: bigint): IPAddress => ({ family: 'IPv4', value });
const ipv6 = (value: bigint): IPAddress => ({ family: 'IPv6', value });

export const arbIPv4 = (): fc.Arbitrary<IPAddress> => fc.bigInt(0n, (1n << 32n) - 1n).map(ipv4);
export const arbIPv6 = (): fc.Arbitrary<IPAddress> => fc.bigInt(0n, (1n << 128n) - 1n).map(ipv6);

/** An IPv4 unicast address acceptable as NEXT_HOP (not 0, 127/8, 224/3). */
export const arbNextHopIPv4 = (): fc.Arbitrary<IPAddress> =>
  fc.integer({ min: 0x01000000, max: 0xdfffffff }).filter((v) => v >>> 24 !== 127).map((v) => ipv4(BigInt(v)));

export function arbPrefix(family: IPFamily): fc.Arbitrary<Prefix> {
  const bits = family === 'IPv4' ? 32 : 128;
  return fc.tuple(fc.integer({ min: 0, max: bits }), fc.bigInt(0n, (1n << BigInt(bits)) - 1n)).map(([len, v]) => {
    const host = BigInt(bits - len);
    return { address: { family, value: (v >> host) << host }, prefixLength: len };
  });
}

const arbAsn = (fourOctet: boolean): fc.Arbitrary<number> => fc.integer({ min: 1, max: fourOctet ? 0xffffffff : 0xffff });

export function arbAsPath(fourOctet: boolean, types: AsPathSegment['type'][] = ['sequence', 'set', 'confed-sequence', 'confed-set']): fc.Arbitrary<AsPathSegment[]> {
  return fc.array(
    rec({ type: fc.constantFrom(...types), asns: fc.array(arbAsn(fourOctet), { minLength: 1, maxLength: 12 }) }),
    { maxLength: 4 },
  );
}

const arbAggregator = (fourOctet: boolean): fc.Arbitrary<Aggregator> => rec({ asn: arbAsn(fourOctet), address: arbIPv4() });

const arbLarge = (): fc.Arbitrary<LargeCommunity> =>
  rec({ kind: fc.constant('large' as const), globalAdmin: fc.nat({ max: 0xffffffff }), localData1: fc.nat({ max: 0xffffffff }), localData2: fc.nat({ max: 0xffffffff }) });

/** Optional attributes this codec does not interpret (no type it knows, not 14/15). */
export const arbRawAttributes = (): fc.Arbitrary<RawAttribute[]> =>
  fc.uniqueArray(
    rec({
      type: fc.constantFrom(0, 9, 10, 16, 20, 25, 26, 35, 40, 99, 128, 200, 255),
      flags: fc.constantFrom(0x80, 0xc0, 0xe0, 0xa0),
      // Sometimes past 255 bytes, for the extended length bit.
      value: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ minLength: 250, maxLength: 300 })).map((u) => Buffer.from(u)),
    }),
    { selector: (a) => a.type, minLength: 1, maxLength: 3 },
  ).map((list) => list.sort((a, b) => a.type - b.type)); // the order the encoder writes them in

const arbMpReach = (): fc.Arbitrary<MpReach> =>
  fc.oneof(
    rec({
      afi: fc.constant(1),
      safi: fc.constant(1),
      nextHop: rec({ global: arbIPv4() }),
      nlri: fc.array(arbPrefix('IPv4'), { maxLength: 40 }),
    }),
    rec({
      afi: fc.constant(2),
      safi: fc.constant(1),
      nextHop: fc.record({ global: arbIPv6(), linkLocal: arbIPv6() }, { requiredKeys: ['global'], noNullPrototype: true }),
      nlri: fc.array(arbPrefix('IPv6'), { maxLength: 40 }),
    }),
  );

const arbMpUnreach = (): fc.Arbitrary<MpUnreach> =>
  fc.oneof(
    rec({ afi: fc.constant(1), safi: fc.constant(1), withdrawn: fc.array(arbPrefix('IPv4'), { maxLength: 40 }) }),
    rec({ afi: fc.constant(2), safi: fc.constant(1), withdrawn: fc.array(arbPrefix('IPv6'), { maxLength: 40 }) }),
  );

/**
 * Attributes exactly as the decoder returns them after encoding with `fourOctetAs`: no empty lists, no
 * AS4_* on 4-octet sessions, ASNs that fit the session's AS size.
 */
export function arbAttributes(fourOctetAs: boolean): fc.Arbitrary<PathAttributes> {
  return fc.record(
    {
      origin: fc.constantFrom('igp' as const, 'egp' as const, 'incomplete' as const),
      asPath: arbAsPath(fourOctetAs),
      nextHop: arbNextHopIPv4(),
      med: fc.nat({ max: 0xffffffff }),
      localPref: fc.nat({ max: 0xffffffff }),
      atomicAggregate: fc.constant(true),
      aggregator: arbAggregator(fourOctetAs),
      communities: fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 70, size: 'medium' }),
      as4Path: fourOctetAs ? fc.constant(undefined) : arbAsPath(true, ['sequence', 'set']).filter((p) => p.length > 0),
      as4Aggregator: fourOctetAs ? fc.constant(undefined) : arbAggregator(true),
      mpReach: arbMpReach(),
      mpUnreach: arbMpUnreach(),
      largeCommunities: fc.array(arbLarge(), { minLength: 1, maxLength: 25 }),
      unknown: arbRawAttributes(),
    },
    { requiredKeys: [], noNullPrototype: true },
  ).map((a) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v;
    return out as PathAttributes;
  });
}

/** A valid UPDATE: whenever it announces, the mandatory attributes are there. */
export function arbUpdate(fourOctetAs: boolean): fc.Arbitrary<Required<UpdateInput>> {
  return fc
    .record({
      withdrawn: fc.array(arbPrefix('IPv4'), { maxLength: 40 }),
      attributes: arbAttributes(fourOctetAs),
      nlri: fc.array(arbPrefix('IPv4'), { maxLength: 40 }),
      defaults: fc.record({ origin: fc.constant('igp' as const), asPath: arbAsPath(fourOctetAs), nextHop: arbNextHopIPv4() }),
    })
    .map(({ withdrawn, attributes, nlri, defaults }) => {
      let attrs = attributes;
      if (nlri.length > 0 || (attrs.mpReach?.nlri.length ?? 0) > 0) {
        attrs = { origin: defaults.origin, asPath: defaults.asPath, ...attrs };
      }
      if (nlri.length > 0) attrs = { nextHop: defaults.nextHop, ...attrs };
      return { withdrawn, attributes: attrs, nlri };
    });
}

export function arbCapability(): fc.Arbitrary<Capability> {
  return fc.oneof(
    rec({ kind: fc.constant('multiprotocol' as const), afi: fc.nat({ max: 0xffff }), safi: fc.nat({ max: 255 }) }),
    fc.constant({ kind: 'route-refresh' as const }),
    rec({ kind: fc.constant('four-octet-as' as const), asn: fc.integer({ min: 1, max: 0xffffffff }) }),
    rec({
      kind: fc.constant('graceful-restart' as const),
      restarting: fc.boolean(),
      notification: fc.boolean(),
      restartTime: fc.nat({ max: 4095 }),
      families: fc.array(rec({ afi: fc.nat({ max: 0xffff }), safi: fc.nat({ max: 255 }), forwardingPreserved: fc.boolean() }), { maxLength: 4 }),
    }),
    rec({
      kind: fc.constant('unknown' as const),
      code: fc.constantFrom(0, 3, 5, 6, 9, 69, 70, 71, 73, 128, 255),
      value: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    }),
  );
}

export function arbOpen(): fc.Arbitrary<OpenInput> {
  return rec({
    asn: fc.integer({ min: 1, max: 0xffffffff }),
    holdTime: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
    bgpId: fc.integer({ min: 1, max: 0xffffffff }),
    capabilities: fc.array(arbCapability(), { maxLength: 8 }),
  }).map((open) =>
    // A 4-octet ASN goes with the capability that carries it (the encoder insists).
    open.asn > 0xffff && !open.capabilities.some((c) => c.kind === 'four-octet-as' && c.asn === open.asn)
      ? { ...open, capabilities: [...open.capabilities, { kind: 'four-octet-as' as const, asn: open.asn }] }
      : open,
  );
}

export function arbNotification(): fc.Arbitrary<NotificationInput> {
  return fc.oneof(
    rec({ code: fc.nat({ max: 255 }), subcode: fc.nat({ max: 255 }), data: fc.uint8Array({ maxLength: 60 }) }),
    rec({ code: fc.constant(6), subcode: fc.constantFrom(2, 4), shutdownCommunication: fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }).filter((t) => Buffer.byteLength(t) <= 255) }),
  );
}

export function arbRouteRefresh(): fc.Arbitrary<Required<RouteRefreshInput>> {
  return rec({ afi: fc.nat({ max: 0xffff }), safi: fc.nat({ max: 255 }), subtype: fc.nat({ max: 255 }) });
}
