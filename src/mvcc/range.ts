/**
 * Range with every option of etcd's RangeRequest, following etcd 3.4's applier: fetch from the
 * index (one extra entry to learn `more`, or everything when sorting or filtering), prune by
 * mod/create revision bounds, sort, truncate to `limit`. `count` is the number of keys in the
 * range at the revision, before the revision filters, as etcd reports it.
 */
import { compareBytes } from '../base/index.ts';
import type { BackendReader } from '../storage/index.ts';
import type { TreeIndex } from './key-index.ts';
import { decodeKeyValue } from './kv-codec.ts';
import { type PackedRevision, writeRevisionKey } from './revision.ts';

const revisionKeyScratch = new Uint8Array(16);
import type { KeyValue, RangeRequest, SortOrder, SortTarget } from './types.ts';

export interface RangeView {
  readonly index: TreeIndex;
  readonly reader: BackendReader;
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

/** etcd's key/range_end convention: undefined end = single key, null = no upper bound. */
export function rangeEndOf(rangeEnd: Uint8Array | undefined): Uint8Array | null | undefined {
  if (rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return null;
  return rangeEnd;
}

/** Whether `key` lies in the range given by etcd's key/range_end convention. */
export function rangeContains(
  start: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  key: Uint8Array,
): boolean {
  const end = rangeEndOf(rangeEnd);
  if (end === undefined) return compareBytes(start, key) === 0;
  if (compareBytes(key, start) < 0) return false;
  return end === null || compareBytes(key, end) < 0;
}

/** Reads the KeyValue stored at a revision (it must exist: the index said so). */
export function readKeyValue(reader: BackendReader, rev: PackedRevision): KeyValue {
  const bytes = reader.get('key', writeRevisionKey(revisionKeyScratch, rev, false));
  if (bytes === undefined) throw new Error(`mvcc: revision ${rev} in index but not in backend`);
  return decodeKeyValue(bytes);
}

/** Packed revisions of the keys in range at atMain (up to `limit`, 0 = all) and the total. */
export function indexRange(
  index: TreeIndex,
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  atMain: number,
  limit: number,
): { revs: PackedRevision[]; total: number } {
  const end = rangeEndOf(rangeEnd);
  if (end === undefined) {
    const found = index.get(key, atMain);
    return found === undefined ? { revs: [], total: 0 } : { revs: [found.modified], total: 1 };
  }
  const revs: PackedRevision[] = [];
  let total = 0;
  index.range(key, end ?? undefined, atMain, (revision) => {
    total++;
    if (limit <= 0 || revs.length < limit) revs.push(revision.modified);
    return true;
  });
  return { revs, total };
}

function sortKey(target: SortTarget): (left: KeyValue, right: KeyValue) => number {
  switch (target) {
    case 'KEY':
      return (left, right) => compareBytes(left.key, right.key);
    case 'VERSION':
      return (left, right) => left.version - right.version;
    case 'CREATE':
      return (left, right) => left.createRevision - right.createRevision;
    case 'MOD':
      return (left, right) => left.modRevision - right.modRevision;
    case 'VALUE':
      return (left, right) => compareBytes(left.value, right.value);
  }
}

function prune(kvs: KeyValue[], request: RangeRequest): KeyValue[] {
  const { minModRevision = 0, maxModRevision = 0 } = request;
  const { minCreateRevision = 0, maxCreateRevision = 0 } = request;
  return kvs.filter(
    (kv) =>
      !(maxModRevision !== 0 && kv.modRevision > maxModRevision) &&
      !(minModRevision !== 0 && kv.modRevision < minModRevision) &&
      !(maxCreateRevision !== 0 && kv.createRevision > maxCreateRevision) &&
      !(minCreateRevision !== 0 && kv.createRevision < minCreateRevision),
  );
}

/** Executes a range at main revision atMain (already checked against compaction and future). */
export function executeRange(view: RangeView, request: RangeRequest, atMain: number): RangeResult {
  const limitRequested = request.limit ?? 0;
  const target = request.sortTarget ?? 'KEY';
  let order: SortOrder = request.sortOrder ?? 'NONE';
  const filtered =
    (request.minModRevision ?? 0) !== 0 ||
    (request.maxModRevision ?? 0) !== 0 ||
    (request.minCreateRevision ?? 0) !== 0 ||
    (request.maxCreateRevision ?? 0) !== 0;
  let fetchLimit = order !== 'NONE' || filtered ? 0 : limitRequested;
  if (fetchLimit > 0) fetchLimit++;
  const { revs, total } = indexRange(view.index, request.key, request.rangeEnd, atMain, fetchLimit);
  if (request.countOnly === true) return { kvs: [], more: false, count: total };
  let kvs = revs.map((rev) => readKeyValue(view.reader, rev));
  if (filtered) kvs = prune(kvs, request);
  // The index yields keys in ascending order; any other target sorts ascending by default.
  if (target !== 'KEY' && order === 'NONE') order = 'ASCEND';
  if (order !== 'NONE' && !(order === 'ASCEND' && target === 'KEY')) {
    const compare = sortKey(target);
    kvs.sort(order === 'ASCEND' ? compare : (left, right) => compare(right, left));
  }
  let more = false;
  if (limitRequested > 0 && kvs.length > limitRequested) {
    kvs = kvs.slice(0, limitRequested);
    more = true;
  }
  if (request.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
  return { kvs, more, count: total };
}

/** A range over one key that needs no revision filter and wants the KeyValue itself. */
export function isPlainPointRead(request: RangeRequest): boolean {
  return (
    rangeEndOf(request.rangeEnd) === undefined &&
    request.countOnly !== true &&
    (request.minModRevision ?? 0) === 0 &&
    (request.maxModRevision ?? 0) === 0 &&
    (request.minCreateRevision ?? 0) === 0 &&
    (request.maxCreateRevision ?? 0) === 0
  );
}
