/**
 * A small builder for etcd transactions:
 *
 *   await client.txn()
 *     .when(compare('lock', 'create', '=', 0))
 *     .success(op.put('lock', 'me'))
 *     .failure(op.get('lock'))
 *     .commit();
 *
 * All compares must hold for the success branch; the whole transaction applies at one revision.
 * The branches are not named then/else: a `then` method would make the builder a thenable that
 * `await` would silently call.
 */
import { type Bytes, type ResponseHeader, int64, toBytes, toHeader } from './convert.ts';
import {
  type DeleteOptions,
  type DeleteResult,
  type PutOptions,
  type PutResult,
  type RangeOptions,
  type RangeResult,
  deleteRequest,
  deleteResult,
  putRequest,
  putResult,
  rangeEndOf,
  rangeRequest,
  rangeResult,
} from './kv-requests.ts';
import type {
  WireCompare,
  WireCompareResult,
  WireRequestOp,
  WireResponseOp,
  WireTxnRequest,
  WireTxnResponse,
} from './wire.ts';

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareOperator = '=' | '!=' | '>' | '<';

const OPERATORS: Record<CompareOperator, WireCompareResult> = {
  '=': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '>': 'GREATER',
  '<': 'LESS',
};

export interface Compare {
  readonly wire: WireCompare;
}

/**
 * One condition on a key (or, with `rangeEnd`, on every key of a range). The operand is a
 * revision or version number for version/create/mod, bytes for value, and a lease id for lease.
 */
export function compare(
  key: Bytes,
  target: CompareTarget,
  operator: CompareOperator,
  operand: number | bigint | Bytes,
  range: { rangeEnd?: Bytes; prefix?: boolean } = {},
): Compare {
  const keyBytes = toBytes(key);
  const wire: WireCompare = { key: keyBytes, result: OPERATORS[operator], target: 'VERSION' };
  const rangeEnd = rangeEndOf(keyBytes, range);
  if (rangeEnd !== undefined) wire.range_end = rangeEnd;
  const asInt = (): string | number => {
    if (typeof operand === 'number' || typeof operand === 'bigint') return int64(operand);
    throw new TypeError(`compare on ${target} needs a number, not bytes`);
  };
  switch (target) {
    case 'version':
      wire.version = asInt();
      break;
    case 'create':
      wire.target = 'CREATE';
      wire.create_revision = asInt();
      break;
    case 'mod':
      wire.target = 'MOD';
      wire.mod_revision = asInt();
      break;
    case 'lease':
      wire.target = 'LEASE';
      wire.lease = asInt();
      break;
    case 'value':
      if (typeof operand === 'number' || typeof operand === 'bigint') {
        throw new TypeError('compare on value needs bytes or a string');
      }
      wire.target = 'VALUE';
      wire.value = toBytes(operand);
      break;
  }
  return { wire };
}

/** An operation inside a transaction branch. */
export interface Op {
  readonly wire: WireRequestOp;
}

export const op = {
  get: (key: Bytes, options: RangeOptions = {}): Op => ({
    wire: { request_range: rangeRequest(key, options) },
  }),
  put: (key: Bytes, value: Bytes, options: PutOptions = {}): Op => ({
    wire: { request_put: putRequest(key, value, options) },
  }),
  delete: (key: Bytes, options: DeleteOptions = {}): Op => ({
    wire: { request_delete_range: deleteRequest(key, options) },
  }),
  /** A nested transaction (etcd 3.3+). */
  txn: (compares: Compare[], success: Op[], failure: Op[] = []): Op => ({
    wire: { request_txn: txnRequest(compares, success, failure) },
  }),
};

export type OpResult =
  | ({ readonly type: 'range' } & RangeResult)
  | ({ readonly type: 'put' } & PutResult)
  | ({ readonly type: 'delete' } & DeleteResult)
  | ({ readonly type: 'txn' } & TxnResult);

export interface TxnResult {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: OpResult[];
}

export function txnRequest(compares: Compare[], success: Op[], failure: Op[]): WireTxnRequest {
  return {
    compare: compares.map((entry) => entry.wire),
    success: success.map((entry) => entry.wire),
    failure: failure.map((entry) => entry.wire),
  };
}

function opResult(response: WireResponseOp): OpResult {
  if (response.response_range) return { type: 'range', ...rangeResult(response.response_range) };
  if (response.response_put) return { type: 'put', ...putResult(response.response_put) };
  if (response.response_delete_range) {
    return { type: 'delete', ...deleteResult(response.response_delete_range) };
  }
  if (response.response_txn) return { type: 'txn', ...txnResult(response.response_txn) };
  throw new TypeError(`txn: response without an operation (${String(response.response)})`);
}

export function txnResult(response: WireTxnResponse): TxnResult {
  return {
    header: toHeader(response.header),
    succeeded: response.succeeded,
    responses: response.responses.map(opResult),
  };
}

export class TxnBuilder {
  private readonly compares: Compare[] = [];
  private readonly successOps: Op[] = [];
  private readonly failureOps: Op[] = [];

  constructor(private readonly commitFunction: (request: WireTxnRequest) => Promise<TxnResult>) {}

  when(...compares: Compare[]): this {
    this.compares.push(...compares);
    return this;
  }

  success(...ops: Op[]): this {
    this.successOps.push(...ops);
    return this;
  }

  failure(...ops: Op[]): this {
    this.failureOps.push(...ops);
    return this;
  }

  commit(): Promise<TxnResult> {
    return this.commitFunction(txnRequest(this.compares, this.successOps, this.failureOps));
  }
}
