/**
 * The internal requests a member proposes through raft, and their entry encoding.
 *
 * Encoding: one version byte, then
 *  - version 1: JSON with two tagged forms so nothing is lost: bytes as {"$b": base64} and 64-bit
 *    integers as {"$n": decimal}. Self-describing and trivially extended; used for every kind
 *    but a plain put. Entries written before lease ids became bigints hold `lease` as a plain
 *    JSON number; the decoder turns it into a bigint.
 *  - version 3: a put, in binary (the hot path: JSON and base64 of the value cost more CPU than
 *    the rest of the write): id u64 BE · presence/value flags u16 BE · lease i64 BE if present ·
 *    key length u32 BE · key · value length u32 BE · value if present.
 *  - version 2: the same with the lease as f64 BE; no longer written.
 * Every version decodes forever: entries written by any stay in WALs and snapshots' logs.
 */
import { assert, BugError } from '../base/index.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  TxnRequest,
} from '../mvcc/index.ts';
import type { AlarmType } from './server-api.ts';

export type InternalRequest =
  | { readonly kind: 'put'; readonly put: PutRequest }
  | { readonly kind: 'deleteRange'; readonly deleteRange: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly txn: TxnRequest }
  | { readonly kind: 'compact'; readonly compact: CompactionRequest }
  | { readonly kind: 'leaseGrant'; readonly id: bigint; readonly ttlSeconds: number }
  | { readonly kind: 'leaseRevoke'; readonly id: bigint }
  /** A keepalive that reached a follower: applied, it renews the lease on the leader. */
  | { readonly kind: 'leaseRenew'; readonly id: bigint }
  /**
   * A TimeToLive that reached a follower. Only the leader's lessor counts expiry, so the
   * leader answers it, when it applies the query, with a leaseTimeToLiveAnswer entry; the
   * follower's waiter for the query settles when that answer is applied.
   */
  | { readonly kind: 'leaseTimeToLiveQuery'; readonly id: bigint }
  | {
      readonly kind: 'leaseTimeToLiveAnswer';
      /** The request id of the query this answers. */
      readonly queryId: bigint;
      readonly id: bigint;
      /** Whole seconds the lease had left on the leader; -1: no such lease. */
      readonly remainingSeconds: number;
    }
  | {
      readonly kind: 'alarm';
      readonly action: 'activate' | 'deactivate';
      readonly memberId: bigint;
      readonly alarm: AlarmType;
    }
  /** A member announces its name and client URLs (etcd's publish). */
  | {
      readonly kind: 'memberAttributes';
      readonly memberId: bigint;
      readonly name: string;
      readonly clientUrls: readonly string[];
    };

export interface ProposedRequest {
  /** Unique per cluster (see request-id.ts); matches an applied entry to its waiter. */
  readonly id: bigint;
  readonly request: InternalRequest;
}

const CODEC_VERSION = 1;
const CODEC_VERSION_PUT_F64_LEASE = 2;
const CODEC_VERSION_PUT = 3;

/** Version 2 flags: which optional PutRequest fields are present, and the booleans' values. */
const PUT_HAS_VALUE = 1 << 0;
const PUT_HAS_LEASE = 1 << 1;
const PUT_HAS_PREV_KV = 1 << 2;
const PUT_PREV_KV = 1 << 3;
const PUT_HAS_IGNORE_VALUE = 1 << 4;
const PUT_IGNORE_VALUE = 1 << 5;
const PUT_HAS_IGNORE_LEASE = 1 << 6;
const PUT_IGNORE_LEASE = 1 << 7;
const PUT_FIELDS = new Set(['key', 'value', 'lease', 'prevKv', 'ignoreValue', 'ignoreLease']);

function booleanFlags(value: boolean | undefined, present: number, set: number): number {
  if (value === undefined) return 0;
  return value ? present | set : present;
}

