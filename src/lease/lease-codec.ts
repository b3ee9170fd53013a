/**
 * How a lease is stored in the backend's `lease` bucket: key = the id's 64 bits big-endian (two's
 * complement, as etcd's int64ToBytes writes it), value = the granted TTL in seconds as 8 bytes
 * big-endian. Expiry times are not stored: they are decided by the leader's clock and reset
 * whenever leadership moves (etcd's behaviour).
 *
 * Ids are signed int64s. The ids a member picks are positive (etcd's are too), but etcd 3.4
 * grants any nonzero id a client asks for, negative ones included, so they must round-trip.
 */
import { assert } from '../base/index.ts';
import { decodeUint64, encodeUint64 } from '../storage/index.ts';

export const LEASE_ID_MIN = -(1n << 63n);
export const LEASE_ID_MAX = (1n << 63n) - 1n;

/** A lease id a client may name: a nonzero int64 (0 means "no lease"). */
export const isValidLeaseId = (id: bigint): boolean =>
  id !== 0n && id >= LEASE_ID_MIN && id <= LEASE_ID_MAX;

export function encodeLeaseId(id: bigint): Uint8Array {
  assert(isValidLeaseId(id), 'a lease id is a nonzero int64');
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, id));
  return bytes;
}

export function decodeLeaseId(bytes: Uint8Array): bigint {
  assert(bytes.length === 8, 'a stored lease id has 8 bytes');
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0);
}

export const encodeLeaseTtl = (ttlSeconds: number): Uint8Array => encodeUint64(ttlSeconds);
export const decodeLeaseTtl = (bytes: Uint8Array): number => decodeUint64(bytes);
