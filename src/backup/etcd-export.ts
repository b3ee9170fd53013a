/**
 * Sigil backend → etcd backend: turns the records of a backend dump (`Backend.snapshot()`,
 * decoded) into the bbolt database an etcd 3.4 member keeps, so `etcdctl snapshot restore`
 * accepts it and a real etcd serves every key with its revisions, and every lease.
 *
 * The `key` and `lease` buckets can be huge and keep their order under translation (etcd's
 * revision key is ours with a '_' between main and sub), so they stream straight into their
 * trees. The other buckets are tiny and change order (etcd keys members by hex string, alarms by
 * protobuf), so they are collected and sorted first.
 */
import { compareBytes, utf8Encode } from '../base/index.ts';
import { decodeLeaseId } from '../lease/index.ts';
import { decodeKeyValue, decodeRevisionKey, mainOf, subOf } from '../mvcc/index.ts';
import { decodeMember } from '../server/index.ts';
import { decodeUint64, type SnapshotRecord } from '../storage/index.ts';
import type {
  BboltWriter,
  BucketBuilder,
  FinishedBucket,
  WrittenDatabase,
} from './bbolt-writer.ts';
import {
  AUTH_REVISION_KEY,
  CLUSTER_VERSION,
  CLUSTER_VERSION_KEY,
  ETCD_BUCKETS,
  encodeEtcdAlarm,
  encodeEtcdKeyValue,
  encodeEtcdLease,
  encodeEtcdMember,
  encodeEtcdRevisionKey,
  encodeUint64BigEndian,
  etcdMemberKey,
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
} from './etcd-records.ts';

export class SnapshotExportError extends Error {
  override readonly name = 'SnapshotExportError';
}

export interface ExportSummary extends WrittenDatabase {
  /** The newest revision in the key bucket (etcdctl's "revision"). */
  readonly revision: number;
  readonly keyRevisions: number;
  readonly leases: number;
}

interface Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

const ALARM_CODES = new Set([1, 2]);

/** Translates one bucket's records; the streaming ones write through, the rest collect. */
class EtcdBuckets {
  private readonly keyBucket: BucketBuilder;
  private readonly leaseBucket: BucketBuilder;
  private readonly small = new Map<string, Entry[]>();
  revision = 0;
  keyRevisions = 0;
  leases = 0;

  constructor(private readonly writer: BboltWriter) {
    this.keyBucket = writer.bucket();
    this.leaseBucket = writer.bucket();
    for (const name of Object.values(ETCD_BUCKETS)) {
      if (name !== ETCD_BUCKETS.key && name !== ETCD_BUCKETS.lease) this.small.set(name, []);
    }
  }

  add(record: SnapshotRecord): void {
    switch (record.bucket) {
      case 'key':
        return this.addRevision(record);
      case 'lease':
        this.leases++;
        return this.leaseBucket.put(
          record.key,
          encodeEtcdLease({
            id: decodeLeaseId(record.key),
            ttlSeconds: decodeUint64(record.value),
          }),
        );
      case 'meta':
        return this.addMeta(record);
      case 'members': {
        const member = decodeMember(record.value);
        return this.collect(
          ETCD_BUCKETS.members,
          etcdMemberKey(member.id),
          encodeEtcdMember(member),
        );
      }
      case 'membersRemoved': {
        const id = new DataView(record.key.buffer, record.key.byteOffset, 8).getBigUint64(0);
        return this.collect(ETCD_BUCKETS.membersRemoved, etcdMemberKey(id), utf8Encode('removed'));
      }
      case 'alarm': {
        const id = new DataView(record.key.buffer, record.key.byteOffset, 8).getBigUint64(0);
        const code = record.key[8];
        if (!ALARM_CODES.has(code)) throw new SnapshotExportError(`unknown alarm code ${code}`);
        return this.collect(ETCD_BUCKETS.alarm, encodeEtcdAlarm(id, code), new Uint8Array(0));
      }
      case 'cluster':
        return this.collect(ETCD_BUCKETS.cluster, record.key, record.value);
      case 'auth':
      case 'authUsers':
      case 'authRoles':
        // Sigil KV has no auth yet; refusing is better than a snapshot that silently drops it.
        throw new SnapshotExportError(`cannot export auth data (bucket ${record.bucket})`);
    }
  }

  private addRevision(record: SnapshotRecord): void {
    const { packed, tombstone } = decodeRevisionKey(record.key);
    const main = mainOf(packed);
    const kv = decodeKeyValue(record.value);
    // etcd stores only the key of a deletion.
    const value = tombstone
      ? encodeEtcdKeyValue({ ...kv, createRevision: 0, modRevision: 0, version: 0, lease: 0n })
      : encodeEtcdKeyValue(kv);
    this.keyBucket.put(encodeEtcdRevisionKey(main, subOf(packed), tombstone), value);
    this.revision = main;
    this.keyRevisions++;
  }

  private addMeta(record: SnapshotRecord): void {
    const name = new TextDecoder().decode(record.key);
    if (name === META_CONSISTENT_INDEX) {
      this.collect(
        ETCD_BUCKETS.meta,
        record.key,
        encodeUint64BigEndian(decodeUint64(record.value)),
      );
    } else if (name === META_SCHEDULED_COMPACT || name === META_FINISHED_COMPACT) {
      const revision = encodeEtcdRevisionKey(decodeUint64(record.value), 0, false);
      this.collect(ETCD_BUCKETS.meta, record.key, revision);
    }
    // Other meta keys (a restore marker) are Sigil's own bookkeeping.
  }

  private collect(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.small.get(bucket)!.push({ key, value });
  }

  /** Builds every bucket and the root that names them (in name order, as bbolt sorts). */
  finish(): BucketBuilder {
    const finished = new Map<string, FinishedBucket>();
    finished.set(ETCD_BUCKETS.key, this.keyBucket.finish());
    finished.set(ETCD_BUCKETS.lease, this.leaseBucket.finish());
    const cluster = this.small.get(ETCD_BUCKETS.cluster)!;
    if (!cluster.some((entry) => new TextDecoder().decode(entry.key) === CLUSTER_VERSION_KEY)) {
      cluster.push({ key: utf8Encode(CLUSTER_VERSION_KEY), value: utf8Encode(CLUSTER_VERSION) });
    }
    // etcd's auth store records revision 1 on its first start, auth disabled.
    this.small.get(ETCD_BUCKETS.auth)!.push({
      key: utf8Encode(AUTH_REVISION_KEY),
      value: encodeUint64BigEndian(1),
    });
    for (const [name, entries] of this.small) {
      const bucket = this.writer.bucket();
      entries.sort((a, b) => compareBytes(a.key, b.key));
      for (const entry of entries) bucket.put(entry.key, entry.value);
      finished.set(name, bucket.finish());
    }
    const root = this.writer.bucket();
    const names = [...finished.keys()].map(utf8Encode).sort(compareBytes);
    for (const name of names) root.putBucket(name, finished.get(new TextDecoder().decode(name))!);
    return root;
  }
}

/**
 * Writes the etcd database for a backend dump. Records of one bucket must arrive together and
 * in key order (Backend.snapshot() guarantees both).
 */
export async function writeEtcdDatabase(
  records: AsyncIterable<SnapshotRecord>,
  writer: BboltWriter,
): Promise<ExportSummary> {
  const buckets = new EtcdBuckets(writer);
  for await (const record of records) buckets.add(record);
  const written = writer.finish(buckets.finish());
  return {
    ...written,
    revision: buckets.revision,
    keyRevisions: buckets.keyRevisions,
    leases: buckets.leases,
  };
}