/** The binary form of a put, or null when the put carries anything the form does not cover. */
function encodePut(id: bigint, put: PutRequest): Uint8Array | null {
  for (const field of Object.keys(put)) {
    if (!PUT_FIELDS.has(field)) return null;
  }
  const { key, value, lease } = put;
  if (!(key instanceof Uint8Array)) return null;
  if (value !== undefined && !(value instanceof Uint8Array)) return null;
  if (lease !== undefined && (typeof lease !== 'bigint' || BigInt.asIntN(64, lease) !== lease)) {
    return null;
  }
  const flags =
    (value === undefined ? 0 : PUT_HAS_VALUE) |
    (lease === undefined ? 0 : PUT_HAS_LEASE) |
    booleanFlags(put.prevKv, PUT_HAS_PREV_KV, PUT_PREV_KV) |
    booleanFlags(put.ignoreValue, PUT_HAS_IGNORE_VALUE, PUT_IGNORE_VALUE) |
    booleanFlags(put.ignoreLease, PUT_HAS_IGNORE_LEASE, PUT_IGNORE_LEASE);
  const size =
    1 +
    8 +
    2 +
    (lease === undefined ? 0 : 8) +
    4 +
    key.length +
    (value === undefined ? 0 : 4 + value.length);
  const bytes = entryBytes(size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  bytes[0] = CODEC_VERSION_PUT;
  view.setBigUint64(1, id);
  view.setUint16(9, flags);
  let offset = 11;
  if (lease !== undefined) {
    view.setBigInt64(offset, lease);
    offset += 8;
  }
  view.setUint32(offset, key.length);
  bytes.set(key, offset + 4);
  offset += 4 + key.length;
  if (value !== undefined) {
    view.setUint32(offset, value.length);
    bytes.set(value, offset + 4);
    offset += 4 + value.length;
  }
  assert(offset === size, 'a put encodes to its computed size');
  return bytes;
}

function decodePut(bytes: Uint8Array): ProposedRequest {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (offset: number, length: number): void => {
    if (offset + length > bytes.length) throw new BugError('a committed put is truncated');
  };
  need(0, 11);
  const id = view.getBigUint64(1);
  const flags = view.getUint16(9);
  let offset = 11;
  const put: { -readonly [K in keyof PutRequest]: PutRequest[K] } = { key: new Uint8Array(0) };
  let lease: bigint | undefined;
  if ((flags & PUT_HAS_LEASE) !== 0) {
    need(offset, 8);
    lease = bytes[0] === CODEC_VERSION_PUT ? view.getBigInt64(offset) : f64Lease(view, offset);
    offset += 8;
  }
  need(offset, 4);
  const keyLength = view.getUint32(offset);
  need(offset + 4, keyLength);
  // Copies, not views: a follower's entry may be a view into a whole network frame, which MVCC
  // must not keep alive by holding on to a key or value.
  put.key = bytes.slice(offset + 4, offset + 4 + keyLength);
  offset += 4 + keyLength;
  if ((flags & PUT_HAS_VALUE) !== 0) {
    need(offset, 4);
    const valueLength = view.getUint32(offset);
    need(offset + 4, valueLength);
    put.value = bytes.slice(offset + 4, offset + 4 + valueLength);
    offset += 4 + valueLength;
  }
  if (offset !== bytes.length) throw new BugError('a committed put has trailing bytes');
  // Field order as the JSON form produces it for the same request (key, value, lease, ...).
  if (lease !== undefined) put.lease = lease;
  if ((flags & PUT_HAS_PREV_KV) !== 0) put.prevKv = (flags & PUT_PREV_KV) !== 0;
  if ((flags & PUT_HAS_IGNORE_VALUE) !== 0) put.ignoreValue = (flags & PUT_IGNORE_VALUE) !== 0;
  if ((flags & PUT_HAS_IGNORE_LEASE) !== 0) put.ignoreLease = (flags & PUT_IGNORE_LEASE) !== 0;
  if (id === 0n) throw new BugError('a committed request lacks its id or kind');
  return { id, request: { kind: 'put', put } };
}

/** Beyond int64: no lease has this id, so a put naming it fails as an unknown lease. */
const NO_SUCH_LEASE = 1n << 64n;

/** A version-2 lease. Its writer took any number, NaN and fractions included (they failed as
 *  unknown leases when applied); they must fail the same way when replayed, not crash. */
function f64Lease(view: DataView, offset: number): bigint {
  const lease = view.getFloat64(offset);
  return Number.isSafeInteger(lease) ? BigInt(lease) : NO_SUCH_LEASE;
}

/** Tags bytes and bigints. Done before JSON.stringify because a Buffer (which callers may
 *  pass for a Uint8Array) would otherwise be turned into {type, data} by its toJSON. */
function tagged(value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) {
    return { $b: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(tagged);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (field !== undefined) out[key] = tagged(field);
    }
    return out;
  }
  return value;
}

