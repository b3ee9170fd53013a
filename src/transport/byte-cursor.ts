/**
 * Bounds-checked binary writer and reader for the peer wire format. Integers are big-endian;
 * terms, indexes and lengths are unsigned LEB128 varints (small numbers dominate raft traffic,
 * so most cost one or two bytes); member ids are fixed 8-byte unsigned because they are 64-bit
 * hashes and would not get shorter as varints.
 */
import { assert } from '../base/index.ts';
import { FrameDecodeError } from './frame-decode-error.ts';

/** A varint never needs more than 8 bytes for a value below 2^53. */
const VARINT_BYTES_MAX = 8;
const U64_MAX = (1n << 64n) - 1n;

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialCapacityBytes = 256) {
    assert(Number.isInteger(initialCapacityBytes) && initialCapacityBytes > 0, 'bad capacity');
    this.buffer = new Uint8Array(initialCapacityBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  get size(): number {
    return this.length;
  }

  u8(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, 'u8 out of range');
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  u32(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, 'u32 out of range');
    this.reserve(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
  }

  /** Overwrites a u32 written earlier, for length prefixes known only after the body. */
  patchU32(position: number, value: number): void {
    assert(position >= 0 && position + 4 <= this.length, 'patch outside written bytes');
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, 'u32 out of range');
    this.view.setUint32(position, value);
  }

  u64(value: bigint): void {
    assert(value >= 0n && value <= U64_MAX, 'u64 out of range');
    this.reserve(8);
    this.view.setBigUint64(this.length, value);
    this.length += 8;
  }

  varuint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, 'varuint out of range');
    this.reserve(VARINT_BYTES_MAX);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  /** A varint length followed by the bytes themselves. */
  lengthPrefixed(bytes: Uint8Array): void {
    this.varuint(bytes.length);
    this.raw(bytes);
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The written bytes. The writer must not be used afterwards: the result aliases its buffer. */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}

/**
 * Reads from untrusted bytes. Every read checks the remaining length first, so an
 * attacker-controlled length can never make it allocate more than the input it was given.
 */
export class ByteReader {
  private readonly view: DataView;
  private offset = 0;

  /**
   * With `ownsBytes`, the caller promises that nobody else holds `bytes` (a private copy of a
   * frame), so decoded fields may be views into it: one copy per frame instead of one
   * allocation per entry. The price is that an entry keeps its whole frame alive.
   */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly ownsBytes = false,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++];
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const value = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return value;
  }

  /** Rejects overlong encodings so that every value has exactly one byte form. */
  varuint(what: string): number {
    // Most terms, indexes and lengths fit in one byte.
    if (this.offset < this.bytes.length && this.bytes[this.offset] < 0x80) {
      return this.bytes[this.offset++];
    }
    let value = 0;
    // Multiplying a running scale, not `2 ** (7 * i)`: V8 computes that power with a call to
    // its generic pow on every byte, which showed in the leader's profile.
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      scale *= 0x80;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new FrameDecodeError(`${what}: overlong varint`);
        if (!Number.isSafeInteger(value)) throw new FrameDecodeError(`${what}: varint above 2^53`);
        return value;
      }
    }
    throw new FrameDecodeError(`${what}: varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /**
   * A copy (unless the reader owns its bytes), so decoded messages never alias the socket's
   * receive buffers. Not `bytes.slice`: on a Buffer that returns a view, not a copy.
   */
  lengthPrefixed(what: string, maxBytes: number): Uint8Array {
    const length = this.varuint(`${what} length`);
    if (length > maxBytes) throw new FrameDecodeError(`${what}: ${length} bytes > ${maxBytes}`);
    this.need(length, what);
    const source = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    if (this.ownsBytes) return source;
    const copy = new Uint8Array(length);
    copy.set(source);
    return copy;
  }

  /** A view of the next `length` bytes without copying; the caller decides whether to copy. */
  subarray(length: number, what: string): Uint8Array {
    this.need(length, what);
    const part = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return part;
  }

  expectEnd(what: string): void {
    if (this.remaining !== 0) {
      throw new FrameDecodeError(`${what}: ${this.remaining} trailing bytes`);
    }
  }

  private need(length: number, what: string): void {
    if (length > this.remaining) {
      throw new FrameDecodeError(`${what}: needs ${length} bytes, ${this.remaining} left`);
    }
  }
}
