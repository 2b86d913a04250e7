// Decoding: `BgpParser` frames a TCP byte stream (feed it chunks as they come; it keeps the unconsumed tail and
// decodes every whole message), and `decodeMessage` decodes one message already cut out. The header is checked
// first (RFC 4271 §6.1), then one small function per message type decodes the body.
//
// A malformed message is a BgpDecodeError carrying the NOTIFICATION to send; nothing else is ever thrown for
// bad input. UPDATE problems that RFC 7606 handles without a reset come back inside the UpdateMessage.
import { decodeAttributes, missingWellKnown } from './attributes.ts';
import { BufferReader } from './buffer-reader.ts';
import { decodeCapabilities } from './capabilities.ts';
import { BgpDecodeError, ErrorCode, HeaderSubcode, OpenSubcode, RouteRefreshSubcode, UpdateSubcode } from './errors.ts';
import {
  BGP_VERSION,
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  type BgpMessage,
  type Capability,
  type KeepaliveMessage,
  type NotificationMessage,
  type OpenMessage,
  type Prefix,
  type RouteRefreshMessage,
  type UpdateMessage,
} from './messages.ts';
import { decodePrefixes } from './nlri.ts';

export interface DecodeOptions {
  /** Both OPENs carried the 4-octet AS capability: AS_PATH and AGGREGATOR use 4-octet ASNs. */
  fourOctetAs: boolean;
  /** RFC 8654 extended messages negotiated: messages up to 65535 bytes. */
  extendedMessages: boolean;
  /**
   * `revised` (default): RFC 7606, malformed attributes become UpdateProblems where the RFC allows.
   * `strict`: RFC 4271, the first such problem is thrown as a BgpDecodeError (session reset) instead.
   */
  errorHandling: 'revised' | 'strict';
}

export const defaultDecodeOptions = (): DecodeOptions => ({ fourOctetAs: false, extendedMessages: false, errorHandling: 'revised' });

const MIN_LENGTH: Readonly<Record<number, number>> = {
  [MessageType.Open]: 29,
  [MessageType.Update]: 23,
  [MessageType.Notification]: 21,
  [MessageType.Keepalive]: 19,
  [MessageType.RouteRefresh]: 19, // the exact-length check (RFC 7313) needs the whole message; see decodeRouteRefresh
};

const PARAM_CAPABILITIES = 2;

function lengthField(buf: Buffer, at: number): Buffer {
  return buf.subarray(at + 16, at + 18);
}

/** Checks the 19-byte header at `at` (the caller has 19 bytes there); returns the message length. */
function checkHeader(buf: Buffer, at: number, maxLength: number): number {
  for (let i = 0; i < 16; i++) {
    if (buf[at + i] !== 0xff) {
      throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized, 'marker is not all ones');
    }
  }
  const length = buf.readUInt16BE(at + 16);
  const type = buf[at + 18]!;
  if (length < HEADER_LENGTH || length > maxLength) {
    throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `message length ${length}`, lengthField(buf, at));
  }
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageType, `unknown message type ${type}`, Buffer.from([type]));
  }
  if (length < min || (type === MessageType.Keepalive && length !== HEADER_LENGTH)) {
    throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `length ${length} for message type ${type}`, lengthField(buf, at));
  }
  return length;
}

/** Decodes the message at `buf[at, at + length)` whose header has been checked. */
function decodeBody(buf: Buffer, at: number, length: number, options: DecodeOptions): BgpMessage {
  const start = at + HEADER_LENGTH;
  const end = at + length;
  switch (buf[at + 18]) {
    case MessageType.Open:
      return decodeOpen(buf, at, start, end);
    case MessageType.Update:
      return decodeUpdate(buf, start, end, options);
    case MessageType.Notification:
      return decodeNotification(buf, start, end);
    case MessageType.Keepalive:
      return KEEPALIVE;
    default:
      return decodeRouteRefresh(buf, at, end);
  }
}

const KEEPALIVE: KeepaliveMessage = Object.freeze({ type: 'keepalive' });

