// A reusable, growable big-endian writer. One instance serves many messages: `flush()` hands out a copy of
// what was written and starts over, keeping the (grown) backing buffer.

export class BufferWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialSize = 4096) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.offset;
  }

  private ensure(n: number): void {
    const needed = this.offset + n;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buffer[this.offset++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buffer.writeUInt16BE(v & 0xffff, this.offset);
    this.offset += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buffer.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buffer.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** `n` bytes of 0xff (the header marker). */
  fill(n: number, v: number): this {
    this.ensure(n);
    this.buffer.fill(v, this.offset, this.offset + n);
    this.offset += n;
    return this;
  }

  /** Reserves `n` bytes to be filled in later with `setU8`/`setU16`; returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  setU8(at: number, v: number): void {
    this.buffer[at] = v & 0xff;
  }

  setU16(at: number, v: number): void {
    this.buffer.writeUInt16BE(v & 0xffff, at);
  }

  /** Moves everything written from `from` on forward by `by` bytes (to widen a length field in place). */
  shift(from: number, by: number): void {
    this.ensure(by);
    this.buffer.copy(this.buffer, from + by, from, this.offset);
    this.offset += by;
  }

  /** A copy of everything written since the last flush; the writer is then empty. */
  flush(): Buffer {
    const out = Buffer.allocUnsafe(this.offset);
    this.buffer.copy(out, 0, 0, this.offset);
    this.offset = 0;
    return out;
  }

  /** Drops what was written (after an encoding error, say). */
  reset(): void {
    this.offset = 0;
  }
}
