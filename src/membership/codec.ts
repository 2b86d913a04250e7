// Wire codec of the membership protocol (the plaintext inside the crypto.ts envelope). Pure: bytes in,
// a typed result out; decoding never throws.
//
// Every message:            type u8 | [seq u32 for ping/ack/ping-req/nack] | from str | body | updates
//   ping      (1)           target str                      "are you there, <target>?"
//   ack       (2)           -                               answer to a ping (or relayed for a ping-req)
//   ping-req  (3)           target str, address, port u16   "ping <target> for me" (indirect probe)
//   nack      (4)           -                               relay heard nothing from the target in time
//   gossip    (5)           -                               updates only, no answer expected
//   sync      (6)           flags u8 (bit 0: reply wanted)  push-pull: the sender's whole member table
//   sync-reply(7)           -                               the receiver's whole member table
// updates:                  count u16, then count × update
// update:                   kind u8 | incarnation u32 | name str | body
//   alive (1)               address, port u16
//   suspect (2), dead (3)   from str (the member that suspects / declared it)
//   left (4)                -
// str:                      length u8 + UTF-8 (1..255 bytes)
// address:                  family u8 (4 | 6) + 4 | 16 bytes
import { formatIP, parseIP } from '../net/address.ts';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export type Update =
  | { readonly kind: 'alive'; readonly name: string; readonly incarnation: number; readonly address: string; readonly port: number }
  | { readonly kind: 'suspect'; readonly name: string; readonly incarnation: number; readonly from: string }
  | { readonly kind: 'dead'; readonly name: string; readonly incarnation: number; readonly from: string }
  | { readonly kind: 'left'; readonly name: string; readonly incarnation: number };

export type Message =
  | { readonly type: 'ping'; readonly seq: number; readonly from: string; readonly target: string; readonly updates: readonly Update[] }
  | { readonly type: 'ack'; readonly seq: number; readonly from: string; readonly updates: readonly Update[] }
  | {
      readonly type: 'ping-req';
      readonly seq: number;
      readonly from: string;
      readonly target: string;
      readonly address: string;
      readonly port: number;
      readonly updates: readonly Update[];
    }
  | { readonly type: 'nack'; readonly seq: number; readonly from: string; readonly updates: readonly Update[] }
  | { readonly type: 'gossip'; readonly from: string; readonly updates: readonly Update[] }
  | { readonly type: 'sync'; readonly from: string; readonly wantsReply: boolean; readonly updates: readonly Update[] }
  | { readonly type: 'sync-reply'; readonly from: string; readonly updates: readonly Update[] };

export type MessageType = Message['type'];

export type DecodeResult = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly reason: string };

const typeCodes: Readonly<Record<MessageType, number>> = {
  ping: 1,
  ack: 2,
  'ping-req': 3,
  nack: 4,
  gossip: 5,
  sync: 6,
  'sync-reply': 7,
};
const typeByCode: readonly (MessageType | undefined)[] = [undefined, 'ping', 'ack', 'ping-req', 'nack', 'gossip', 'sync', 'sync-reply'];

const kindCodes: Readonly<Record<Update['kind'], number>> = { alive: 1, suspect: 2, dead: 3, left: 4 };

export const maxNameBytes = 255;
export const maxUpdatesPerMessage = 0xffff;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A caller's mistake (name too long, address not an IP): thrown while encoding, never while decoding. */
export class EncodeError extends RangeError {}

function nameBytes(name: string, what: string): Uint8Array {
  const b = utf8.encode(name);
  if (b.length === 0 || b.length > maxNameBytes) throw new EncodeError(`${what} "${name}" must be 1..${maxNameBytes} bytes of UTF-8`);
  return b;
}

function addressBytes(address: string): { family: 4 | 6; bytes: Uint8Array } {
  const ip = parseIP(address);
  if (!ip) throw new EncodeError(`"${address}" is not an IP address`);
  const length = ip.family === 'IPv4' ? 4 : 16;
  const bytes = new Uint8Array(length);
  let v = ip.value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return { family: ip.family === 'IPv4' ? 4 : 6, bytes };
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new EncodeError(`port ${port} out of range`);
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new EncodeError(`${what} ${v} is not a u32`);
}

