// Path attributes: one descriptor table (ATTRIBUTE_TABLE) drives decoding, with RFC 7606 revised error
// handling, and encoding.
//
// Each interpreted attribute has an expected flag category and a malformed-attribute action from RFC 7606 §7
// (or the RFC that defines it): "treat-as-withdraw", "attribute-discard" or "session-reset". Decoding reports
// the first two as UpdateProblems and throws BgpDecodeError for the third.
import type { Community } from '../../config/model.ts';
import type { IPAddress, IPFamily } from '../../net/address.ts';
import type { BufferWriter } from './buffer-writer.ts';
import { BgpDecodeError, BgpEncodeError, checkUint, ErrorCode, UpdateSubcode } from './errors.ts';
import {
  AS_TRANS,
  AttributeFlag,
  AttributeType,
  type Aggregator,
  type AsPathSegment,
  type AsPathSegmentType,
  type LargeCommunity,
  type MpNextHop,
  type MpReach,
  type MpUnreach,
  type Origin,
  type PathAttributes,
  type Prefix,
  type RawAttribute,
  type UpdateErrorAction,
  type UpdateProblem,
} from './messages.ts';
import { checkAddress, checkPrefix, decodePrefixes, familyOf, prefixWireLength, writePrefix } from './nlri.ts';


type KnownAttributeType = (typeof AttributeType)[keyof typeof AttributeType];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type Category = 'well-known' | 'optional-transitive' | 'optional-non-transitive';
type MalformedAction = UpdateErrorAction | 'session-reset';

/** The Optional and Transitive flags each category is sent with and must arrive with. */
const CATEGORY_FLAGS: Readonly<Record<Category, number>> = {
  'well-known': AttributeFlag.Transitive,
  'optional-transitive': AttributeFlag.Optional | AttributeFlag.Transitive,
  'optional-non-transitive': AttributeFlag.Optional,
};

interface Fault {
  readonly subcode: number;
  readonly reason: string;
}

interface DecodeContext {
  readonly fourOctetAs: boolean;
  readonly out: Mutable<PathAttributes>;
  readonly unknown: RawAttribute[];
}

interface EncodeContext {
  readonly attrs: PathAttributes;
  readonly fourOctetAs: boolean;
}

/** Writes an attribute's value; `writeAttribute` frames it with flags, type and length. */
type ValueWriter = (w: BufferWriter) => void;

/**
 * Everything the codec knows about one attribute type, for both directions. The Extended Length flag is not
 * here: every attribute gets it exactly when its value exceeds 255 bytes (see `writeAttribute`).
 */
interface AttributeDescriptor {
  readonly code: number;
  readonly name: string;
  readonly category: Category;
  /** Sort key on the wire. Unknown attributes sort in by their type code. */
  readonly order: number;
  readonly onMalformed: MalformedAction;
  /** Decodes the value into `ctx.out`; returns a Fault when the attribute is malformed (and then sets nothing). */
  readonly decode: (ctx: DecodeContext, buf: Buffer, v: number, len: number) => Fault | undefined;
  /** Validates this attribute's value in `ctx.attrs`; returns its writer, or undefined when it is not sent. */
  readonly encode: (ctx: EncodeContext) => ValueWriter | undefined;
}

// RFC 7606 §5.1: MP_REACH_NLRI and MP_UNREACH_NLRI go first, so a receiver still finds the NLRI when a later
// attribute is malformed.
const ORDER_MP_REACH = -2;
const ORDER_MP_UNREACH = -1;

const ORIGINS: readonly Origin[] = ['igp', 'egp', 'incomplete'];
const SEGMENT_TYPES: readonly (AsPathSegmentType | undefined)[] = [undefined, 'set', 'sequence', 'confed-sequence', 'confed-set'];
const SEGMENT_CODES: Readonly<Record<AsPathSegmentType, number>> = { set: 1, sequence: 2, 'confed-sequence': 3, 'confed-set': 4 };

const lengthFault = (name: string, len: number, want: string): Fault => ({
  subcode: UpdateSubcode.AttributeLengthError,
  reason: `${name} length ${len}, want ${want}`,
});