function reviver(key: string, value: unknown): unknown {
  // Only PutRequest.lease and Compare.lease are called `lease`; safe integers convert
  // exactly, anything else is left for the applier to refuse as an unknown lease.
  if (key === 'lease' && typeof value === 'number' && Number.isSafeInteger(value)) {
    return BigInt(value);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 1) return value;
  if (typeof record.$n === 'string') return BigInt(record.$n);
  if (typeof record.$b === 'string') return new Uint8Array(Buffer.from(record.$b, 'base64'));
  return value;
}

export function encodeRequest(proposed: ProposedRequest): Uint8Array {
  assert(proposed.id > 0n, 'a request id is positive');
  if (proposed.request.kind === 'put') {
    const binary = encodePut(proposed.id, proposed.request.put);
    if (binary !== null) return binary;
  }
  const json = JSON.stringify(tagged(proposed));
  const body = Buffer.from(json, 'utf8');
  const bytes = entryBytes(1 + body.length);
  bytes[0] = CODEC_VERSION;
  bytes.set(body, 1);
  return bytes;
}

/** Encoded requests are carved from slabs of this size (larger ones get their own buffer). */
const ENTRY_SLAB_BYTES = 64 * 1024;
const ENTRY_SLAB_SHARE_MAX = ENTRY_SLAB_BYTES / 16;
let entrySlab = new ArrayBuffer(0);
let entrySlabUsed = 0;

/**
 * Room for an encoded request, which becomes a raft entry's data: the leader keeps it in its
 * in-memory log until the next snapshot, up to --snapshot-count entries, and drops them in the
 * order it made them. One ArrayBuffer per request cost, in malloc'd backing store and
 * bookkeeping, about as much again as the bytes; slabs shared by consecutive requests do not,
 * and are freed once their last entry is gone. The result is a plain Uint8Array (slice()
 * copies, as decodePut expects), zeroed like any new ArrayBuffer.
 */
function entryBytes(size: number): Uint8Array {
  if (size > ENTRY_SLAB_SHARE_MAX) return new Uint8Array(size);
  if (entrySlabUsed + size > entrySlab.byteLength) {
    entrySlab = new ArrayBuffer(ENTRY_SLAB_BYTES);
    entrySlabUsed = 0;
  }
  const bytes = new Uint8Array(entrySlab, entrySlabUsed, size);
  // 8-byte aligned, like the allocator would be.
  entrySlabUsed += (size + 7) & ~7;
  return bytes;
}

/** Decodes a committed entry; anything malformed in a committed log is a bug. */
export function decodeRequest(bytes: Uint8Array): ProposedRequest {
  if (
    bytes.length > 0 &&
    (bytes[0] === CODEC_VERSION_PUT || bytes[0] === CODEC_VERSION_PUT_F64_LEASE)
  ) {
    return decodePut(bytes);
  }
  if (bytes.length < 2 || bytes[0] !== CODEC_VERSION) {
    throw new BugError(`unknown request encoding (version byte ${bytes[0]})`);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1).toString('utf8');
  const decoded = JSON.parse(text, reviver) as ProposedRequest;
  if (typeof decoded.id !== 'bigint' || typeof decoded.request?.kind !== 'string') {
    throw new BugError('a committed request lacks its id or kind');
  }
  return decoded;
}
