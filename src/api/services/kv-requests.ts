/**
 * Decoded KV requests → the member's request types, with the checks etcd's v3rpc/key.go makes
 * before anything reaches raft (empty key, invalid sort, value/lease given with ignore_*, too
 * many txn operations). Checking here keeps doomed requests out of the raft log.
 */
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from '../../mvcc/index.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import type { RequestMessage } from '../rpc-method.ts';
import { bytesOf, optionalBytes, toBigInt, toNumber, type WireInt64 } from '../wire-values.ts';

type Bytes = Uint8Array | readonly number[] | undefined;

const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];
const COMPARE_RESULTS: readonly CompareResult[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];

function key(message: RequestMessage): Uint8Array {
  const value = bytesOf(message.key as Bytes);
  if (value.length === 0) throw API_ERRORS.emptyKey();
  return value;
}

/** Enum fields decode to numbers; etcd 3.5 rejects values outside the enum. */
function sortOption<T>(value: unknown, names: readonly T[]): T {
  const index = typeof value === 'number' ? value : 0;
  const name = names[index];
  if (name === undefined) throw API_ERRORS.invalidSort();
  return name;
}

export function toRangeRequest(message: RequestMessage): RangeRequest {
  return {
    key: key(message),
    rangeEnd: optionalBytes(message.range_end as Bytes),
    limit: toNumber(message.limit as WireInt64),
    revision: toNumber(message.revision as WireInt64),
    sortOrder: sortOption(message.sort_order, SORT_ORDERS),
    sortTarget: sortOption(message.sort_target, SORT_TARGETS),
    serializable: message.serializable === true,
    keysOnly: message.keys_only === true,
    countOnly: message.count_only === true,
    minModRevision: toNumber(message.min_mod_revision as WireInt64),
    maxModRevision: toNumber(message.max_mod_revision as WireInt64),
    minCreateRevision: toNumber(message.min_create_revision as WireInt64),
    maxCreateRevision: toNumber(message.max_create_revision as WireInt64),
  };
}

export function toPutRequest(message: RequestMessage): PutRequest {
  const value = bytesOf(message.value as Bytes);
  const lease = toBigInt(message.lease as WireInt64);
  const ignoreValue = message.ignore_value === true;
  const ignoreLease = message.ignore_lease === true;
  const request = {
    key: key(message),
    value,
    lease,
    prevKv: message.prev_kv === true,
    ignoreValue,
    ignoreLease,
  };
  if (ignoreValue && value.length !== 0) throw API_ERRORS.valueProvided();
  if (ignoreLease && lease !== 0n) throw API_ERRORS.leaseProvided();
  return request;
}

export function toDeleteRangeRequest(message: RequestMessage): DeleteRangeRequest {
  return {
    key: key(message),
    rangeEnd: optionalBytes(message.range_end as Bytes),
    prevKv: message.prev_kv === true,
  };
}

function toCompare(message: RequestMessage): Compare {
  const result = COMPARE_RESULTS[message.result as number] ?? 'EQUAL';
  const target = COMPARE_TARGETS[message.target as number] ?? 'VERSION';
  return {
    result,
    target,
    key: bytesOf(message.key as Bytes),
    rangeEnd: optionalBytes(message.range_end as Bytes),
    version: toNumber(message.version as WireInt64),
    createRevision: toNumber(message.create_revision as WireInt64),
    modRevision: toNumber(message.mod_revision as WireInt64),
    value: bytesOf(message.value as Bytes),
    lease: toBigInt(message.lease as WireInt64),
  };
}

function toRequestOp(message: RequestMessage, maxTxnOps: number): RequestOp {
  if (message.request_range != null) {
    return { requestRange: toRangeRequest(message.request_range as RequestMessage) };
  }
  if (message.request_put != null) {
    return { requestPut: toPutRequest(message.request_put as RequestMessage) };
  }
  if (message.request_delete_range != null) {
    return {
      requestDeleteRange: toDeleteRangeRequest(message.request_delete_range as RequestMessage),
    };
  }
  if (message.request_txn != null) {
    return { requestTxn: toTxnRequest(message.request_txn as RequestMessage, maxTxnOps) };
  }
  // etcd's checkRequestOp answers an empty op with "key is not provided" as well.
  throw API_ERRORS.emptyKey();
}

export function toTxnRequest(message: RequestMessage, maxTxnOps: number): TxnRequest {
  const compare = (message.compare as RequestMessage[] | undefined) ?? [];
  const success = (message.success as RequestMessage[] | undefined) ?? [];
  const failure = (message.failure as RequestMessage[] | undefined) ?? [];
  if (Math.max(compare.length, success.length, failure.length) > maxTxnOps) {
    throw API_ERRORS.tooManyOps();
  }
  return {
    compare: compare.map(toCompare),
    success: success.map((op) => toRequestOp(op, maxTxnOps)),
    failure: failure.map((op) => toRequestOp(op, maxTxnOps)),
  };
}
