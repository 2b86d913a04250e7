// Encoding: one function per message type, all writing through one reusable BufferWriter, each returning a
// Buffer of its own. `encodeUpdates` packs many prefixes sharing attributes into as few UPDATEs as fit.
import type { IPAddress, IPFamily } from '../../net/address.ts';
import { attributeFlags, encodePrefixes, writeAttributes, writeMpReachHead } from './attributes.ts';
import { BufferWriter } from './buffer-writer.ts';
import { writeCapability } from './capabilities.ts';
import { BgpEncodeError, checkUint } from './errors.ts';
import {
  AS_TRANS,
  AttributeFlag,
  AttributeType,
  BGP_VERSION,
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  Safi,
  type AfiSafi,
  type Capability,
  type MpNextHop,
  type PathAttributes,
  type Prefix,
} from './messages.ts';
import { afiOf, checkAddress, checkPrefix, writePrefix } from './nlri.ts';

const writer = new BufferWriter(MAX_MESSAGE_LENGTH);

function message(type: number, maxLength: number, body: (w: BufferWriter) => void): Buffer {
  writer.reset();
  writer.fill(16, 0xff).u16(0).u8(type);
  body(writer);
  const length = writer.length;
  if (length > maxLength) {
    writer.reset();
    throw new BgpEncodeError(`message of ${length} bytes exceeds the ${maxLength}-byte limit`);
  }
  writer.setU16(16, length);
  return writer.flush();
}

function checkMaxLength(maxLength: number): number {
  if (!Number.isInteger(maxLength) || maxLength < 64 || maxLength > MAX_EXTENDED_MESSAGE_LENGTH) {
    throw new BgpEncodeError(`message length limit ${maxLength}`);
  }
  return maxLength;
}

// ---------------------------------------------------------------------------------------------------------

export interface OpenInput {
  /** Our ASN, 1–4294967295; My Autonomous System carries AS_TRANS when it needs 4 octets. */
  readonly asn: number;
  /** Seconds: 0 or 3–65535. */
  readonly holdTime: number;
  /** BGP Identifier as an unsigned 32-bit number, not 0. */
  readonly bgpId: number;
  /** Sent in Capabilities optional parameters; include the 4-octet AS capability when `asn` > 65535. */
  readonly capabilities: readonly Capability[];
}

export function encodeOpen(open: OpenInput): Buffer {
  checkUint(open.asn, 32, 'ASN');
  if (open.asn === 0) throw new BgpEncodeError('ASN 0');
  checkUint(open.holdTime, 16, 'hold time');
  if (open.holdTime === 1 || open.holdTime === 2) throw new BgpEncodeError(`hold time ${open.holdTime} s`);
  checkUint(open.bgpId, 32, 'BGP Identifier');
  if (open.bgpId === 0) throw new BgpEncodeError('BGP Identifier 0');
  if (open.asn > 0xffff && !open.capabilities.some((c) => c.kind === 'four-octet-as' && c.asn === open.asn)) {
    // The peer would take AS_TRANS for our AS.
    throw new BgpEncodeError(`ASN ${open.asn} needs the 4-octet AS capability carrying it`);
  }

  // Capabilities go in Capabilities parameters of up to 255 bytes each; past 255 bytes of parameters in
  // all, RFC 9072's extended format carries them in one parameter with a 2-octet length.
  const capWriter = new BufferWriter(256);
  const encoded: Buffer[] = [];
  for (const c of open.capabilities) {
    writeCapability(capWriter, c);
    encoded.push(capWriter.flush());
  }
  const params: Buffer[][] = [];
  let current: Buffer[] | undefined;
  let size = 0;
  for (const cap of encoded) {
    if (current === undefined || size + cap.length > 255) {
      current = [];
      params.push(current);
      size = 0;
    }
    current.push(cap);
    size += cap.length;
  }
  const paramSize = (p: Buffer[]): number => p.reduce((m, c) => m + c.length, 0);
  const paramsLength = params.reduce((n, p) => n + 2 + paramSize(p), 0);
  const extended = paramsLength > 255 || params.some((p) => paramSize(p) > 255);

  return message(MessageType.Open, MAX_MESSAGE_LENGTH, (w) => {
    w.u8(BGP_VERSION)
      .u16(open.asn > 0xffff ? AS_TRANS : open.asn)
      .u16(open.holdTime)
      .u32(open.bgpId);
    if (!extended) {
      w.u8(paramsLength);
      for (const p of params) {
        w.u8(2).u8(paramSize(p));
        for (const c of p) w.bytes(c);
      }
    } else {
      const capsLength = encoded.reduce((n, c) => n + c.length, 0);
      w.u8(255).u8(255).u16(3 + capsLength).u8(2).u16(capsLength);
      for (const c of encoded) w.bytes(c);
    }
  });
}

