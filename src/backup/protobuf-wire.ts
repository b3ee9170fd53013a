/**
 * The few protobuf wire rules etcd's stored records need (mvccpb.KeyValue, leasepb.Lease,
 * etcdserverpb.AlarmMember): varints, length-delimited bytes, and skipping fields this reader
 * does not know. proto3 omits zero values, and fields are written in field-number order, as
 * etcd's generated marshallers do, so our records are byte-identical to etcd's.
 */

export class ProtobufDecodeError extends Error {
  override readonly name = 'ProtobufDecodeError';
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
const U64 = (1n << 64n) - 1n;

/** Builds one message in a growing buffer; numbers take a fast path, bigints the general one. */
export class ProtobufWriter {
  private bytes: Uint8Array;
  private length = 0;

  /** `sizeHint`: the expected size, so a typical message needs one allocation. */
  constructor(sizeHint = 64) {
    this.bytes = new Uint8Array(sizeHint);
  }

  /** An int64/uint64 field; zero is omitted. Negative int64 values take ten bytes. */
  varintField(field: number, value: bigint | number): void {
    if (value === 0 || value === 0n) return;
    this.varint((field << 3) | VARINT);
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) this.varint(value);
    else this.bigVarint(BigInt(value) & U64);
  }

  /** A bytes/string field; empty is omitted. */
  bytesField(field: number, value: Uint8Array): void {
    if (value.length === 0) return;
    this.varint((field << 3) | LENGTH_DELIMITED);
    this.varint(value.length);
    this.reserve(value.length);
    this.bytes.set(value, this.length);
    this.length += value.length;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** A non-negative safe integer. */
  private varint(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.bytes[this.length++] = rest;
  }

  private bigVarint(value: bigint): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80n) {
      this.bytes[this.length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.bytes[this.length++] = Number(rest);
  }
}

export type FieldValue =
  | { readonly wire: 'varint'; readonly value: bigint }
  | { readonly wire: 'bytes'; readonly value: Uint8Array };

/** The fields of one message in order; unknown wire types 1 and 5 are skipped. */
export function* readFields(bytes: Uint8Array): Generator<{ readonly field: number } & FieldValue> {
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= bytes.length) throw new ProtobufDecodeError('varint runs past the message');
      const byte = bytes[offset++];
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value & U64;
    }
    throw new ProtobufDecodeError('varint longer than ten bytes');
  };
  while (offset < bytes.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw new ProtobufDecodeError('field number 0');
    if (wire === VARINT) {
      yield { field, wire: 'varint', value: varint() };
    } else if (wire === LENGTH_DELIMITED) {
      const length = Number(varint());
      if (offset + length > bytes.length) {
        throw new ProtobufDecodeError(`field ${field} runs past the message`);
      }
      yield { field, wire: 'bytes', value: bytes.subarray(offset, offset + length) };
      offset += length;
    } else if (wire === FIXED64 || wire === FIXED32) {
      offset += wire === FIXED64 ? 8 : 4;
      if (offset > bytes.length)
        throw new ProtobufDecodeError(`field ${field} runs past the message`);
    } else {
      throw new ProtobufDecodeError(`unsupported wire type ${wire} in field ${field}`);
    }
  }
}

/** A varint as a signed int64. */
export const asInt64 = (value: bigint): bigint => BigInt.asIntN(64, value);
