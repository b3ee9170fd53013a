/**
 * Validation of requests before anything is written, so an expected error never leaves half a
 * transaction behind: etcd's checkPutRequest / checkTxnRequest / checkIntervals.
 */
import { compareBytes } from '../base/index.ts';
import { MvccError } from './errors.ts';
import { rangeEndOf } from './range.ts';
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from './types.ts';

export function checkRangeRequest(request: RangeRequest | DeleteRangeRequest): void {
  if (request.key.length === 0) throw new MvccError('empty-key');
}

export function checkPutRequest(request: PutRequest): void {
  if (request.key.length === 0) throw new MvccError('empty-key');
  if (request.ignoreValue === true && (request.value?.length ?? 0) !== 0) {
    throw new MvccError('value-provided');
  }
  if (request.ignoreLease === true && (request.lease ?? 0n) !== 0n) {
    throw new MvccError('lease-provided');
  }
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if ('requestRange' in op) checkRangeRequest(op.requestRange);
  else if ('requestPut' in op) checkPutRequest(op.requestPut);
  else if ('requestDeleteRange' in op) checkRangeRequest(op.requestDeleteRange);
  else checkTxnShape(op.requestTxn, maxTxnOps);
}

/** etcd's checkTxnRequest: the widest of compare/success/failure bounds the op count. */
function checkTxnShape(request: TxnRequest, maxTxnOps: number): void {
  const compare = request.compare ?? [];
  const success = request.success ?? [];
  const failure = request.failure ?? [];
  const opCount = Math.max(compare.length, success.length, failure.length);
  if (opCount > maxTxnOps) throw new MvccError('too-many-ops');
  for (const c of compare) if (c.key.length === 0) throw new MvccError('empty-key');
  for (const op of success) checkRequestOp(op, maxTxnOps - opCount);
  for (const op of failure) checkRequestOp(op, maxTxnOps - opCount);
}

/** Half-open byte interval; `end` null = unbounded, equal start/end+point via `point`. */
interface Interval {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null;
  readonly point: boolean;
}

const hexOf = (bytes: Uint8Array): string =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');

function intervalContains(interval: Interval, key: Uint8Array): boolean {
  if (interval.point) return compareBytes(interval.start, key) === 0;
  if (compareBytes(key, interval.start) < 0) return false;
  return interval.end === null || compareBytes(key, interval.end) < 0;
}

interface LevelKeys {
  readonly puts: Set<string>;
  readonly putKeys: Map<string, Uint8Array>;
  readonly deletes: Interval[];
}

/**
 * etcd's checkIntervals: a put key may appear once per branch level and not inside any delete
 * range of the same level; the then/else branches of a nested txn are exclusive, so the same key
 * in both is allowed. Overlapping deletes are fine.
 */
function checkIntervals(ops: readonly RequestOp[]): LevelKeys {
  const deletes: Interval[] = [];
  for (const op of ops) {
    if (!('requestDeleteRange' in op)) continue;
    const { key, rangeEnd } = op.requestDeleteRange;
    const end = rangeEndOf(rangeEnd);
    deletes.push({ start: key, end: end ?? null, point: end === undefined });
  }
  const puts = new Set<string>();
  const putKeys = new Map<string, Uint8Array>();
  const inDeletes = (key: Uint8Array): boolean => deletes.some((d) => intervalContains(d, key));
  const addPut = (hex: string, key: Uint8Array, allowed: boolean): void => {
    if ((puts.has(hex) && !allowed) || inDeletes(key)) throw new MvccError('duplicate-key');
    puts.add(hex);
    putKeys.set(hex, key);
  };
  for (const op of ops) {
    if (!('requestTxn' in op)) continue;
    const then = checkIntervals(op.requestTxn.success ?? []);
    const otherwise = checkIntervals(op.requestTxn.failure ?? []);
    for (const [hex, key] of then.putKeys) addPut(hex, key, false);
    for (const [hex, key] of otherwise.putKeys) addPut(hex, key, then.puts.has(hex));
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (!('requestPut' in op)) continue;
    const key = op.requestPut.key;
    addPut(hexOf(key), key, false);
  }
  return { puts, putKeys, deletes };
}

/** Throws the MvccError etcd would answer for this txn request, before it is applied. */
export function checkTxnRequest(request: TxnRequest, maxTxnOps: number): void {
  checkTxnShape(request, maxTxnOps);
  checkIntervals(request.success ?? []);
  checkIntervals(request.failure ?? []);
}