export function encodeKeepalive(): Buffer {
  return message(MessageType.Keepalive, MAX_MESSAGE_LENGTH, () => {});
}

export interface NotificationInput {
  readonly code: number;
  readonly subcode: number;
  readonly data?: Uint8Array;
  /**
   * RFC 8203/9003 shutdown communication for Cease / Administrative Shutdown or Reset: UTF-8, cut to 255
   * bytes at a character boundary. Replaces `data`.
   */
  readonly shutdownCommunication?: string;
}

export function encodeNotification(n: NotificationInput): Buffer {
  checkUint(n.code, 8, 'error code');
  checkUint(n.subcode, 8, 'error subcode');
  let data = n.data ?? new Uint8Array(0);
  if (n.shutdownCommunication !== undefined) data = shutdownCommunicationData(n.shutdownCommunication);
  return message(MessageType.Notification, MAX_MESSAGE_LENGTH, (w) => {
    w.u8(n.code).u8(n.subcode);
    // A NOTIFICATION must fit; cut oversized data rather than fail to say why we close.
    w.bytes(data.subarray(0, MAX_MESSAGE_LENGTH - HEADER_LENGTH - 2));
  });
}

function shutdownCommunicationData(text: string): Buffer {
  let bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) {
    let end = 255;
    while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
    bytes = bytes.subarray(0, end);
  }
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export interface RouteRefreshInput extends AfiSafi {
  /** RFC 7313: 0 normal request (default), 1 BoRR, 2 EoRR. */
  readonly subtype?: number;
}

export function encodeRouteRefresh(r: RouteRefreshInput): Buffer {
  checkUint(r.afi, 16, 'AFI');
  checkUint(r.safi, 8, 'SAFI');
  checkUint(r.subtype ?? 0, 8, 'ROUTE-REFRESH subtype');
  return message(MessageType.RouteRefresh, MAX_MESSAGE_LENGTH, (w) => w.u16(r.afi).u8(r.subtype ?? 0).u8(r.safi));
}

export interface UpdateInput {
  /** IPv4 Withdrawn Routes field. */
  readonly withdrawn?: readonly Prefix[];
  readonly attributes?: PathAttributes;
  /** IPv4 NLRI field. */
  readonly nlri?: readonly Prefix[];
}

export interface EncodeOptions {
  /** The session negotiated 4-octet AS numbers. */
  readonly fourOctetAs: boolean;
  /** Default 4096; up to 65535 with RFC 8654 extended messages. */
  readonly maxMessageLength?: number;
}

/** Encodes one UPDATE exactly as given; throws BgpEncodeError if it does not fit in one message. */
export function encodeUpdate(update: UpdateInput, options: EncodeOptions): Buffer {
  const maxLength = checkMaxLength(options.maxMessageLength ?? MAX_MESSAGE_LENGTH);
  return message(MessageType.Update, maxLength, (w) => {
    const withdrawnAt = w.reserve(2);
    encodePrefixes(w, update.withdrawn ?? [], 'IPv4');
    w.setU16(withdrawnAt, w.length - withdrawnAt - 2);
    const attributesAt = w.reserve(2);
    writeAttributes(w, update.attributes ?? {}, options.fourOctetAs);
    const attributesLength = w.length - attributesAt - 2;
    if (attributesLength > 0xffff) throw new BgpEncodeError('path attributes longer than 65535 bytes');
    w.setU16(attributesAt, attributesLength);
    encodePrefixes(w, update.nlri ?? [], 'IPv4');
  });
}

/** RFC 4724 §2: End-of-RIB is an empty UPDATE for IPv4 unicast, a bare MP_UNREACH_NLRI for other families. */
export function encodeEndOfRib(family: IPFamily): Buffer {
  if (family === 'IPv4') return encodeUpdate({}, { fourOctetAs: false });
  return encodeUpdate({ attributes: { mpUnreach: { afi: afiOf(family), safi: Safi.Unicast, withdrawn: [] } } }, { fourOctetAs: false });
}