/** Parses AS path segments; returns the segments or why they are malformed (RFC 7606 §7.2, RFC 7607). */
function decodeSegments(buf: Buffer, v: number, len: number, asSize: 2 | 4): AsPathSegment[] | string {
  const segments: AsPathSegment[] = [];
  const end = v + len;
  let p = v;
  while (p < end) {
    if (end - p < 2) return 'truncated segment header';
    const type = SEGMENT_TYPES[buf[p]!];
    const count = buf[p + 1]!;
    if (type === undefined) return `unknown segment type ${buf[p]}`;
    if (count === 0) return 'empty segment';
    p += 2;
    if (p + count * asSize > end) return 'segment runs past the end of the attribute';
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++, p += asSize) {
      const asn = asSize === 4 ? buf.readUInt32BE(p) : buf.readUInt16BE(p);
      if (asn === 0) return 'AS 0 in the path';
      asns[i] = asn;
    }
    segments.push({ type, asns });
  }
  return segments;
}

function decodeIPv4(buf: Buffer, at: number): IPAddress {
  return { family: 'IPv4', value: BigInt(buf.readUInt32BE(at)) };
}

function decodeIPv6(buf: Buffer, at: number): IPAddress {
  return { family: 'IPv6', value: (buf.readBigUInt64BE(at) << 64n) | buf.readBigUInt64BE(at + 8) };
}

function decodeMpNextHop(buf: Buffer, at: number, len: number, family: IPFamily): MpNextHop | undefined {
  if (family === 'IPv4' && len === 4) return { global: decodeIPv4(buf, at) };
  if (len === 16) return { global: decodeIPv6(buf, at) };
  if (len === 32) return { global: decodeIPv6(buf, at), linkLocal: decodeIPv6(buf, at + 16) };
  return undefined;
}

/** Keeps an attribute this codec does not interpret for a family it does not parse (MP_* of another AFI/SAFI). */
function keepRaw(ctx: DecodeContext, type: number, flags: number, buf: Buffer, v: number, len: number): void {
  ctx.unknown.push({ type, flags: flags & 0xe0, value: Buffer.from(buf.subarray(v, v + len)) });
}

// ---------------------------------------------------------------------------------------------------------
// Value encoders

/** Starts an attribute with a one-octet length; `writeAttribute` fills it in, widening it when the value needs. */
function beginAttribute(w: BufferWriter, flags: number, type: number): number {
  const at = w.length;
  w.u8(flags).u8(type).u8(0);
  return at;
}

function writeAttribute(w: BufferWriter, flags: number, type: number, body: ValueWriter): void {
  const at = beginAttribute(w, flags, type);
  body(w);
  const len = w.length - at - 3;
  if (len <= 255) {
    w.setU8(at + 2, len);
    return;
  }
  if (len > 65535) throw new BgpEncodeError(`${attributeName(type)} is longer than 65535 bytes`);
  w.shift(at + 3, 1);
  w.setU8(at, flags | AttributeFlag.ExtendedLength);
  w.setU16(at + 2, len);
}