function decodeOpen(buf: Buffer, at: number, start: number, end: number): OpenMessage {
  const r = new BufferReader(buf, start, end);
  const version = r.u8();
  if (version !== BGP_VERSION) {
    throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedVersionNumber, `version ${version}`, Buffer.from([0, BGP_VERSION]));
  }
  const myAs = r.u16();
  const holdTime = r.u16();
  const bgpId = r.u32();
  let paramsLength = r.u8();
  let extended = false;
  // RFC 9072: a first parameter of type 255 after a length of 255 announces 2-octet lengths.
  if (paramsLength === 255 && r.remaining >= 3 && buf[r.offset] === 255) {
    r.skip(1);
    paramsLength = r.u16();
    extended = true;
  }
  if (paramsLength !== r.remaining) {
    throw new BgpDecodeError(
      ErrorCode.MessageHeader,
      HeaderSubcode.BadMessageLength,
      `OPEN optional parameters length ${paramsLength} with ${r.remaining} bytes left`,
      lengthField(buf, at),
    );
  }
  const capabilities: Capability[] = [];
  while (r.remaining > 0) {
    const headerLength = extended ? 3 : 2;
    if (r.remaining < headerLength) throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.Unspecific, 'truncated optional parameter');
    const type = r.u8();
    const len = extended ? r.u16() : r.u8();
    if (len > r.remaining) throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.Unspecific, `optional parameter ${type} runs past the message`);
    if (type !== PARAM_CAPABILITIES) {
      throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedOptionalParameter, `optional parameter type ${type}`);
    }
    decodeCapabilities(buf, r.offset, r.offset + len, capabilities);
    r.skip(len);
  }
  // RFC 7607: AS 0 is never a peer's AS.
  if (myAs === 0) throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, 'AS 0 in My Autonomous System');
  // RFC 6286: any non-zero 32-bit value.
  if (bgpId === 0) throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, 'BGP Identifier 0');
  if (holdTime === 1 || holdTime === 2) {
    throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime, `hold time ${holdTime} s`);
  }
  let asn = myAs;
  for (const c of capabilities) if (c.kind === 'four-octet-as') asn = c.asn;
  return { type: 'open', version, myAs, asn, holdTime, bgpId, capabilities };
}

function decodeUpdate(buf: Buffer, start: number, end: number, options: DecodeOptions): UpdateMessage {
  let p = start;
  const withdrawnLength = buf.readUInt16BE(p);
  p += 2;
  if (p + withdrawnLength + 2 > end) {
    throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `withdrawn routes length ${withdrawnLength} overruns the message`);
  }
  const withdrawn: Prefix[] = [];
  const badWithdrawn = decodePrefixes(buf, p, p + withdrawnLength, 'IPv4', withdrawn);
  if (badWithdrawn !== undefined) {
    throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField, `withdrawn routes: ${badWithdrawn}`);
  }
  p += withdrawnLength;
  const attributesLength = buf.readUInt16BE(p);
  p += 2;
  if (p + attributesLength > end) {
    throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, `total path attribute length ${attributesLength} overruns the message`);
  }
  const decoded = decodeAttributes(buf, p, p + attributesLength, options.fourOctetAs);
  const nlri: Prefix[] = [];
  const badNlri = decodePrefixes(buf, p + attributesLength, end, 'IPv4', nlri);
  if (badNlri !== undefined) throw new BgpDecodeError(ErrorCode.UpdateMessage, UpdateSubcode.InvalidNetworkField, `NLRI: ${badNlri}`);

  const problems = decoded.problems;
  let treatAsWithdraw = decoded.treatAsWithdraw;
  const missing = missingWellKnown(decoded.present, nlri.length > 0, (decoded.attributes.mpReach?.nlri.length ?? 0) > 0);
  if (missing.length > 0) {
    problems.push(...missing);
    treatAsWithdraw = true;
  }
  if (options.errorHandling === 'strict' && problems.length > 0) {
    const first = problems[0]!;
    throw new BgpDecodeError(ErrorCode.UpdateMessage, first.subcode, first.reason, first.data);
  }
  return { type: 'update', withdrawn, attributes: decoded.attributes, nlri, treatAsWithdraw, problems };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeNotification(buf: Buffer, start: number, end: number): NotificationMessage {
  const code = buf[start]!;
  const subcode = buf[start + 1]!;
  const data = Buffer.from(buf.subarray(start + 2, end));
  const shutdownCommunication = decodeShutdownCommunication(code, subcode, data);
  return shutdownCommunication === undefined
    ? { type: 'notification', code, subcode, data }
    : { type: 'notification', code, subcode, data, shutdownCommunication };
}

/** RFC 8203 as updated by RFC 9003: a length octet (≤ 255) and that many octets of UTF-8. */
function decodeShutdownCommunication(code: number, subcode: number, data: Buffer): string | undefined {
  if (code !== ErrorCode.Cease || (subcode !== 2 && subcode !== 4) || data.length < 1) return undefined;
  const len = data[0]!;
  if (len === 0 || len > data.length - 1) return undefined;
  try {
    return utf8.decode(data.subarray(1, 1 + len));
  } catch {
    return undefined; // not UTF-8: leave it as raw data
  }
}

