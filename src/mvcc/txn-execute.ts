/**
 * Txn execution as etcd 3.4 does it: every compare, nested ones included, is evaluated up front
 * against the view before the txn (the "txn path"); ignore_value/ignore_lease puts on the chosen
 * path are checked against that same view; then the operations run in order, each seeing the
 * writes before it, all under one revision.
 */
import { assert, compareBytes } from '../base/index.ts';
import type { BackendWriter } from '../storage/index.ts';
import { MvccError } from './errors.ts';
import type { TreeIndex } from './key-index.ts';
import { executeRange, indexRange, readKeyValue } from './range.ts';
import type {
  Compare,
  KeyValue,
  PutRequest,
  PutResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
} from './types.ts';

export interface WriteRevisionLike {
  readonly main: number;
  events: unknown[];
}

export interface TxnContext<R extends WriteRevisionLike> {
  readonly index: TreeIndex;
  reader(): BackendWriter;
  readMain(revision: R): number;
  put(revision: R, request: PutRequest): PutResponse;
  deleteRange(revision: R, request: DeleteRangeRequest): DeleteRangeResponse;
  currentRevision(): number;
}

function compareValue(compare: Compare, kv: KeyValue | undefined): number {
  switch (compare.target) {
    case 'VALUE':
      return compareBytes(kv?.value ?? new Uint8Array(0), compare.value ?? new Uint8Array(0));
    case 'VERSION':
      return Math.sign((kv?.version ?? 0) - (compare.version ?? 0));
    case 'CREATE':
      return Math.sign((kv?.createRevision ?? 0) - (compare.createRevision ?? 0));
    case 'MOD':
      return Math.sign((kv?.modRevision ?? 0) - (compare.modRevision ?? 0));
    case 'LEASE':
      return compareLeaseIds(kv?.lease ?? 0n, compare.lease ?? 0n);
  }
}

function compareLeaseIds(a: bigint, b: bigint): number {
  return a === b ? 0 : a > b ? 1 : -1;
}

function resultHolds(compare: Compare, difference: number): boolean {
  switch (compare.result) {
    case 'EQUAL':
      return difference === 0;
    case 'NOT_EQUAL':
      return difference !== 0;
    case 'GREATER':
      return difference > 0;
    case 'LESS':
      return difference < 0;
  }
}

/** etcd's applyCompare: every key in range must satisfy it; no key compares as zero values,
 * except VALUE, which always fails on a missing key (gRPC cannot tell nil from empty). */
export function evaluateCompare(
  index: TreeIndex,
  reader: BackendWriter,
  compare: Compare,
  atMain: number,
): boolean {
  const { revs } = indexRange(index, compare.key, compare.rangeEnd, atMain, 0);
  if (revs.length === 0) {
    return compare.target === 'VALUE'
      ? false
      : resultHolds(compare, compareValue(compare, undefined));
  }
  return revs.every((rev) =>
    resultHolds(compare, compareValue(compare, readKeyValue(reader, rev))),
  );
}

/** The branch taken at every txn level, in pre-order, evaluated at `atMain`. */
function txnPath(
  index: TreeIndex,
  reader: BackendWriter,
  request: TxnRequest,
  atMain: number,
): boolean[] {
  const succeeded = (request.compare ?? []).every((c) => evaluateCompare(index, reader, c, atMain));
  const path = [succeeded];
  for (const op of (succeeded ? request.success : request.failure) ?? []) {
    if ('requestTxn' in op) path.push(...txnPath(index, reader, op.requestTxn, atMain));
  }
  return path;
}

/** etcd's checkRequests: ignore_* puts on the taken path need the key to exist now. */
function checkIgnorePuts(
  index: TreeIndex,
  request: TxnRequest,
  path: boolean[],
  atMain: number,
): void {
  const succeeded = path.shift();
  assert(succeeded !== undefined, 'txn path too short');
  for (const op of (succeeded ? request.success : request.failure) ?? []) {
    if ('requestTxn' in op) checkIgnorePuts(index, op.requestTxn, path, atMain);
    if (!('requestPut' in op)) continue;
    const put = op.requestPut;
    if (put.ignoreValue !== true && put.ignoreLease !== true) continue;
    if (index.get(put.key, atMain) === undefined) throw new MvccError('key-not-found');
  }
}

function executeOps<R extends WriteRevisionLike>(
  context: TxnContext<R>,
  revision: R,
  request: TxnRequest,
  path: boolean[],
): TxnResponse {
  const succeeded = path.shift();
  assert(succeeded !== undefined, 'txn path too short');
  const responses: ResponseOp[] = [];
  for (const op of (succeeded ? request.success : request.failure) ?? []) {
    responses.push(executeOp(context, revision, op, path));
  }
  return { header: { revision: 0 }, succeeded, responses };
}

function executeOp<R extends WriteRevisionLike>(
  context: TxnContext<R>,
  revision: R,
  op: RequestOp,
  path: boolean[],
): ResponseOp {
  if ('requestRange' in op) {
    const atMain = context.readMain(revision);
    const view = { index: context.index, reader: context.reader() };
    const result = executeRange(view, op.requestRange, atMain);
    return { responseRange: { header: { revision: atMain }, ...result } };
  }
  // As etcd 3.4: each operation's header carries the revision the txn had reached when it ran
  // (the read revision until the first change, the new one after); a nested txn's header none.
  if ('requestPut' in op) {
    const response = context.put(revision, op.requestPut);
    return { responsePut: { ...response, header: { revision: context.readMain(revision) } } };
  }
  if ('requestDeleteRange' in op) {
    const response = context.deleteRange(revision, op.requestDeleteRange);
    const header = { revision: context.readMain(revision) };
    return { responseDeleteRange: { ...response, header } };
  }
  return { responseTxn: executeOps(context, revision, op.requestTxn, path) };
}

export function executeTxn<R extends WriteRevisionLike>(
  context: TxnContext<R>,
  revision: R,
  request: TxnRequest,
): TxnResponse {
  const atMain = context.readMain(revision);
  assert(revision.events.length === 0, 'txn must start a fresh revision');
  const path = txnPath(context.index, context.reader(), request, atMain);
  checkIgnorePuts(context.index, request, [...path], atMain);
  const response = executeOps(context, revision, request, path);
  assert(path.length === 0, 'txn path not fully consumed');
  const finalRevision = revision.events.length > 0 ? revision.main : revision.main - 1;
  assert(finalRevision >= context.currentRevision(), 'txn revision went backwards');
  return response;
}
