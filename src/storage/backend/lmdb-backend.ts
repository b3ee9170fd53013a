/**
 * The production backend: one LMDB environment, file `<data-dir>/member/snap/db`, one named
 * sub-database per bucket, keys compared as raw bytes.
 *
 * Sync policy. Commits use lmdb-js's `overlappingSync`: a transaction is committed (visible,
 * ordered) immediately, and its flush to disk happens after, overlapped with later transactions,
 * with a meta-page protocol that keeps the file consistent after a power loss. We do not fsync
 * each apply batch because durability comes from the WAL: the consistent index is written in the
 * same transaction as the data it describes, so whatever prefix of commits survives a crash, the
 * member replays the WAL from `consistentIndex() + 1` and ends in the same state. The one thing
 * that must wait for the flush is releasing WAL entries (after a raft snapshot): the member calls
 * `sync()` first. This is etcd's argument for committing bbolt only every 100 ms; we get the same
 * effect without a timer. `noSync` is refused as a production mode because, without ordered
 * flushes, LMDB itself says a system crash can corrupt the file, and then no WAL replay helps.
 *
 * Group commit (lmdb-group-commit.ts): write() runs each call as a child transaction of one long
 * write transaction that commits every 100 ms or 10,000 writes, as etcd's backend commits bbolt.
 * sync(), snapshot(), restore(), reclaimSpace() and close() commit the open transaction first,
 * and while a snapshot streams or a reclaim copies, writes commit one by one again (see write()).
 *
 * Space reclaim: see lmdb-reclaim.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../../base/index.ts';
import {
  type Backend,
  type BackendReader,
  type BackendSize,
  type BackendWriter,
  BUCKET_NAMES,
  type BucketName,
  CONSISTENT_INDEX_KEY,
  decodeUint64,
  encodeUint64,
  type ReclaimReport,
  RESTORE_PENDING_KEY,
} from './backend.ts';
import {
  type Bytes,
  type Environment,
  type JournalRecord,
  openEnvironment,
  toBuffer,
} from './lmdb-environment.ts';
import { GroupCommitter } from './lmdb-group-commit.ts';
import { readRange } from './lmdb-range.ts';
import { reclaimByCopy, type ReclaimHost } from './lmdb-reclaim.ts';
import { decodeSnapshot, encodeSnapshot, type SnapshotRecord } from './snapshot-codec.ts';

export interface LmdbBackendOptions {
  /** The member's data dir; the file is `<dataDir>/member/snap/db`. */
  readonly dataDir: string;
  /** 'overlapping' (production, see above) or 'none' (throwaway test data only). */
  readonly syncMode?: 'overlapping' | 'none';
}

/** Records written per transaction while restoring a snapshot or replaying a journal. */
const RESTORE_BATCH_RECORDS = 10_000;
/** Entries per read while streaming a snapshot; bounds the time spent per event-loop turn. */
const SNAPSHOT_READ_BATCH = 1_024;
/** lmdb-js put options of an append; one object for every call (the hot path of puts). */
const APPEND = { append: true } as const;

export class LmdbBackend implements Backend {
  private environment: Environment;
  private readonly file: string;
  private readonly syncMode: 'overlapping' | 'none';
  private cachedConsistentIndex: number;
  /** Set while reclaimSpace() runs; committed writes are appended to it. */
  private journal: JournalRecord[] | undefined;
  /** Writes of the transaction in progress, moved to the journal only if it commits. */
  private transactionJournal: JournalRecord[] | undefined;
  private openSnapshots = 0;
  /** Settles when the running reclaimSpace() does (successfully or not). */
  private reclaiming: Promise<void> | undefined;
  private closed = false;
  private readonly groups = new GroupCommitter();

