/**
 * Conversions between the client's public shapes and etcd's wire messages. Revisions, versions,
 * counts and TTLs become numbers (they stay far below 2^53); lease, member and cluster ids become
 * bigints because they use all 64 bits.
 */
import type { WireHeader, WireKeyValue } from './wire.ts';

/** Keys and values may be given as text (UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

export interface ResponseHeader {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly raftTerm: number;
}

export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The attached lease id, 0n when none. */
  readonly lease: bigint;
}

export function toBytes(input: Bytes): Uint8Array {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
}

/** etcd's way to say "every key with this prefix": the prefix with its last byte plus one. */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  // A prefix of only 0xff bytes (or empty) has no successor: the range runs to the end of keys.
  return Uint8Array.of(0);
}

/** The range_end meaning "every key >= key". */
export const FROM_KEY_RANGE_END: Uint8Array = Uint8Array.of(0);

export function toNumber(decimal: string): number {
  return Number(decimal);
}

export function toBigInt(decimal: string): bigint {
  return decimal === '' ? 0n : BigInt(decimal);
}

/** int64 fields accept decimal strings; bigint goes through one so no bits are lost. */
export function int64(value: bigint | number): string | number {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Member ids are unsigned; a negative bigint would be sign-extended on the wire. */
export function uint64(value: bigint): string {
  return BigInt.asUintN(64, value).toString();
}

export function toHeader(header: WireHeader | null | undefined): ResponseHeader {
  if (header === null || header === undefined) {
    return { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
  }
  return {
    clusterId: toBigInt(header.cluster_id),
    memberId: toBigInt(header.member_id),
    revision: Number(header.revision),
    raftTerm: Number(header.raft_term),
  };
}

export function toKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: toBigInt(kv.lease),
  };
}

export function toKeyValueOrUndefined(kv: WireKeyValue | null | undefined): KeyValue | undefined {
  return kv === null || kv === undefined ? undefined : toKeyValue(kv);
}
