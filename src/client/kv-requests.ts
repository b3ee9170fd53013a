/**
 * Builds etcd KV requests from the client's options and reads KV responses back. Shared by the
 * plain KV calls and by transactions, whose operations are the same messages nested in RequestOp.
 */
import { ClientUsageError } from './errors.ts';
import {
  type Bytes,
  type KeyValue,
  type ResponseHeader,
  FROM_KEY_RANGE_END,
  int64,
  prefixRangeEnd,
  toBytes,
  toHeader,
  toKeyValue,
  toKeyValueOrUndefined,
} from './convert.ts';
import type {
  WireDeleteRangeRequest,
  WireDeleteRangeResponse,
  WirePutRequest,
  WirePutResponse,
  WireRangeRequest,
  WireRangeResponse,
  WireSortOrder,
  WireSortTarget,
} from './wire.ts';

/** How a key argument extends to a range; at most one of these may be set. */
export interface KeyRangeOptions {
  /** Exclusive end of the range [key, rangeEnd). */
  readonly rangeEnd?: Bytes;
  /** Every key starting with `key`. */
  readonly prefix?: boolean;
  /** Every key >= `key`. */
  readonly fromKey?: boolean;
}

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

export interface RangeOptions extends KeyRangeOptions {
  readonly limit?: number;
  /** Read at this revision; 0 or absent reads the newest. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Serve from the member's local state without confirming leadership (may be stale). */
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface PutOptions {
  /** Attach the key to this lease id. */
  readonly lease?: bigint;
  readonly prevKv?: boolean;
  /** Keep the key's current value; the key must exist and `value` must be empty. */
  readonly ignoreValue?: boolean;
  /** Keep the key's current lease; the key must exist and `lease` must be absent. */
  readonly ignoreLease?: boolean;
}

export interface DeleteOptions extends KeyRangeOptions {
  readonly prevKv?: boolean;
}

export interface RangeResult {
  readonly header: ResponseHeader;
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

export interface PutResult {
  readonly header: ResponseHeader;
  readonly prevKv: KeyValue | undefined;
}

export interface DeleteResult {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: KeyValue[];
}

const SORT_ORDERS: Record<SortOrder, WireSortOrder> = {
  none: 'NONE',
  ascend: 'ASCEND',
  descend: 'DESCEND',
};
const SORT_TARGETS: Record<SortTarget, WireSortTarget> = {
  key: 'KEY',
  version: 'VERSION',
  create: 'CREATE',
  mod: 'MOD',
  value: 'VALUE',
};

/** The range_end for `key` under the options, or undefined for the single key. */
export function rangeEndOf(key: Uint8Array, options: KeyRangeOptions): Uint8Array | undefined {
  const chosen = [options.rangeEnd !== undefined, options.prefix, options.fromKey].filter(Boolean);
  if (chosen.length > 1) {
    throw new ClientUsageError('use only one of rangeEnd, prefix and fromKey');
  }
  if (options.rangeEnd !== undefined) return toBytes(options.rangeEnd);
  // etcdctl treats an empty key with --prefix or --from-key as "every key", i.e. key "\0".
  if (options.prefix) return key.length === 0 ? FROM_KEY_RANGE_END : prefixRangeEnd(key);
  if (options.fromKey) return FROM_KEY_RANGE_END;
  return undefined;
}

/** An empty key is not allowed alone, but with a range it means "from the first key". */
function keyFor(key: Bytes, rangeEnd: Uint8Array | undefined): Uint8Array {
  const bytes = toBytes(key);
  return bytes.length === 0 && rangeEnd !== undefined ? FROM_KEY_RANGE_END : bytes;
}

export function rangeRequest(key: Bytes, options: RangeOptions = {}): WireRangeRequest {
  const rangeEnd = rangeEndOf(toBytes(key), options);
  const request: WireRangeRequest = { key: keyFor(key, rangeEnd) };
  if (rangeEnd !== undefined) request.range_end = rangeEnd;
  if (options.limit) request.limit = options.limit;
  if (options.revision) request.revision = options.revision;
  if (options.sortOrder) request.sort_order = SORT_ORDERS[options.sortOrder];
  if (options.sortTarget) request.sort_target = SORT_TARGETS[options.sortTarget];
  if (options.serializable) request.serializable = true;
  if (options.keysOnly) request.keys_only = true;
  if (options.countOnly) request.count_only = true;
  if (options.minModRevision) request.min_mod_revision = options.minModRevision;
  if (options.maxModRevision) request.max_mod_revision = options.maxModRevision;
  if (options.minCreateRevision) request.min_create_revision = options.minCreateRevision;
  if (options.maxCreateRevision) request.max_create_revision = options.maxCreateRevision;
  return request;
}

export function putRequest(key: Bytes, value: Bytes, options: PutOptions = {}): WirePutRequest {
  const request: WirePutRequest = { key: toBytes(key), value: toBytes(value) };
  if (options.lease !== undefined && options.lease !== 0n) request.lease = int64(options.lease);
  if (options.prevKv) request.prev_kv = true;
  if (options.ignoreValue) request.ignore_value = true;
  if (options.ignoreLease) request.ignore_lease = true;
  return request;
}

export function deleteRequest(key: Bytes, options: DeleteOptions = {}): WireDeleteRangeRequest {
  const rangeEnd = rangeEndOf(toBytes(key), options);
  const request: WireDeleteRangeRequest = { key: keyFor(key, rangeEnd) };
  if (rangeEnd !== undefined) request.range_end = rangeEnd;
  if (options.prevKv) request.prev_kv = true;
  return request;
}

export function rangeResult(response: WireRangeResponse): RangeResult {
  return {
    header: toHeader(response.header),
    kvs: response.kvs.map(toKeyValue),
    more: response.more,
    count: Number(response.count),
  };
}

export function putResult(response: WirePutResponse): PutResult {
  return { header: toHeader(response.header), prevKv: toKeyValueOrUndefined(response.prev_kv) };
}

export function deleteResult(response: WireDeleteRangeResponse): DeleteResult {
  return {
    header: toHeader(response.header),
    deleted: Number(response.deleted),
    prevKvs: response.prev_kvs.map(toKeyValue),
  };
}