  constructor(options: LmdbBackendOptions) {
    const directory = path.join(options.dataDir, 'member', 'snap');
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, 'db');
    this.syncMode = options.syncMode ?? 'overlapping';
    // Leftovers of a reclaim that crashed: without `db`, the old file moved aside is complete;
    // a copy not yet renamed, or an old file already replaced, is garbage.
    if (!fs.existsSync(this.file) && fs.existsSync(`${this.file}.old`)) {
      fs.renameSync(`${this.file}.old`, this.file);
    }
    for (const leftover of ['.reclaim', '.reclaim-lock', '.old']) {
      fs.rmSync(`${this.file}${leftover}`, { force: true });
    }
    this.environment = openEnvironment(this.file, this.syncMode);
    const bytes = this.database('meta').get(toBuffer(CONSISTENT_INDEX_KEY));
    this.cachedConsistentIndex = bytes === undefined ? 0 : decodeUint64(bytes);
  }

  private database(bucket: BucketName): Bytes {
    assert(!this.closed, 'LmdbBackend used after close');
    const database = this.environment.databases.get(bucket);
    // The message is built only on failure (this runs for every read and write).
    if (database === undefined) assert(false, `unknown bucket ${bucket}`);
    return database;
  }

  consistentIndex(): number {
    return this.cachedConsistentIndex;
  }

  /** True when a restore was interrupted: the state is partial and must be replaced. */
  restorePending(): boolean {
    return this.database('meta').get(toBuffer(RESTORE_PENDING_KEY)) !== undefined;
  }

  write<T>(body: (txn: BackendWriter) => T, consistentIndex?: number): T {
    assert(this.transactionJournal === undefined, 'nested LmdbBackend write transaction');
    assert(!this.groups.failed, 'LmdbBackend write after a failed group commit');
    if (consistentIndex !== undefined) {
      assert(consistentIndex > this.cachedConsistentIndex, 'consistent index must increase');
    }
    // No new group while reclaimSpace() copies the file or a snapshot stream reads: LMDB
    // (lmdb-js 3.5.6) was seen to fail its freelist assertion in mdb_page_alloc ("key.mv_size >
    // 0") when a long write transaction with child transactions ran alongside the compacting
    // copy's read transaction. Both are rare, so those writes simply commit one by one.
    if (!this.groups.isOpen && this.journal === undefined && this.openSnapshots === 0) {
      this.groups.open(this.environment.root);
    }
    this.transactionJournal = this.journal === undefined ? undefined : [];
    try {
      // Nested inside the group's transaction, lmdb-js runs this as an LMDB child transaction:
      // if `body` throws, only this call's writes are aborted.
      const result = this.environment.root.transactionSync(() => {
        const value = body(this.writer);
        if (consistentIndex !== undefined) {
          this.writer.put('meta', CONSISTENT_INDEX_KEY, encodeUint64(consistentIndex));
        }
        return value;
      });
      if (consistentIndex !== undefined) this.cachedConsistentIndex = consistentIndex;
      if (this.journal !== undefined && this.transactionJournal !== undefined) {
        for (const record of this.transactionJournal) this.journal.push(record);
      }
      this.groups.releaseIfDue();
      return result;
    } finally {
      this.transactionJournal = undefined;
    }
  }

  read<T>(body: (txn: BackendReader) => T): T {
    // lmdb-js serves synchronous reads from one read transaction that is renewed only between
    // commits; our commits are synchronous too, so a synchronous body sees one snapshot.
    return body(this.writer);
  }

  private journalRecord(bucket: BucketName, key: Uint8Array, value: Uint8Array | undefined): void {
    if (this.transactionJournal === undefined) return;
    this.transactionJournal.push({
      bucket,
      key: Buffer.from(key),
      value: value === undefined ? undefined : Buffer.from(value),
    });
  }

  private readonly writer: BackendWriter = {
    get: (bucket, key) => {
      // getBinaryFast hands out a reused buffer whose `length` property is the value's length
      // but whose underlying view is larger; subarray() makes a view of exactly the value.
      const bytes = this.database(bucket).getBinaryFast(toBuffer(key));
      return bytes === undefined ? undefined : bytes.subarray(0, bytes.length);
    },
    range: (bucket, start, end, options) => readRange(this.database(bucket), start, end, options),
    put: (bucket, key, value) => {
      const written = this.database(bucket).putSync(toBuffer(key), toBuffer(value));
      assert(written, 'LMDB put failed');
      this.groups.countWrite(key.length + value.length);
      this.journalRecord(bucket, key, value);
    },
    append: (bucket, key, value) => {
      // LMDB ignores an out-of-order append silently (put returns false): assert it.
      const written = this.database(bucket).putSync(toBuffer(key), toBuffer(value), APPEND);
      assert(written, 'LMDB append out of order');
      this.groups.countWrite(key.length + value.length);
      this.journalRecord(bucket, key, value);
    },
    delete: (bucket, key) => {
      const existed = this.database(bucket).removeSync(toBuffer(key));
      this.groups.countWrite(key.length);
      if (existed) this.journalRecord(bucket, key, undefined);
      return existed;
    },
  };

  size(): BackendSize {
    const stats = this.environment.root.getStats() as { pageSize: number };
    let pages = 0;
    for (const database of this.environment.databases.values()) {
      const dbStats = database.getStats() as {
        treeBranchPageCount: number;
        treeLeafPageCount: number;
        overflowPages: number;
      };
      pages += dbStats.treeBranchPageCount + dbStats.treeLeafPageCount + dbStats.overflowPages;
    }
    return { sizeBytes: fs.statSync(this.file).size, sizeInUseBytes: pages * stats.pageSize };
  }

  async sync(): Promise<void> {
    // During a reclaim, recent writes may live only in the not yet renamed copy.
    if (this.reclaiming !== undefined) await this.reclaiming;
    await this.groups.commit();
    await this.environment.root.flushed;
  }

  snapshot(): AsyncIterable<Uint8Array> {
    return encodeSnapshot(this.snapshotRecords());
  }

  /** Walks every bucket inside one read transaction, a batch per event-loop turn. */
  private async *snapshotRecords(): AsyncGenerator<SnapshotRecord> {
    // The read transaction sees committed data only: commit what write() returned so far. No
    // await lies between the loop's last check and useReadTransaction().
    await this.groups.commitAll();
    const environment = this.environment;
    const transaction = environment.root.useReadTransaction();
    this.openSnapshots++;
    try {
      for (const bucket of BUCKET_NAMES) {
        const database = environment.databases.get(bucket);
        assert(database !== undefined);
        let start: Buffer | undefined = undefined;
        for (;;) {
          const batch: SnapshotRecord[] = [];
          for (const { key, value } of database.getRange({
            ...(start === undefined ? {} : { start }),
            limit: SNAPSHOT_READ_BATCH,
            transaction,
          })) {
            if (start !== undefined && Buffer.compare(key, start) === 0) continue;
            batch.push({ bucket, key, value });
          }
          if (batch.length === 0) break;
          start = toBuffer(batch[batch.length - 1].key);
          yield* batch;
        }
      }
    } finally {
      transaction.done();
      this.openSnapshots--;
    }
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    assert(this.journal === undefined, 'restore during reclaimSpace');
    await this.groups.commitAll();
    this.environment.root.transactionSync(() => {
      for (const database of this.environment.databases.values()) database.clearSync();
      this.database('meta').putSync(toBuffer(RESTORE_PENDING_KEY), Buffer.from([1]));
    });
    let batch: SnapshotRecord[] = [];
    const flush = (): void => {
      this.environment.root.transactionSync(() => {
        for (const record of batch) {
          if (
            record.bucket === 'meta' &&
            Buffer.compare(toBuffer(record.key), toBuffer(RESTORE_PENDING_KEY)) === 0
          )
            continue;
          assert(
            this.database(record.bucket).putSync(toBuffer(record.key), toBuffer(record.value)),
          );
        }
      });
      batch = [];
    };
    // A crash or a corrupt stream leaves RESTORE_PENDING_KEY set: the member sees
    // restorePending() at start and fetches a snapshot again instead of serving half a state.
    for await (const record of decodeSnapshot(chunks)) {
      batch.push(record);
      if (batch.length >= RESTORE_BATCH_RECORDS) flush();
    }
    flush();
    this.environment.root.transactionSync(() => {
      this.database('meta').removeSync(toBuffer(RESTORE_PENDING_KEY));
    });
    // Should a write() have opened a group meanwhile, the restore's transactions joined it.
    await this.groups.commit();
    const bytes = this.database('meta').get(toBuffer(CONSISTENT_INDEX_KEY));
    this.cachedConsistentIndex = bytes === undefined ? 0 : decodeUint64(bytes);
  }

  /** Gives free space back by copying the file with compaction (see lmdb-reclaim.ts). */
  async reclaimSpace(): Promise<ReclaimReport> {
    assert(this.reclaiming === undefined, 'reclaimSpace already running');
    const reclaim = reclaimByCopy(this.reclaimHost());
    this.reclaiming = reclaim.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await reclaim;
    } finally {
      this.reclaiming = undefined;
    }
  }

  /** The state reclaimByCopy() reads and swaps, kept private to everyone else. */
  private reclaimHost(): ReclaimHost {
    return {
      file: this.file,
      syncMode: this.syncMode,
      environment: () => this.environment,
      switchTo: (environment) => {
        this.environment = environment;
      },
      startJournal: () => {
        assert(this.journal === undefined, 'reclaimSpace already running');
        this.journal = [];
      },
      stopJournal: () => {
        const journal = this.journal;
        assert(journal !== undefined, 'no journal to stop');
        this.journal = undefined;
        return journal;
      },
      commitAll: () => this.groups.commitAll(),
      openSnapshots: () => this.openSnapshots,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.reclaiming !== undefined) await this.reclaiming;
    await this.groups.commit();
    await this.environment.root.flushed;
    this.closed = true;
    await this.environment.root.close();
  }
}
