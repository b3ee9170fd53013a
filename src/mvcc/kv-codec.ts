/**
 * The value stored under a revision key: a KeyValue in a fixed binary layout,
 * `[key length u32][create f64][mod f64][version f64][lease f64][key][value]`. Numbers are
 * float64 because every field is an integer below 2^53 (asserted), which float64 holds exactly.
 */
import { assert } from '../base/index.ts';
import type { KeyValue } from './types.ts';

const HEADER_BYTES = 4 + 8 * 4;

/**
 * A copy of bytes[start, end). Not `.slice()`: on a Node Buffer (which the LMDB backend hands
 * out, reused between calls) `.slice()` is a view, not a copy.
 */
export const copyBytes = (bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array =>
  new Uint8Array(bytes.subarray(start, end));

// A Buffer (a Uint8Array to everyone else) because the LMDB backend must hand lmdb-js Buffers:
// views of it are Buffers already and need no wrapper per put.
let scratch: Uint8Array = Buffer.allocUnsafeSlow(4096);
let scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);

/**
 * Encodes into a buffer reused by the next call: the result must be consumed (handed to a
 * backend, which copies what it stores) before encoding again.
 */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  assert(Number.isSafeInteger(kv.createRevision), 'create revision is not a safe integer');
  assert(Number.isSafeInteger(kv.modRevision), 'mod revision is not a safe integer');
  assert(Number.isSafeInteger(kv.version), 'version is not a safe integer');
  assert(Number.isSafeInteger(kv.lease), 'lease is not a safe integer');
  const length = HEADER_BYTES + kv.key.length + kv.value.length;
  if (length > scratch.length) {
    scratch = Buffer.allocUnsafeSlow(Math.max(length, scratch.length * 2));
    scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  }
  const bytes = scratch.subarray(0, length);
  const view = scratchView;
  view.setUint32(0, kv.key.length);
  view.setFloat64(4, kv.createRevision);
  view.setFloat64(12, kv.modRevision);
  view.setFloat64(20, kv.version);
  view.setFloat64(28, kv.lease);
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
    lease: view.getFloat64(28),
  };
}

/** Only the key of an encoded KeyValue (rebuilding the index needs nothing else). */
export function decodeKeyOnly(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyLength = view.getUint32(0);
  return copyBytes(bytes, HEADER_BYTES, HEADER_BYTES + keyLength);
}