function writeSegments(w: BufferWriter, segments: readonly AsPathSegment[], asSize: 2 | 4): void {
  for (const s of segments) {
    const code = SEGMENT_CODES[s.type];
    if (code === undefined) throw new BgpEncodeError(`unknown AS path segment type ${String(s.type)}`);
    if (s.asns.length > 255 && s.type !== 'sequence' && s.type !== 'confed-sequence') {
      throw new BgpEncodeError(`AS path ${s.type} of ${s.asns.length} ASNs does not fit one segment`);
    }
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      w.u8(code).u8(chunk.length);
      for (const asn of chunk) {
        checkUint(asn, 32, 'ASN');
        if (asSize === 4) w.u32(asn);
        else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

const needsFourOctets = (segments: readonly AsPathSegment[]): boolean => segments.some((s) => s.asns.some((a) => a > 0xffff));

function writeAggregator(w: BufferWriter, agg: Aggregator, asSize: 2 | 4): void {
  checkUint(agg.asn, 32, 'aggregator ASN');
  checkAddress(agg.address, 'IPv4', 'aggregator address');
  if (asSize === 4) w.u32(agg.asn);
  else w.u16(agg.asn > 0xffff ? AS_TRANS : agg.asn);
  w.u32(Number(agg.address.value));
}

function writeIPv6(w: BufferWriter, ip: IPAddress): void {
  const v = ip.value;
  for (let shift = 96n; shift >= 0n; shift -= 32n) w.u32(Number((v >> shift) & 0xffffffffn));
}

/** Validates the MP_REACH_NLRI header fields; returns the family of the NLRI that follows. */
function checkMpReachHead(afi: number, safi: number, nextHop: MpNextHop): IPFamily {
  const family = familyOf(afi, safi);
  if (family === undefined) throw new BgpEncodeError(`MP_REACH_NLRI for unsupported AFI ${afi} SAFI ${safi}`);
  const g = nextHop.global;
  checkAddress(g, g.family, 'MP_REACH_NLRI next hop');
  if (family === 'IPv6' && g.family !== 'IPv6') throw new BgpEncodeError('an IPv6 route needs an IPv6 next hop');
  if (nextHop.linkLocal !== undefined) {
    checkAddress(nextHop.linkLocal, 'IPv6', 'link-local next hop');
    if (g.family !== 'IPv6') throw new BgpEncodeError('a link-local next hop goes with an IPv6 global next hop');
  }
  return family;
}

function writeCheckedMpReachHead(w: BufferWriter, afi: number, safi: number, nextHop: MpNextHop): void {
  const g = nextHop.global;
  w.u16(afi).u8(safi);
  if (g.family === 'IPv4') {
    w.u8(4).u32(Number(g.value));
  } else {
    w.u8(nextHop.linkLocal ? 32 : 16);
    writeIPv6(w, g);
    if (nextHop.linkLocal) writeIPv6(w, nextHop.linkLocal);
  }
  w.u8(0);
}

/** Writes the MP_REACH_NLRI header fields (AFI, SAFI, next hop, reserved octet) — the part before the NLRI. */
export function writeMpReachHead(w: BufferWriter, afi: number, safi: number, nextHop: MpNextHop): void {
  checkMpReachHead(afi, safi, nextHop);
  writeCheckedMpReachHead(w, afi, safi, nextHop);
}

/** Validates `prefixes`; returns their size on the wire. */
function checkPrefixes(prefixes: readonly Prefix[], family: IPFamily): number {
  let size = 0;
  for (const p of prefixes) {
    checkPrefix(p, family);
    size += prefixWireLength(p);
  }
  return size;
}

function writeCheckedPrefixes(w: BufferWriter, prefixes: readonly Prefix[], size: number): void {
  const scratch = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of prefixes) at = writePrefix(scratch, at, p);
  w.bytes(scratch);
}

/** Encodes `prefixes` as an NLRI / Withdrawn Routes field. */
export function encodePrefixes(w: BufferWriter, prefixes: readonly Prefix[], family: IPFamily): void {
  writeCheckedPrefixes(w, prefixes, checkPrefixes(prefixes, family));
}

// ---------------------------------------------------------------------------------------------------------
// The descriptor table

/** A writer that sends `value` with `write`; undefined (attribute not sent) when `value` is. */
const whenSet = <T>(value: T | undefined, write: (w: BufferWriter, value: T) => void): ValueWriter | undefined =>
  value === undefined ? undefined : (w) => write(w, value);

/** MULTI_EXIT_DISC and LOCAL_PREF: a single 4-octet number. */
function uint32Attribute(code: number, name: string, category: Category, field: 'med' | 'localPref'): AttributeDescriptor {
  return {
    code,
    name,
    category,
    order: code,
    onMalformed: 'treat-as-withdraw',
    decode(ctx, buf, v, len) {
      if (len !== 4) return lengthFault(name, len, '4');
      ctx.out[field] = buf.readUInt32BE(v);
      return undefined;
    },
    encode({ attrs }) {
      const value = attrs[field];
      if (value === undefined) return undefined;
      checkUint(value, 32, name);
      return (w) => w.u32(value);
    },
  };
}

/** With `fourOctetAs` false, the true AS_PATH goes in AS4_PATH (RFC 6793 §4.2.2) unless given explicitly. */
function as4PathToSend({ attrs, fourOctetAs }: EncodeContext): readonly AsPathSegment[] | undefined {
  if (fourOctetAs) return undefined;
  if (attrs.as4Path !== undefined) return attrs.as4Path;
  if (attrs.asPath === undefined || !needsFourOctets(attrs.asPath)) return undefined;
  return attrs.asPath.filter((s) => s.type === 'sequence' || s.type === 'set');
}

/** Likewise the true AGGREGATOR goes in AS4_AGGREGATOR. */
function as4AggregatorToSend({ attrs, fourOctetAs }: EncodeContext): Aggregator | undefined {
  if (fourOctetAs) return undefined;
  if (attrs.as4Aggregator !== undefined) return attrs.as4Aggregator;
  return attrs.aggregator !== undefined && attrs.aggregator.asn > 0xffff ? attrs.aggregator : undefined;
}

/** Every attribute this codec interprets, in the order `writeAttributes` sends them. */
const ATTRIBUTE_TABLE: readonly AttributeDescriptor[] = [
  {
    code: AttributeType.MpReachNlri,
    name: 'MP_REACH_NLRI',
    category: 'optional-non-transitive',
    order: ORDER_MP_REACH,
    onMalformed: 'session-reset',
    decode(ctx, buf, v, len) {
      const fault = (reason: string): Fault => ({ subcode: UpdateSubcode.OptionalAttributeError, reason: `malformed MP_REACH_NLRI: ${reason}` });
      if (len < 5) return fault(`length ${len}`);
      const afi = buf.readUInt16BE(v);
      const safi = buf[v + 2]!;
      const nhLen = buf[v + 3]!;
      if (4 + nhLen + 1 > len) return fault(`next hop length ${nhLen} runs past the attribute`);
      const family = familyOf(afi, safi);
      if (family === undefined) {
        keepRaw(ctx, AttributeType.MpReachNlri, AttributeFlag.Optional, buf, v, len);
        return undefined;
      }
      const nextHop = decodeMpNextHop(buf, v + 4, nhLen, family);
      if (nextHop === undefined) return fault(`next hop length ${nhLen} for ${family}`);
      const nlri: Prefix[] = [];
      const bad = decodePrefixes(buf, v + 5 + nhLen, v + len, family, nlri);
      if (bad !== undefined) return fault(bad);
      ctx.out.mpReach = { afi, safi, nextHop, nlri };
      return undefined;
    },
    encode({ attrs }) {
      const mp = attrs.mpReach;
      if (mp === undefined) return undefined;
      const nlriSize = checkPrefixes(mp.nlri, checkMpReachHead(mp.afi, mp.safi, mp.nextHop));
      return (w) => {
        writeCheckedMpReachHead(w, mp.afi, mp.safi, mp.nextHop);
        writeCheckedPrefixes(w, mp.nlri, nlriSize);
      };
    },
  },
  {
    code: AttributeType.MpUnreachNlri,
    name: 'MP_UNREACH_NLRI',
    category: 'optional-non-transitive',
    order: ORDER_MP_UNREACH,
    onMalformed: 'session-reset',
    decode(ctx, buf, v, len) {
      const fault = (reason: string): Fault => ({ subcode: UpdateSubcode.OptionalAttributeError, reason: `malformed MP_UNREACH_NLRI: ${reason}` });
      if (len < 3) return fault(`length ${len}`);
      const afi = buf.readUInt16BE(v);
      const safi = buf[v + 2]!;
      const family = familyOf(afi, safi);
      if (family === undefined) {
        keepRaw(ctx, AttributeType.MpUnreachNlri, AttributeFlag.Optional, buf, v, len);
        return undefined;
      }
      const withdrawn: Prefix[] = [];
      const bad = decodePrefixes(buf, v + 3, v + len, family, withdrawn);
      if (bad !== undefined) return fault(bad);
      ctx.out.mpUnreach = { afi, safi, withdrawn };
      return undefined;
    },
    encode({ attrs }) {
      const mp = attrs.mpUnreach;
      if (mp === undefined) return undefined;
      const family = familyOf(mp.afi, mp.safi);
      if (family === undefined) throw new BgpEncodeError(`MP_UNREACH_NLRI for unsupported AFI ${mp.afi} SAFI ${mp.safi}`);
      const withdrawnSize = checkPrefixes(mp.withdrawn, family);
      return (w) => {
        w.u16(mp.afi).u8(mp.safi);
        writeCheckedPrefixes(w, mp.withdrawn, withdrawnSize);
      };
    },
  },
  {
    code: AttributeType.Origin,
    name: 'ORIGIN',
    category: 'well-known',
    order: AttributeType.Origin,
    onMalformed: 'treat-as-withdraw',
    decode(ctx, buf, v, len) {
      if (len !== 1) return lengthFault('ORIGIN', len, '1');
      const origin = ORIGINS[buf[v]!];
      if (origin === undefined) return { subcode: UpdateSubcode.InvalidOrigin, reason: `undefined ORIGIN value ${buf[v]}` };
      ctx.out.origin = origin;
      return undefined;
    },
    encode({ attrs }) {
      if (attrs.origin === undefined) return undefined;
      const code = ORIGINS.indexOf(attrs.origin);
      if (code < 0) throw new BgpEncodeError(`unknown ORIGIN ${String(attrs.origin)}`);
      return (w) => w.u8(code);
    },
  },
  {
    code: AttributeType.AsPath,
    name: 'AS_PATH',
    category: 'well-known',
    order: AttributeType.AsPath,
    onMalformed: 'treat-as-withdraw',
    decode(ctx, buf, v, len) {
      const segments = decodeSegments(buf, v, len, ctx.fourOctetAs ? 4 : 2);
      if (typeof segments === 'string') return { subcode: UpdateSubcode.MalformedAsPath, reason: `malformed AS_PATH: ${segments}` };
      ctx.out.asPath = segments;
      return undefined;
    },
    encode: ({ attrs, fourOctetAs }) => whenSet(attrs.asPath, (w, path) => writeSegments(w, path, fourOctetAs ? 4 : 2)),
  },
  {
    code: AttributeType.NextHop,
    name: 'NEXT_HOP',
    category: 'well-known',
    order: AttributeType.NextHop,
    onMalformed: 'treat-as-withdraw',
    decode(ctx, buf, v, len) {
      if (len !== 4) return lengthFault('NEXT_HOP', len, '4');
      const a = buf.readUInt32BE(v);
      // Unspecified, loopback, multicast, reserved and broadcast addresses are never a next hop.
      if (a === 0 || a >>> 24 === 127 || a >= 0xe0000000) {
        return { subcode: UpdateSubcode.InvalidNextHop, reason: `NEXT_HOP ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255} is not a unicast address` };
      }
      ctx.out.nextHop = { family: 'IPv4', value: BigInt(a) };
      return undefined;
    },
    encode({ attrs }) {
      const nh = attrs.nextHop;
      if (nh === undefined) return undefined;
      checkAddress(nh, 'IPv4', 'NEXT_HOP');
      return (w) => w.u32(Number(nh.value));
    },
  },
  uint32Attribute(AttributeType.MultiExitDisc, 'MULTI_EXIT_DISC', 'optional-non-transitive', 'med'),
  uint32Attribute(AttributeType.LocalPref, 'LOCAL_PREF', 'well-known', 'localPref'),
  {
    code: AttributeType.AtomicAggregate,
    name: 'ATOMIC_AGGREGATE',
    category: 'well-known',
    order: AttributeType.AtomicAggregate,
    onMalformed: 'attribute-discard',
    decode(ctx, _buf, _v, len) {
      if (len !== 0) return lengthFault('ATOMIC_AGGREGATE', len, '0');
      ctx.out.atomicAggregate = true;
      return undefined;
    },
    encode: ({ attrs }) => (attrs.atomicAggregate ? () => {} : undefined),
  },
  {
    code: AttributeType.Aggregator,
    name: 'AGGREGATOR',
    category: 'optional-transitive',
    order: AttributeType.Aggregator,
    onMalformed: 'attribute-discard',
    decode(ctx, buf, v, len) {
      const want = ctx.fourOctetAs ? 8 : 6;
      if (len !== want) return lengthFault('AGGREGATOR', len, String(want));
      const asn = ctx.fourOctetAs ? buf.readUInt32BE(v) : buf.readUInt16BE(v);
      if (asn === 0) return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS 0 in AGGREGATOR' };
      ctx.out.aggregator = { asn, address: decodeIPv4(buf, v + want - 4) };
      return undefined;
    },
    encode: ({ attrs, fourOctetAs }) => whenSet(attrs.aggregator, (w, agg) => writeAggregator(w, agg, fourOctetAs ? 4 : 2)),
  },
  {
    code: AttributeType.Communities,
    name: 'COMMUNITIES',
    category: 'optional-transitive',
    order: AttributeType.Communities,
    onMalformed: 'treat-as-withdraw',
    decode(ctx, buf, v, len) {
      if (len === 0 || len % 4 !== 0) return lengthFault('COMMUNITIES', len, 'a non-zero multiple of 4');
      const communities = new Array<number>(len / 4);
      for (let i = 0; i < communities.length; i++) communities[i] = buf.readUInt32BE(v + 4 * i);
      ctx.out.communities = communities;
      return undefined;
    },
    encode({ attrs }) {
      const list = attrs.communities;
      if (list === undefined || list.length === 0) return undefined; // an empty COMMUNITIES is malformed
      for (const c of list) checkUint(c, 32, 'community');
      return (w) => {
        for (const c of list) w.u32(c);
      };
    },
  },
  {
    code: AttributeType.As4Path,
    name: 'AS4_PATH',
    category: 'optional-transitive',
    order: AttributeType.As4Path,
    onMalformed: 'attribute-discard', // RFC 6793 §6
    decode(ctx, buf, v, len) {
      if (ctx.fourOctetAs) return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS4_PATH from a 4-octet-AS speaker' };
      const fault = (reason: string): Fault => ({ subcode: UpdateSubcode.OptionalAttributeError, reason: `malformed AS4_PATH: ${reason}` });
      if (len < 6 || len % 2 !== 0) return fault(`length ${len}`);
      const segments = decodeSegments(buf, v, len, 4);
      if (typeof segments === 'string') return fault(segments);
      // RFC 6793 §6: confederation segments must not appear in AS4_PATH; drop them and carry on.
      const kept = segments.filter((s) => s.type === 'sequence' || s.type === 'set');
      if (kept.length > 0) ctx.out.as4Path = kept;
      return undefined;
    },
    encode(ctx) {
      const path = as4PathToSend(ctx);
      if (path === undefined) return undefined;
      if (path.some((s) => s.type !== 'sequence' && s.type !== 'set')) throw new BgpEncodeError('AS4_PATH cannot carry confederation segments');
      return (w) => writeSegments(w, path, 4);
    },
  },
  {
    code: AttributeType.As4Aggregator,
    name: 'AS4_AGGREGATOR',
    category: 'optional-transitive',
    order: AttributeType.As4Aggregator,
    onMalformed: 'attribute-discard', // RFC 6793 §6
    decode(ctx, buf, v, len) {
      if (ctx.fourOctetAs) return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS4_AGGREGATOR from a 4-octet-AS speaker' };
      if (len !== 8) return lengthFault('AS4_AGGREGATOR', len, '8');
      const asn = buf.readUInt32BE(v);
      if (asn === 0) return { subcode: UpdateSubcode.OptionalAttributeError, reason: 'AS 0 in AS4_AGGREGATOR' };
      ctx.out.as4Aggregator = { asn, address: decodeIPv4(buf, v + 4) };
      return undefined;
    },
    encode: (ctx) => whenSet(as4AggregatorToSend(ctx), (w, agg) => writeAggregator(w, agg, 4)),
  },
  {
    code: AttributeType.LargeCommunity,
    name: 'LARGE_COMMUNITY',
    category: 'optional-transitive',
    order: AttributeType.LargeCommunity,
    onMalformed: 'treat-as-withdraw', // RFC 8092 §6
    decode(ctx, buf, v, len) {
      if (len === 0 || len % 12 !== 0) return lengthFault('LARGE_COMMUNITY', len, 'a non-zero multiple of 12');
      const list = new Array<LargeCommunity>(len / 12);
      for (let i = 0, p = v; i < list.length; i++, p += 12) {
        list[i] = { kind: 'large', globalAdmin: buf.readUInt32BE(p), localData1: buf.readUInt32BE(p + 4), localData2: buf.readUInt32BE(p + 8) };
      }
      ctx.out.largeCommunities = list;
      return undefined;
    },
    encode({ attrs }) {
      const list = attrs.largeCommunities;
      if (list === undefined || list.length === 0) return undefined;
      for (const c of list) {
        checkUint(c.globalAdmin, 32, 'large community global administrator');
        checkUint(c.localData1, 32, 'large community local data');
        checkUint(c.localData2, 32, 'large community local data');
      }
      return (w) => {
        for (const c of list) w.u32(c.globalAdmin).u32(c.localData1).u32(c.localData2);
      };
    },
  },
];

const DESCRIPTORS: ReadonlyMap<number, AttributeDescriptor> = new Map(ATTRIBUTE_TABLE.map((d) => [d.code, d]));

export const attributeName = (type: number): string => DESCRIPTORS.get(type)?.name ?? `attribute ${type}`;

/** The flags an attribute this codec interprets is sent with (before any Extended Length). */
export const attributeFlags = (type: KnownAttributeType): number => CATEGORY_FLAGS[DESCRIPTORS.get(type)!.category];

// ---------------------------------------------------------------------------------------------------------
// Decoding

export interface DecodedAttributes {
  readonly attributes: PathAttributes;
  readonly problems: UpdateProblem[];
  readonly treatAsWithdraw: boolean;
  /** Type codes that appeared (well formed or not): `present[type] === 1`. */
  readonly present: Uint8Array;
}

/**
 * Decodes the Path Attributes field `buf[start, end)`. Throws BgpDecodeError where RFC 7606 still requires a
 * session reset (MP_REACH/MP_UNREACH malformed or repeated, unrecognized well-known attribute, attribute list
 * broken before any attribute could be read); reports every lesser problem in `problems`.
 */
export function decodeAttributes(buf: Buffer, start: number, end: number, fourOctetAs: boolean): DecodedAttributes {
  const out: Mutable<PathAttributes> = {};
  const ctx: DecodeContext = { fourOctetAs, out, unknown: [] };
  const problems: UpdateProblem[] = [];
  const present = new Uint8Array(256);
  let treatAsWithdraw = false;
  let index = 0;

  const report = (action: UpdateErrorAction, subcode: number, type: number | undefined, reason: string, data: Buffer): void => {
    problems.push({ action, subcode, attributeType: type, reason, data: Buffer.from(data) });
    if (action === 'treat-as-withdraw') treatAsWithdraw = true;
  };

  for (let p = start; p < end; index++) {
    // RFC 7606 §4: a length overrunning the field, or too few bytes left for a header, is treat-as-withdraw,
    // relying on the Total Attribute Length to find the NLRI. But treat-as-withdraw needs every NLRI, and
    // MP_REACH/MP_UNREACH come first when present (§5.1): a break in the first attribute, or in an MP_*
    // attribute itself, may hide NLRI, so those reset the session.
    const flags = buf[p]!;
    const headerLength = flags & AttributeFlag.ExtendedLength ? 4 : 3;
    let broken: string | undefined;
    let len = 0;
    if (end - p < headerLength) broken = `${end - p} bytes left, too few for an attribute header`;
    else {
      len = headerLength === 4 ? buf.readUInt16BE(p + 2) : buf[p + 2]!;
      if (p + headerLength + len > end) {
        broken = `${attributeName(buf[p + 1]!)} length ${len} runs past the attribute list`;
        present[buf[p + 1]!] = 1; // it is there, if broken: not also "missing"
      }
    }
    if (broken !== undefined) {
      const type = end - p >= 2 ? buf[p + 1]! : undefined;
      if (index === 0 || type === AttributeType.MpReachNlri || type === AttributeType.MpUnreachNlri) {
        throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, broken);
      }
      report('treat-as-withdraw', UpdateSubcode.MalformedAttributeList, undefined, broken, Buffer.alloc(0));
      break;
    }

    const type = buf[p + 1]!;
    const v = p + headerLength;
    const whole = buf.subarray(p, v + len);
    p = v + len;

    if (present[type]) {
      // RFC 7606 §3(g).
      if (type === AttributeType.MpReachNlri || type === AttributeType.MpUnreachNlri) {
        throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `${attributeName(type)} appears more than once`);
      }
      report('attribute-discard', UpdateSubcode.MalformedAttributeList, type, `repeated ${attributeName(type)} discarded`, whole);
      continue;
    }
    present[type] = 1;

    const descriptor = DESCRIPTORS.get(type);
    if (descriptor === undefined) {
      if (!(flags & AttributeFlag.Optional)) {
        throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.UnrecognizedWellKnownAttribute, `unrecognized well-known attribute ${type}`, whole);
      }
      keepRaw(ctx, type, flags, buf, v, len);
      continue;
    }

    let fault: Fault | undefined;
    if ((flags & (AttributeFlag.Optional | AttributeFlag.Transitive)) !== CATEGORY_FLAGS[descriptor.category]) {
      fault = {
        subcode: UpdateSubcode.AttributeFlagsError,
        reason: `${descriptor.name} flags 0x${flags.toString(16)} do not match a ${descriptor.category} attribute`,
      };
    } else {
      fault = descriptor.decode(ctx, buf, v, len);
    }
    if (fault === undefined) continue;
    const action = descriptor.onMalformed;
    if (action === 'session-reset') throw new BgpDecodeError(ErrorCode.UpdateMessage, fault.subcode, fault.reason, whole);
    report(action, fault.subcode, type, action === 'attribute-discard' ? `${fault.reason}; attribute discarded` : fault.reason, whole);
  }

  if (ctx.unknown.length > 0) out.unknown = ctx.unknown;
  return { attributes: out, problems, treatAsWithdraw, present };
}

