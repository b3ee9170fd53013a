/**
 * How a lease is stored in the backend's `lease` bucket: key = the id as 8 bytes big-endian,
 * value = the granted TTL in seconds as 8 bytes big-endian. Expiry times are not stored: they
 * are decided by the leader's clock and reset whenever leadership moves (etcd's behaviour).
 */
import { assert } from '../base/index.ts';
import { decodeUint64, encodeUint64 } from '../storage/index.ts';

export const LEASE_ID_MAX = (1n << 63n) - 1n;

export function encodeLeaseId(id: bigint): Uint8Array {
  assert(id > 0n && id <= LEASE_ID_MAX, 'a lease id is a positive int64');
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, id);
  return bytes;
}

export function decodeLeaseId(bytes: Uint8Array): bigint {
  assert(bytes.length === 8, 'a stored lease id has 8 bytes');
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
}

export const encodeLeaseTtl = (ttlSeconds: number): Uint8Array => encodeUint64(ttlSeconds);
export const decodeLeaseTtl = (bytes: Uint8Array): number => decodeUint64(bytes);
