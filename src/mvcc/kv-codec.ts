/**
 * The value stored under a revision key: a KeyValue in a fixed binary layout,
 * `[key length u32][create f64][mod f64][version f64][lease i64][key][value]`. Revisions and
 * the version are float64 because they are integers below 2^53 (asserted), which float64 holds
 * exactly; the lease id is a big-endian int64 because etcd's ids use all 64 bits.
 */
import { assert } from '../base/index.ts';
import type { KeyValue } from './types.ts';

const HEADER_BYTES = 4 + 8 * 4;
const LEASE_OFFSET = 28;

/** Up to this many bytes a loop copies faster than subarray() plus a native copy. */
const SHORT_COPY_BYTES = 64;

/**
 * A copy of bytes[start, end). Not `.slice()`: on a Node Buffer (which the LMDB backend hands
 * out, reused between calls) `.slice()` is a view, not a copy.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  const length = end - start;
  if (length > SHORT_COPY_BYTES) return new Uint8Array(bytes.subarray(start, end));
  // Keys are short, and every put copies its key: skip the view object subarray() allocates.
  const copy = new Uint8Array(length);
  for (let i = 0; i < length; i++) copy[i] = bytes[start + i];
  return copy;
}

// A Buffer (a Uint8Array to everyone else) because the LMDB backend must hand lmdb-js Buffers:
// views of it are Buffers already and need no wrapper per put.
let scratch: Uint8Array = Buffer.allocUnsafeSlow(4096);
let scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
/** The last view of `scratch` handed out: records of one size (the usual case) reuse it. */
let lastRecord: Uint8Array = scratch.subarray(0, 0);

/**
 * Encodes into a buffer reused by the next call: the result must be consumed (handed to a
 * backend, which copies what it stores) before encoding again.
 */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  assert(Number.isSafeInteger(kv.createRevision), 'create revision is not a safe integer');
  assert(Number.isSafeInteger(kv.modRevision), 'mod revision is not a safe integer');
  assert(Number.isSafeInteger(kv.version), 'version is not a safe integer');
  const length = HEADER_BYTES + kv.key.length + kv.value.length;
  if (length > scratch.length) {
    scratch = Buffer.allocUnsafeSlow(Math.max(length, scratch.length * 2));
    scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  }
  if (lastRecord.length !== length || lastRecord.buffer !== scratch.buffer) {
    lastRecord = scratch.subarray(0, length);
  }
  const bytes = lastRecord;
  const view = scratchView;
  view.setUint32(0, kv.key.length);
  view.setFloat64(4, kv.createRevision);
  view.setFloat64(12, kv.modRevision);
  view.setFloat64(20, kv.version);
  if (kv.lease === 0n) {
    view.setUint32(LEASE_OFFSET, 0);
    view.setUint32(LEASE_OFFSET + 4, 0);
  } else {
    assert(BigInt.asIntN(64, kv.lease) === kv.lease, 'lease id is not an int64');
    view.setBigInt64(LEASE_OFFSET, kv.lease);
  }
  bytes.set(kv.key, HEADER_BYTES);
  bytes.set(kv.value, HEADER_BYTES + kv.key.length);
  return bytes;
}

/** Decodes a copy: the input may be a buffer the backend reuses on its next call. */
export function decodeKeyValue(bytes: Uint8Array, keysOnly = false): KeyValue {
  assert(bytes.length >= HEADER_BYTES, 'KeyValue record too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyLength = view.getUint32(0);
  assert(HEADER_BYTES + keyLength <= bytes.length, 'KeyValue key overruns the record');
  const valueStart = HEADER_BYTES + keyLength;
  return {
    key: copyBytes(bytes, HEADER_BYTES, valueStart),
    createRevision: view.getFloat64(4),
    modRevision: view.getFloat64(12),
    version: view.getFloat64(20),
    value: keysOnly ? new Uint8Array(0) : copyBytes(bytes, valueStart),
    lease: decodeLease(view),
  };
}

/** Most keys carry no lease: reading two words skips allocating a bigint for them. */
function decodeLease(view: DataView): bigint {
  if (view.getUint32(LEASE_OFFSET) === 0 && view.getUint32(LEASE_OFFSET + 4) === 0) return 0n;
  return view.getBigInt64(LEASE_OFFSET);
}

/** What rebuilding the key index needs of a stored KeyValue: its key, creation and version. */
export function decodeIndexFields(bytes: Uint8Array): {
  key: Uint8Array;
  createRevision: number;
  version: number;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    key: decodeKeyOnly(bytes),
    createRevision: view.getFloat64(4),
    version: view.getFloat64(20),
  };
}

/** Only the key of an encoded KeyValue. */
export function decodeKeyOnly(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyLength = view.getUint32(0);
  return copyBytes(bytes, HEADER_BYTES, HEADER_BYTES + keyLength);
}