function decodeRouteRefresh(buf: Buffer, at: number, end: number): RouteRefreshMessage {
  if (end - at !== HEADER_LENGTH + 4) {
    throw new BgpDecodeError(
      ErrorCode.RouteRefreshMessage,
      RouteRefreshSubcode.InvalidMessageLength,
      `ROUTE-REFRESH length ${end - at}`,
      buf.subarray(at, end),
    );
  }
  const p = at + HEADER_LENGTH;
  return { type: 'route-refresh', afi: buf.readUInt16BE(p), subtype: buf[p + 2]!, safi: buf[p + 3]! };
}

const maxLength = (options: DecodeOptions): number => (options.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH);

/** Decodes exactly one message (header included). Throws BgpDecodeError, and nothing else, on bad input. */
export function decodeMessage(buf: Buffer, options: Partial<DecodeOptions> = {}): BgpMessage {
  const opts = { ...defaultDecodeOptions(), ...options };
  if (buf.length < HEADER_LENGTH) {
    throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `${buf.length} bytes, shorter than a header`);
  }
  const length = checkHeader(buf, 0, maxLength(opts));
  if (length !== buf.length) {
    throw new BgpDecodeError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, `length field ${length} for ${buf.length} bytes`, lengthField(buf, 0));
  }
  return decodeBody(buf, 0, length, opts);
}

const EMPTY = Buffer.alloc(0);

/**
 * Frames a BGP byte stream. Feed each chunk as it arrives; every complete message is decoded and handed to
 * `onMessage` in order. Options are read per message, so a session can switch on `fourOctetAs` from within
 * the callback for the OPEN, before the next message in the same chunk is decoded.
 *
 * The first malformed message stops the parser: `feed` returns the BgpDecodeError (the NOTIFICATION to send)
 * and keeps returning it; the session resets and starts a new parser with its next connection.
 */
export class BgpParser {
  readonly options: DecodeOptions;
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private length = 0;
  /** Our own growable buffer, reused for tails that span chunks (chunks themselves are never written to). */
  private storage: Buffer | undefined;
  private failure: BgpDecodeError | undefined;

  constructor(options: Partial<DecodeOptions> = {}) {
    this.options = { ...defaultDecodeOptions(), ...options };
  }

  /** Bytes received but not yet decoded (a partial message). */
  get buffered(): number {
    return this.length;
  }

  get failed(): BgpDecodeError | undefined {
    return this.failure;
  }

  feed(chunk: Buffer, onMessage: (message: BgpMessage) => void): BgpDecodeError | undefined {
    if (this.failure) return this.failure;
    if (chunk.length === 0) return undefined;
    this.append(chunk);
    while (this.length >= HEADER_LENGTH) {
      const buf = this.buffer;
      const at = this.offset;
      let message: BgpMessage;
      let length: number;
      try {
        length = checkHeader(buf, at, maxLength(this.options));
        if (this.length < length) break;
        message = decodeBody(buf, at, length, this.options);
      } catch (e) {
        if (!(e instanceof BgpDecodeError)) throw e;
        this.failure = e;
        this.buffer = EMPTY;
        this.offset = this.length = 0;
        return e;
      }
      this.offset += length;
      this.length -= length;
      if (this.length === 0) {
        this.buffer = EMPTY;
        this.offset = 0;
      }
      onMessage(message);
    }
    return undefined;
  }

  private append(chunk: Buffer): void {
    if (this.length === 0) {
      this.buffer = chunk;
      this.offset = 0;
      this.length = chunk.length;
      return;
    }
    const total = this.length + chunk.length;
    let storage = this.storage;
    if (storage !== undefined && this.buffer === storage && this.offset + total <= storage.length) {
      chunk.copy(storage, this.offset + this.length);
      this.length = total;
      return;
    }
    if (storage === undefined || total > storage.length) {
      storage = Buffer.allocUnsafe(Math.max(total, 2 * (storage?.length ?? 0), 8192));
    }
    // copyWithin semantics: Buffer.copy handles the overlap when the tail already sits in `storage`.
    this.buffer.copy(storage, 0, this.offset, this.offset + this.length);
    chunk.copy(storage, this.length);
    const next = storage;
    this.storage = next;
    this.buffer = next;
    this.offset = 0;
    this.length = total;
  }
}