/** Growing byte writer. */
class Writer {
  private buf: Buffer;
  private off = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.off++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.off);
    this.off += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.off);
    this.off += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
  }
  str(b: Uint8Array): void {
    this.u8(b.length);
    this.bytes(b);
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

function writeUpdate(w: Writer, u: Update): void {
  checkU32(u.incarnation, 'incarnation');
  w.u8(kindCodes[u.kind]);
  w.u32(u.incarnation);
  w.str(nameBytes(u.name, 'member name'));
  switch (u.kind) {
    case 'alive': {
      checkPort(u.port);
      const a = addressBytes(u.address);
      w.u8(a.family);
      w.bytes(a.bytes);
      w.u16(u.port);
      break;
    }
    case 'suspect':
    case 'dead':
      w.str(nameBytes(u.from, 'member name'));
      break;
    case 'left':
      break;
  }
}

/** UTF-8 length of a name, checked like the encoder checks it (cheap: no copy). */
function nameLength(name: string, what: string): number {
  const n = Buffer.byteLength(name, 'utf8');
  if (n === 0 || n > maxNameBytes) throw new EncodeError(`${what} "${name}" must be 1..${maxNameBytes} bytes of UTF-8`);
  return n;
}

/** Address bytes on the wire; assumes an IP (the encoder rejects anything else). */
const addressLength = (address: string): number => 1 + (address.includes(':') ? 16 : 4);

/** Bytes that `u` takes on the wire (for piggyback budgets), for any `u` that encodeMessage accepts. */
export function encodedUpdateSize(u: Update): number {
  const base = 1 + 4 + 1 + nameLength(u.name, 'member name');
  switch (u.kind) {
    case 'alive':
      return base + addressLength(u.address) + 2;
    case 'suspect':
    case 'dead':
      return base + 1 + nameLength(u.from, 'member name');
    case 'left':
      return base;
  }
}

/** Bytes `m` takes without its updates (for packet budgets); `m.updates` is ignored. */
export function encodedHeaderSize(m: Message): number {
  const from = 1 + nameLength(m.from, 'member name');
  switch (m.type) {
    case 'ping':
      return 1 + 4 + from + 1 + nameLength(m.target, 'target name') + 2;
    case 'ping-req':
      return 1 + 4 + from + 1 + nameLength(m.target, 'target name') + addressLength(m.address) + 2 + 2;
    case 'ack':
    case 'nack':
      return 1 + 4 + from + 2;
    case 'gossip':
    case 'sync-reply':
      return 1 + from + 2;
    case 'sync':
      return 1 + from + 1 + 2;
  }
}

export function encodeMessage(m: Message): Buffer {
  if (m.updates.length > maxUpdatesPerMessage) throw new EncodeError(`${m.updates.length} updates, at most ${maxUpdatesPerMessage}`);
  const w = new Writer();
  w.u8(typeCodes[m.type]);
  switch (m.type) {
    case 'ping':
    case 'ack':
    case 'ping-req':
    case 'nack':
      checkU32(m.seq, 'seq');
      w.u32(m.seq);
      break;
    default:
      break;
  }
  w.str(nameBytes(m.from, 'sender name'));
  switch (m.type) {
    case 'ping':
      w.str(nameBytes(m.target, 'target name'));
      break;
    case 'ping-req': {
      w.str(nameBytes(m.target, 'target name'));
      checkPort(m.port);
      const a = addressBytes(m.address);
      w.u8(a.family);
      w.bytes(a.bytes);
      w.u16(m.port);
      break;
    }
    case 'sync':
      w.u8(m.wantsReply ? 1 : 0);
      break;
    default:
      break;
  }
  w.u16(m.updates.length);
  for (const u of m.updates) writeUpdate(w, u);
  return w.finish();
}

/** Thrown inside the decoder only; decodeMessage turns it into { ok: false }. */
class Malformed extends Error {}

class Reader {
  off = 0;
  constructor(private readonly b: Uint8Array) {}
  private need(n: number, what: string): void {
    if (this.off + n > this.b.length) throw new Malformed(`truncated ${what} at byte ${this.off}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.off++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = (this.b[this.off]! << 8) | this.b[this.off + 1]!;
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = ((this.b[this.off]! << 24) >>> 0) + ((this.b[this.off + 1]! << 16) | (this.b[this.off + 2]! << 8) | this.b[this.off + 3]!);
    this.off += 4;
    return v;
  }
  str(what: string): string {
    const len = this.u8(`${what} length`);
    if (len === 0) throw new Malformed(`empty ${what}`);
    this.need(len, what);
    const slice = this.b.subarray(this.off, this.off + len);
    this.off += len;
    try {
      return utf8Strict.decode(slice);
    } catch {
      throw new Malformed(`${what} is not UTF-8`);
    }
  }
  address(what: string): string {
    const family = this.u8(`${what} family`);
    if (family !== 4 && family !== 6) throw new Malformed(`${what} family ${family}, want 4 or 6`);
    const len = family === 4 ? 4 : 16;
    this.need(len, what);
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(this.b[this.off + i]!);
    this.off += len;
    return formatIP({ family: family === 4 ? 'IPv4' : 'IPv6', value: v });
  }
  done(): boolean {
    return this.off === this.b.length;
  }
}

function readUpdate(r: Reader): Update {
  const code = r.u8('update kind');
  const incarnation = r.u32('incarnation');
  const name = r.str('member name');
  switch (code) {
    case 1: {
      const address = r.address('member address');
      const port = r.u16('member port');
      return { kind: 'alive', name, incarnation, address, port };
    }
    case 2:
      return { kind: 'suspect', name, incarnation, from: r.str('suspecting member') };
    case 3:
      return { kind: 'dead', name, incarnation, from: r.str('declaring member') };
    case 4:
      return { kind: 'left', name, incarnation };
    default:
      throw new Malformed(`unknown update kind ${code}`);
  }
}

export function decodeMessage(bytes: Uint8Array): DecodeResult {
  try {
    const r = new Reader(bytes);
    const code = r.u8('message type');
    const type = typeByCode[code];
    if (type === undefined) throw new Malformed(`unknown message type ${code}`);
    const seq = type === 'ping' || type === 'ack' || type === 'ping-req' || type === 'nack' ? r.u32('seq') : 0;
    const from = r.str('sender name');
    let message: Message;
    const readUpdates = (): Update[] => {
      const count = r.u16('update count');
      const out: Update[] = [];
      for (let i = 0; i < count; i++) out.push(readUpdate(r));
      return out;
    };
    switch (type) {
      case 'ping': {
        const target = r.str('target name');
        message = { type, seq, from, target, updates: readUpdates() };
        break;
      }
      case 'ping-req': {
        const target = r.str('target name');
        const address = r.address('target address');
        const port = r.u16('target port');
        message = { type, seq, from, target, address, port, updates: readUpdates() };
        break;
      }
      case 'ack':
      case 'nack':
        message = { type, seq, from, updates: readUpdates() };
        break;
      case 'gossip':
      case 'sync-reply':
        message = { type, from, updates: readUpdates() };
        break;
      case 'sync': {
        const flags = r.u8('sync flags');
        message = { type, from, wantsReply: (flags & 1) === 1, updates: readUpdates() };
        break;
      }
    }
    if (!r.done()) throw new Malformed(`${bytes.length - r.off} trailing bytes`);
    return { ok: true, message };
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, reason: e.message };
    // Nothing else is expected; still never let wire input throw.
    return { ok: false, reason: `decoder error: ${(e as Error)?.message ?? String(e)}` };
  }
}
