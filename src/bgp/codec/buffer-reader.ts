// Sequential big-endian reads over one message (or one field of it). The reader never looks past `end`:
// callers check `remaining` before reading and turn a shortfall into the BgpDecodeError their context calls for.

export class BufferReader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    readonly end = buffer.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  u8(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. Copy before keeping it past the current message. */
  view(n: number): Buffer {
    this.need(n);
    const v = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A copy of the next `n` bytes, safe to keep after the parser reuses its buffer. */
  copy(n: number): Buffer {
    return Buffer.from(this.view(n));
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  /** The reader's own bounds check: reaching it means a caller forgot to check `remaining` (a bug). */
  private need(n: number): void {
    if (n > this.end - this.offset) throw new RangeError(`read of ${n} bytes past the end of the field`);
  }
}
