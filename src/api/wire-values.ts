/**
 * Conversions between protobufjs wire values and the member's types.
 *
 * int64 fields decode to Long. Revisions, counts and TTLs fit in a Number and are narrowed with
 * toNumber; lease, member and cluster ids are full 64-bit values and go through bigint exactly.
 * Outgoing 64-bit ids are handed to the encoder as Long objects built from their two 32-bit
 * halves (protobufjs writes `{low, high}` without any string parsing), and the JSON gateway
 * prints them from the same objects.
 */
import protobuf from 'protobufjs';

export type Long = protobuf.Long;
/** What an int64 field holds after decoding (Long) or JSON parsing (Long, number or string). */
export type WireInt64 = Long | number | string | null | undefined;

const EMPTY_BYTES = new Uint8Array(0);
const TWO_32 = 0x1_0000_0000n;

export function isLong(value: unknown): value is Long {
  return typeof value === 'object' && value !== null && 'low' in value && 'high' in value;
}

/** An int64 narrowed to a Number: revisions and counts stay far below 2^53. */
export function toNumber(value: WireInt64): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  const low = value.low >>> 0;
  return value.unsigned
    ? (value.high >>> 0) * 0x1_0000_0000 + low
    : value.high * 0x1_0000_0000 + low;
}

/** A signed 64-bit id (lease ids), exactly. */
export function toBigInt(value: WireInt64): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  if (typeof value === 'string') return BigInt.asIntN(64, BigInt(value));
  const bits = BigInt(value.high) * TWO_32 + BigInt(value.low >>> 0);
  return value.unsigned ? BigInt.asUintN(64, bits) : BigInt.asIntN(64, bits);
}

/** A 64-bit id for the encoder; `unsigned` for uint64 fields (member and cluster ids). */
export function longOf(value: bigint, unsigned: boolean): Long {
  const bits = BigInt.asUintN(64, value);
  const low = Number(bits & 0xffff_ffffn) | 0;
  const high = Number(bits >> 32n) | 0;
  // The encoder reads only low/high (protobufjs LongBits.from), so a plain object is enough.
  return { low, high, unsigned };
}

/** Decoded bytes fields default to a shared empty array; give callers a real Uint8Array. */
export function bytesOf(value: Uint8Array | readonly number[] | null | undefined): Uint8Array {
  if (value === null || value === undefined || value.length === 0) return EMPTY_BYTES;
  return value instanceof Uint8Array ? value : Uint8Array.from(value);
}

/** Bytes that are present but may be empty (range_end: empty and absent mean the same). */
export function optionalBytes(
  value: Uint8Array | readonly number[] | null | undefined,
): Uint8Array | undefined {
  return value === null || value === undefined || value.length === 0 ? undefined : bytesOf(value);
}
