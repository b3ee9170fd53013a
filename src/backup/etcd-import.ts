/**
 * etcd backend → Sigil backend: reads an etcd bbolt database (a snapshot from a real etcd or
 * from Sigil KV) and yields the records of a Sigil backend dump holding the same MVCC history,
 * compaction revisions, leases and consistent index, encoded with the mvcc and lease codecs.
 *
 * As etcd's own restore does, the old membership (`members`, `members_removed`) and alarms are
 * left behind: the restored data is seeded into a new cluster. Anything Sigil KV cannot hold
 * faithfully is refused with an error rather than dropped: enabled auth, sub-revisions above
 * 2^16 in one revision, revisions beyond Sigil's range, malformed records.
 */
import { encodeUint64, type SnapshotRecord } from '../storage/index.ts';
import { encodeLeaseId, isValidLeaseId } from '../lease/index.ts';
import { encodeKeyValue, encodeRevisionKey, packRevision } from '../mvcc/index.ts';
import type { BboltReader, BucketRef } from './bbolt-reader.ts';
import {
  AUTH_ENABLED_KEY,
  decodeEtcdKeyValue,
  decodeEtcdLease,
  decodeEtcdRevisionKey,
  decodeUint64BigEndian,
  ETCD_BUCKETS,
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
} from './etcd-records.ts';

export class SnapshotImportError extends Error {
  override readonly name = 'SnapshotImportError';
}

/** Sigil packs (main, sub) into one number: main below 2^37, sub below 2^16. */
const MAIN_REVISION_MAX = 2 ** 37 - 1;
const SUB_REVISION_MAX = 2 ** 16 - 1;

export interface ImportSummary {
  revision: number;
  keyRevisions: number;
  leases: number;
  compactRevision: number;
  consistentIndex: number;
  /** What was left behind on purpose, for the operator. */
  readonly notes: string[];
}

export const emptyImportSummary = (): ImportSummary => ({
  revision: 0,
  keyRevisions: 0,
  leases: 0,
  compactRevision: 0,
  consistentIndex: 0,
  notes: [],
});

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/**
 * The Sigil records for the etcd database `reader` holds. `summary` fills in as the generator
 * runs; it is complete once the generator has returned.
 */
export function* importEtcdDatabase(
  reader: BboltReader,
  summary: ImportSummary,
): Generator<SnapshotRecord> {
  const visited = new Set<number>();
  const buckets = new Map<string, BucketRef>();
  for (const entry of reader.entries(reader.root(), visited)) {
    if (entry.bucket === undefined) throw new SnapshotImportError('the root holds a plain value');
    buckets.set(text(entry.key), entry.bucket);
  }
  const auth = buckets.get(ETCD_BUCKETS.auth);
  if (auth !== undefined) {
    for (const { key, value } of reader.entries(auth, visited)) {
      if (text(key) === AUTH_ENABLED_KEY && value.length === 1 && value[0] === 1) {
        throw new SnapshotImportError(
          'auth is enabled in this snapshot and Sigil KV does not implement auth yet: ' +
            'disable auth (etcdctl auth disable) and take the snapshot again',
        );
      }
    }
  }
  const keyBucket = buckets.get(ETCD_BUCKETS.key);
  if (keyBucket === undefined)
    throw new SnapshotImportError('no "key" bucket: not an etcd snapshot');
  yield* importRevisions(reader, keyBucket, visited, summary);
  const leases = buckets.get(ETCD_BUCKETS.lease);
  if (leases !== undefined) yield* importLeases(reader, leases, visited, summary);
  const meta = buckets.get(ETCD_BUCKETS.meta);
  if (meta !== undefined) yield* importMeta(reader, meta, visited, summary);
  for (const name of buckets.keys()) {
    if (name === ETCD_BUCKETS.members || name === ETCD_BUCKETS.membersRemoved) continue;
    if (!(Object.values(ETCD_BUCKETS) as string[]).includes(name)) {
      summary.notes.push(`bucket "${name}" is not etcd's and was left behind`);
    }
  }
}

function* importRevisions(
  reader: BboltReader,
  bucket: BucketRef,
  visited: Set<number>,
  summary: ImportSummary,
): Generator<SnapshotRecord> {
  for (const entry of reader.entries(bucket, visited)) {
    const { main, sub, tombstone } = decodeEtcdRevisionKey(entry.key);
    const where = `revision ${main}.${sub}`;
    if (main > MAIN_REVISION_MAX) throw new SnapshotImportError(`${where}: beyond Sigil's range`);
    if (sub > SUB_REVISION_MAX) {
      throw new SnapshotImportError(`${where}: more than 65536 changes in one revision`);
    }
    const kv = decodeEtcdKeyValue(entry.value);
    if (kv.key.length === 0) throw new SnapshotImportError(`${where}: record without a key`);
    if (!tombstone) {
      if (kv.modRevision !== main) {
        throw new SnapshotImportError(
          `${where}: stored under the wrong revision (${kv.modRevision})`,
        );
      }
      if (kv.createRevision < 1 || kv.createRevision > main || kv.version < 1) {
        throw new SnapshotImportError(`${where}: inconsistent create revision or version`);
      }
    }
    const stored = tombstone
      ? {
          key: kv.key,
          createRevision: 0,
          modRevision: main,
          version: 0,
          value: new Uint8Array(0),
          lease: 0n,
        }
      : kv;
    yield {
      bucket: 'key',
      key: encodeRevisionKey(packRevision(main, sub), tombstone),
      // The codec encodes into a buffer it reuses: keep a copy.
      value: copy(encodeKeyValue(stored)),
    };
    summary.revision = main;
    summary.keyRevisions++;
  }
}

function* importLeases(
  reader: BboltReader,
  bucket: BucketRef,
  visited: Set<number>,
  summary: ImportSummary,
): Generator<SnapshotRecord> {
  for (const entry of reader.entries(bucket, visited)) {
    const lease = decodeEtcdLease(entry.value);
    const keyId =
      entry.key.length === 8
        ? new DataView(entry.key.buffer, entry.key.byteOffset, 8).getBigInt64(0)
        : undefined;
    if (!isValidLeaseId(lease.id) || keyId !== lease.id) {
      const hex = Buffer.from(entry.key).toString('hex');
      throw new SnapshotImportError(`lease record ${hex} is malformed`);
    }
    yield { bucket: 'lease', key: encodeLeaseId(lease.id), value: encodeUint64(lease.ttlSeconds) };
    summary.leases++;
  }
}

function* importMeta(
  reader: BboltReader,
  bucket: BucketRef,
  visited: Set<number>,
  summary: ImportSummary,
): Generator<SnapshotRecord> {
  let scheduled = 0;
  let finished = 0;
  for (const { key, value } of reader.entries(bucket, visited)) {
    const name = text(key);
    if (name === META_CONSISTENT_INDEX) {
      summary.consistentIndex = decodeUint64BigEndian(value, name);
      yield { bucket: 'meta', key: copy(key), value: encodeUint64(summary.consistentIndex) };
    } else if (name === META_SCHEDULED_COMPACT || name === META_FINISHED_COMPACT) {
      const { main } = decodeEtcdRevisionKey(value);
      if (name === META_SCHEDULED_COMPACT) scheduled = main;
      else finished = main;
      yield { bucket: 'meta', key: copy(key), value: encodeUint64(main) };
    }
  }
  if (finished > scheduled) {
    throw new SnapshotImportError(
      `finished compaction ${finished} beyond the scheduled ${scheduled}`,
    );
  }
  summary.compactRevision = scheduled;
}
