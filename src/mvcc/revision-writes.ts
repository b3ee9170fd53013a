/**
 * The changes one write transaction makes under its revision (etcd's storeTxnWrite put and
 * deleteRange): each change gets the next sub revision, is appended to the key bucket under its
 * revision key, recorded in the key index, and becomes an event for watchers. Expected errors
 * (MvccError) are thrown before anything is changed.
 */
import { assert } from '../base/index.ts';
import type { BackendWriter } from '../storage/index.ts';
import { MvccError } from './errors.ts';
import type { TreeIndex } from './key-index.ts';
import { copyBytes, encodeKeyValue } from './kv-codec.ts';
import { indexRange, readKeyValue } from './range.ts';
import { mainOf, packRevision, writeRevisionKey } from './revision.ts';
import { checkPutRequest, checkRangeRequest } from './txn-check.ts';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  PutRequest,
  PutResponse,
} from './types.ts';

/** Write state of the revision being built. */
export interface WriteRevision {
  readonly main: number;
  events: Event[];
}

/** Where a revision's changes go: the key index and the batch's backend transaction. */
export interface RevisionTarget {
  readonly index: TreeIndex;
  readonly writer: BackendWriter;
}

/** Reused for every revision key written; backends copy keys (see BackendWriter). */
const revisionKeyScratch = new Uint8Array(16);
const tombstoneKeyScratch = new Uint8Array(17);
const EMPTY_VALUE = new Uint8Array(0);

/** The revision reads inside a write see: including the write's own changes. */
export function readMainOf(revision: WriteRevision): number {
  return revision.events.length > 0 ? revision.main : revision.main - 1;
}

/** The live KeyValue of `key` at the write's read revision, if any. */
function liveAt(
  target: RevisionTarget,
  revision: WriteRevision,
  key: Uint8Array,
): KeyValue | undefined {
  const found = target.index.get(key, readMainOf(revision));
  return found === undefined ? undefined : readKeyValue(target.writer, found.modified);
}

/** etcd's put: `check` false inside a txn, whose requests were checked up front. */
export function putInRevision(
  target: RevisionTarget,
  revision: WriteRevision,
  request: PutRequest,
  check: boolean,
): PutResponse {
  if (check) checkPutRequest(request);
  const ignore = request.ignoreValue === true || request.ignoreLease === true;
  const previous =
    ignore || request.prevKv === true ? liveAt(target, revision, request.key) : undefined;
  if (ignore && previous === undefined) {
    assert(check, 'txn put of a missing key passed the pre-check');
    throw new MvccError('key-not-found');
  }
  // Nothing below throws an MvccError, so creating the key's index here leaves no trace of a
  // rejected put.
  const keyIndex = target.index.lookupOrCreate(request.key);
  // The newest generation is the one a write sees: no revision is above the one being written.
  // It is empty for a new or deleted key, whose version then starts again at 1.
  const live = keyIndex.revs.length > 0;
  const rev = packRevision(revision.main, revision.events.length);
  const kv: KeyValue = {
    key: copyBytes(request.key),
    createRevision: live ? mainOf(keyIndex.created) : revision.main,
    modRevision: revision.main,
    version: keyIndex.version + 1,
    value: request.ignoreValue === true ? previous!.value : (request.value ?? EMPTY_VALUE),
    lease: request.ignoreLease === true ? previous!.lease : (request.lease ?? 0n),
  };
  target.writer.append('key', writeRevisionKey(revisionKeyScratch, rev, false), encodeKeyValue(kv));
  keyIndex.put(rev);
  revision.events.push({ type: 'PUT', kv });
  return request.prevKv === true && previous !== undefined
    ? { header: { revision: 0 }, prevKv: previous }
    : { header: { revision: 0 } };
}

export function deleteInRevision(
  target: RevisionTarget,
  revision: WriteRevision,
  request: DeleteRangeRequest,
): DeleteRangeResponse {
  checkRangeRequest(request);
  const { revs } = indexRange(target.index, request.key, request.rangeEnd, readMainOf(revision), 0);
  const previous = revs.map((rev) => readKeyValue(target.writer, rev));
  for (const kv of previous) {
    const rev = packRevision(revision.main, revision.events.length);
    const tombstone: KeyValue = {
      key: kv.key,
      createRevision: 0,
      modRevision: revision.main,
      version: 0,
      value: EMPTY_VALUE,
      lease: 0n,
    };
    target.writer.append(
      'key',
      writeRevisionKey(tombstoneKeyScratch, rev, true),
      encodeKeyValue(tombstone),
    );
    target.index.tombstone(kv.key, rev);
    revision.events.push({ type: 'DELETE', kv: tombstone });
  }
  return {
    header: { revision: 0 },
    deleted: previous.length,
    prevKvs: request.prevKv === true ? previous : [],
  };
}