// ---------------------------------------------------------------------------------------------------------
// Prefix packing

export interface UpdateBatch {
  readonly family: IPFamily;
  /** Shared by every announced prefix. NLRI-carrying attributes (mpReach, mpUnreach) are ignored here. */
  readonly attributes: PathAttributes;
  /**
   * IPv4: the NEXT_HOP (else `attributes.nextHop`). IPv6: the global next hop for MP_REACH_NLRI.
   * Required when anything is announced.
   */
  readonly nextHop?: IPAddress;
  /** IPv6 only: a link-local next hop sent alongside the global one (the 32-byte form). */
  readonly linkLocalNextHop?: IPAddress;
  readonly announce: readonly Prefix[];
  readonly withdraw: readonly Prefix[];
  readonly fourOctetAs: boolean;
  /** Default 4096. */
  readonly maxMessageLength?: number;
}

const UPDATE_FIXED = HEADER_LENGTH + 4; // header, Withdrawn Routes Length, Total Path Attribute Length

/**
 * Encodes withdrawals, then announcements, into as few UPDATEs as fit in the message limit: IPv4 in the
 * Withdrawn Routes and NLRI fields, IPv6 in MP_UNREACH_NLRI and MP_REACH_NLRI. A message carries either
 * withdrawals or announcements, never both, so a prefix in both lists ends up announced.
 */
export function encodeUpdates(batch: UpdateBatch): Buffer[] {
  const maxLength = checkMaxLength(batch.maxMessageLength ?? MAX_MESSAGE_LENGTH);
  const { family } = batch;
  if (family !== 'IPv4' && family !== 'IPv6') throw new BgpEncodeError(`unknown family ${String(family)}`);
  const out: Buffer[] = [];
  if (batch.withdraw.length > 0) packWithdrawals(batch, maxLength, out);
  if (batch.announce.length > 0) packAnnouncements(batch, maxLength, out);
  return out;
}

/**
 * Splits `prefixes` into runs whose wire size fits `budget`; returns the run ends and byte sizes.
 * Validates every prefix on the way.
 */
function plan(prefixes: readonly Prefix[], family: IPFamily, budget: number): { ends: number[]; sizes: number[] } {
  const ends: number[] = [];
  const sizes: number[] = [];
  let size = 0;
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    checkPrefix(p, family);
    const n = 1 + ((p.prefixLength + 7) >> 3); // length octet + address octets
    if (size + n > budget && size > 0) {
      ends.push(i);
      sizes.push(size);
      size = 0;
    }
    size += n;
  }
  ends.push(prefixes.length);
  sizes.push(size);
  return { ends, sizes };
}

function header(buf: Buffer, length: number): void {
  buf.fill(0xff, 0, 16);
  buf.writeUInt16BE(length, 16);
  buf[18] = MessageType.Update;
}

/** Writes an MP_* attribute header (3 or 4 bytes) for a value of `len` bytes; returns the offset after it. */
function attributeHeader(buf: Buffer, at: number, type: typeof AttributeType.MpReachNlri | typeof AttributeType.MpUnreachNlri, len: number): number {
  const flags = attributeFlags(type);
  if (len > 255) {
    buf[at] = flags | AttributeFlag.ExtendedLength;
    buf[at + 1] = type;
    buf.writeUInt16BE(len, at + 2);
    return at + 4;
  }
  buf[at] = flags;
  buf[at + 1] = type;
  buf[at + 2] = len;
  return at + 3;
}