/**
 * RFC 4271 §5 / RFC 4760 §3 / RFC 7606 §3(d): an UPDATE announcing anything needs ORIGIN and AS_PATH, and
 * NEXT_HOP when the NLRI field is not empty. A missing one is treat-as-withdraw.
 */
export function missingWellKnown(present: Uint8Array, ipv4Nlri: boolean, mpNlri: boolean): UpdateProblem[] {
  if (!ipv4Nlri && !mpNlri) return [];
  const required: number[] = [AttributeType.Origin, AttributeType.AsPath];
  if (ipv4Nlri) required.push(AttributeType.NextHop);
  return required
    .filter((t) => !present[t])
    .map((t) => ({
      action: 'treat-as-withdraw' as const,
      subcode: UpdateSubcode.MissingWellKnownAttribute,
      attributeType: t,
      reason: `missing well-known attribute ${attributeName(t)}`,
      data: Buffer.from([t]),
    }));
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

interface PendingAttribute {
  readonly order: number;
  readonly flags: number;
  readonly type: number;
  readonly body: ValueWriter;
}

/**
 * Writes the path attributes in table order, unknown ones sorted in by type code. With `fourOctetAs` false,
 * ASNs above 65535 become AS_TRANS and the true AS_PATH / AGGREGATOR go in AS4_PATH / AS4_AGGREGATOR unless
 * given explicitly; with it true, AS4_* are never sent.
 */
export function writeAttributes(w: BufferWriter, attrs: PathAttributes, fourOctetAs: boolean): void {
  const ctx: EncodeContext = { attrs, fourOctetAs };
  const pending: PendingAttribute[] = [];
  for (const d of ATTRIBUTE_TABLE) {
    const body = d.encode(ctx);
    if (body !== undefined) pending.push({ order: d.order, flags: CATEGORY_FLAGS[d.category], type: d.code, body });
  }
  const taken = new Set<number>(pending.map((a) => a.type));
  for (const raw of attrs.unknown ?? []) {
    checkUint(raw.type, 8, 'attribute type');
    if (taken.has(raw.type)) throw new BgpEncodeError(`raw attribute ${raw.type} duplicates another attribute`);
    if (!(raw.flags & AttributeFlag.Optional) && !DESCRIPTORS.has(raw.type)) {
      throw new BgpEncodeError(`raw attribute ${raw.type} is not optional`);
    }
    taken.add(raw.type);
    pending.push({ order: raw.type, flags: raw.flags & 0xe0, type: raw.type, body: (w) => w.bytes(raw.value) });
  }
  pending.sort((a, b) => a.order - b.order);
  for (const a of pending) writeAttribute(w, a.flags, a.type, a.body);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers over decoded attributes

/** Splits configured communities into the COMMUNITIES and LARGE_COMMUNITY attribute values. */
export function splitCommunities(list: readonly Community[]): { communities: number[]; largeCommunities: LargeCommunity[] } {
  const communities: number[] = [];
  const largeCommunities: LargeCommunity[] = [];
  for (const c of list) {
    if (c.kind === 'standard') communities.push(c.value);
    else largeCommunities.push(c);
  }
  return { communities, largeCommunities };
}

const pathLength = (segments: readonly AsPathSegment[]): number =>
  segments.reduce((n, s) => n + (s.type === 'sequence' ? s.asns.length : s.type === 'set' ? 1 : 0), 0);

/**
 * The AS path a route really took (RFC 6793 §4.2.3): from an OLD speaker, AS_PATH holds AS_TRANS where
 * 4-octet ASNs were; AS4_PATH holds the true tail. Without AS4_PATH this is AS_PATH itself.
 */
export function effectiveAsPath(attrs: PathAttributes): readonly AsPathSegment[] | undefined {
  const path = attrs.asPath;
  const as4 = attrs.as4Path;
  if (path === undefined || as4 === undefined) return path;
  let keep = pathLength(path) - pathLength(as4);
  if (keep < 0) return path;
  const head: AsPathSegment[] = [];
  for (const s of path) {
    if (s.type === 'confed-sequence' || s.type === 'confed-set') {
      head.push(s);
      continue;
    }
    if (keep === 0) break;
    if (s.type === 'set') {
      head.push(s);
      keep -= 1;
    } else {
      const take = Math.min(keep, s.asns.length);
      head.push({ type: 'sequence', asns: s.asns.slice(0, take) });
      keep -= take;
    }
  }
  return [...head, ...as4];
}