function packWithdrawals(batch: UpdateBatch, maxLength: number, out: Buffer[]): void {
  const { family, withdraw } = batch;
  const v6 = family === 'IPv6';
  // IPv6: MP_UNREACH_NLRI header (up to 4) + AFI/SAFI (3).
  const overhead = UPDATE_FIXED + (v6 ? 7 : 0);
  const { ends, sizes } = plan(withdraw, family, maxLength - overhead);
  let start = 0;
  for (let m = 0; m < ends.length; m++) {
    const end = ends[m]!;
    const size = sizes[m]!;
    let length: number;
    let buf: Buffer;
    let p: number;
    if (!v6) {
      length = UPDATE_FIXED + size;
      buf = Buffer.allocUnsafe(length);
      buf.writeUInt16BE(size, HEADER_LENGTH);
      p = HEADER_LENGTH + 2;
    } else {
      const valueLength = 3 + size;
      const attrLength = (valueLength > 255 ? 4 : 3) + valueLength;
      length = UPDATE_FIXED + attrLength;
      buf = Buffer.allocUnsafe(length);
      buf.writeUInt16BE(0, HEADER_LENGTH);
      buf.writeUInt16BE(attrLength, HEADER_LENGTH + 2);
      p = attributeHeader(buf, HEADER_LENGTH + 4, AttributeType.MpUnreachNlri, valueLength);
      buf.writeUInt16BE(afiOf(family), p);
      buf[p + 2] = Safi.Unicast;
      p += 3;
    }
    header(buf, length);
    for (let i = start; i < end; i++) p = writePrefix(buf, p, withdraw[i]!);
    if (!v6) buf.writeUInt16BE(0, p); // Total Path Attribute Length
    out.push(buf);
    start = end;
  }
}

function packAnnouncements(batch: UpdateBatch, maxLength: number, out: Buffer[]): void {
  const { family, announce } = batch;
  const v6 = family === 'IPv6';
  const { mpReach: _r, mpUnreach: _u, ...shared } = batch.attributes;
  let attributes: PathAttributes = shared;
  let mpHead: Buffer | undefined;
  if (!v6) {
    const nextHop = batch.nextHop ?? shared.nextHop;
    if (nextHop === undefined) throw new BgpEncodeError('IPv4 announcements need a next hop');
    checkAddress(nextHop, 'IPv4', 'NEXT_HOP');
    attributes = { ...shared, nextHop };
  } else {
    const global = batch.nextHop ?? batch.attributes.mpReach?.nextHop.global;
    if (global === undefined) throw new BgpEncodeError('IPv6 announcements need a next hop');
    const linkLocal = batch.linkLocalNextHop ?? (batch.nextHop ? undefined : batch.attributes.mpReach?.nextHop.linkLocal);
    const nextHop: MpNextHop = linkLocal === undefined ? { global } : { global, linkLocal };
    checkAddress(global, 'IPv6', 'IPv6 next hop');
    const { nextHop: _nh, ...rest } = shared; // RFC 4760 §3: no NEXT_HOP without IPv4 NLRI
    attributes = rest;
    const w = new BufferWriter(64);
    writeMpReachHead(w, afiOf(family), Safi.Unicast, nextHop);
    mpHead = w.flush();
  }
  const w = new BufferWriter(256);
  writeAttributes(w, attributes, batch.fourOctetAs);
  const shared_ = w.flush();

  const overhead = UPDATE_FIXED + shared_.length + (mpHead ? 4 + mpHead.length : 0);
  const budget = maxLength - overhead;
  if (budget < (v6 ? 17 : 5)) throw new BgpEncodeError(`path attributes of ${shared_.length} bytes leave no room for a prefix`);
  const { ends, sizes } = plan(announce, family, budget);
  let start = 0;
  for (let m = 0; m < ends.length; m++) {
    const end = ends[m]!;
    const size = sizes[m]!;
    let attrLength = shared_.length;
    let mpValueLength = 0;
    if (mpHead) {
      mpValueLength = mpHead.length + size;
      attrLength += (mpValueLength > 255 ? 4 : 3) + mpValueLength;
    }
    const length = UPDATE_FIXED + attrLength + (mpHead ? 0 : size);
    const buf = Buffer.allocUnsafe(length);
    header(buf, length);
    buf.writeUInt16BE(0, HEADER_LENGTH);
    buf.writeUInt16BE(attrLength, HEADER_LENGTH + 2);
    let p = HEADER_LENGTH + 4;
    if (mpHead) {
      // RFC 7606 §5.1: MP_REACH_NLRI first.
      p = attributeHeader(buf, p, AttributeType.MpReachNlri, mpValueLength);
      p += mpHead.copy(buf, p);
      for (let i = start; i < end; i++) p = writePrefix(buf, p, announce[i]!);
      shared_.copy(buf, p);
    } else {
      p += shared_.copy(buf, p);
      for (let i = start; i < end; i++) p = writePrefix(buf, p, announce[i]!);
    }
    out.push(buf);
    start = end;
  }
}
