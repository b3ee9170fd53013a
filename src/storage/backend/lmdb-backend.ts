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
 * Group commit. In lmdb-js a synchronous transaction's commit also waits, on the calling thread,
 * for the flush of the file (overlappingSync only moves the wait out of the write lock): about
 * 5 ms per commit on our disks, which capped the apply loop at one batch per flush. So, like
 * etcd's backend (commit every 100 ms or 10,000 writes), write() runs each call as a child
 * transaction of one long write transaction that stays open across calls and event-loop turns,
 * and that transaction commits once it is GROUP_AGE_MS_MAX old or holds GROUP_WRITES_MAX writes
 * or GROUP_BYTES_MAX bytes. Every call still stores its consistent index in the same
 * transaction as its data, and a failed call aborts only its own child transaction, so the file
 * always holds some prefix of the calls, each with its index; the WAL replays what a crash loses.
 * Reads go through the open transaction and see every call that returned (lmdb-js reads use the
 * write transaction while one is open). sync(), snapshot(), restore(), reclaimSpace() and
 * close() commit the open transaction first, and while a snapshot streams or a reclaim copies,
 * writes commit one by one again (see write()).
 *
 * Space reclaim: see reclaimSpace() below.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../../base/index.ts';
import {
  type Backend,
  type BackendEntry,
  type BackendReader,
  type BackendSize,
  type BackendWriter,
  BUCKET_NAMES,
  type BucketName,
  CONSISTENT_INDEX_KEY,
  decodeUint64,
  encodeUint64,
  type RangeOptions,
  type ReclaimReport,
  RESTORE_PENDING_KEY,
} from './backend.ts';
import {
  type Bytes,
  type Environment,
  type JournalRecord,
  openEnvironment,
  syncDirectory,
  toBuffer,
} from './lmdb-environment.ts';
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
/** Group commit bounds (see the top of the file); etcd's backend uses 100 ms and 10,000 too. */
const GROUP_AGE_MS_MAX = 100;
const GROUP_WRITES_MAX = 10_000;
/** Bounds LMDB's dirty pages (it spills above 512 MB) when values are large. */
const GROUP_BYTES_MAX = 64 * 1024 * 1024;

/** The long write transaction write() calls join until it commits. */
interface CommitGroup {
  /** Lets the transaction commit (at the next microtask checkpoint, in lmdb-js). */
  readonly release: () => void;
  /** Settles once the transaction has committed (or failed to). */
  readonly committed: Promise<void>;
  readonly openedMs: number;
  readonly timer: ReturnType<typeof setTimeout>;
  writes: number;
  bytes: number;
}

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
  /** The open group transaction, if any. */
  private group: CommitGroup | undefined;
  /** Set when a group commit failed: calls that returned were lost, the member must stop. */
  private commitError: unknown;

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
    assert(this.commitError === undefined, 'LmdbBackend write after a failed group commit');
    if (consistentIndex !== undefined) {
      assert(consistentIndex > this.cachedConsistentIndex, 'consistent index must increase');
    }
    // No new group while reclaimSpace() copies the file or a snapshot stream reads: LMDB
    // (lmdb-js 3.5.6) was seen to fail its freelist assertion in mdb_page_alloc ("key.mv_size >
    // 0") when a long write transaction with child transactions ran alongside the compacting
    // copy's read transaction. Both are rare, so those writes simply commit one by one.
    const grouping = this.journal === undefined && this.openSnapshots === 0;
    const group = this.group ?? (grouping ? this.openGroup() : undefined);
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
      if (
        group === undefined ||
        group.writes >= GROUP_WRITES_MAX ||
        group.bytes >= GROUP_BYTES_MAX ||
        performance.now() - group.openedMs >= GROUP_AGE_MS_MAX
      ) {
        group?.release();
      }
      return result;
    } finally {
      this.transactionJournal = undefined;
    }
  }

  /**
   * Opens the long write transaction: lmdb-js keeps a synchronous transaction open until the
   * promise its callback returns settles, and commits it then.
   */
  private openGroup(): CommitGroup {
    assert(this.group === undefined, 'group transaction already open');
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const pending = this.environment.root.transactionSync(() => held) as unknown as Promise<void>;
    assert(typeof pending.then === 'function', 'lmdb-js did not hold the write transaction open');
    const timer = setTimeout(release, GROUP_AGE_MS_MAX);
    // An idle member must not be kept alive by the timer; exiting is a crash the WAL covers.
    timer.unref();
    const group: CommitGroup = {
      release,
      committed: pending.then(
        () => this.groupEnded(group),
        (error: unknown) => {
          this.commitError = error;
          this.groupEnded(group);
        },
      ),
      openedMs: performance.now(),
      timer,
      writes: 0,
      bytes: 0,
    };
    this.group = group;
    return group;
  }

  private groupEnded(group: CommitGroup): void {
    clearTimeout(group.timer);
    if (this.group === group) this.group = undefined;
  }

  /**
   * Commits the open group transaction, if any; rejects if a group commit failed. A caller that
   * needs "no group open" to hold at its next synchronous step must check `this.group` again
   * after the await (write() may run between this promise settling and the caller resuming):
   * `while (this.group !== undefined) await this.commitGroup();`.
   */
  private async commitGroup(): Promise<void> {
    while (this.group !== undefined) {
      const group = this.group;
      group.release();
      await group.committed;
    }
    if (this.commitError !== undefined) throw this.commitError;
  }

  /** Counts a write against the group's bounds. */
  private countWrite(bytes: number): void {
    if (this.group === undefined) return;
    this.group.writes++;
    this.group.bytes += bytes;
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
    range: (bucket, start, end, options) => this.range(bucket, start, end, options),
    put: (bucket, key, value) => {
      const written = this.database(bucket).putSync(toBuffer(key), toBuffer(value));
      assert(written, 'LMDB put failed');
      this.countWrite(key.length + value.length);
      this.journalRecord(bucket, key, value);
    },
    append: (bucket, key, value) => {
      // LMDB ignores an out-of-order append silently (put returns false): assert it.
      const written = this.database(bucket).putSync(toBuffer(key), toBuffer(value), {
        append: true,
      });
      assert(written, 'LMDB append out of order');
      this.countWrite(key.length + value.length);
      this.journalRecord(bucket, key, value);
    },
    delete: (bucket, key) => {
      const existed = this.database(bucket).removeSync(toBuffer(key));
      this.countWrite(key.length);
      if (existed) this.journalRecord(bucket, key, undefined);
      return existed;
    },
  };

  private range(
    bucket: BucketName,
    start: Uint8Array,
    end: Uint8Array | undefined,
    options: RangeOptions = {},
  ): BackendEntry[] {
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    const out: BackendEntry[] = [];
    const database = this.database(bucket);
    if (options.reverse === true) {
      // lmdb-js walks down from an inclusive `start`: begin at `end` and skip it if present.
      const startBuffer = toBuffer(start);
      const iterable = database.getRange({
        ...(end === undefined ? {} : { start: toBuffer(end) }),
        reverse: true,
      });
      for (const { key, value } of iterable) {
        if (end !== undefined && Buffer.compare(key, toBuffer(end)) >= 0) continue;
        if (Buffer.compare(key, startBuffer) < 0 || out.length >= limit) break;
        out.push({ key, value });
      }
      return out;
    }
    const bounds = {
      start: toBuffer(start),
      ...(end === undefined ? {} : { end: toBuffer(end) }),
      ...(limit === Infinity ? {} : { limit }),
    };
    if (options.keysOnly === true) {
      const empty = new Uint8Array(0);
      for (const key of database.getKeys(bounds)) out.push({ key, value: empty });
      return out;
    }
    for (const { key, value } of database.getRange(bounds)) out.push({ key, value });
    return out;
  }

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
    await this.commitGroup();
    await this.environment.root.flushed;
  }

  snapshot(): AsyncIterable<Uint8Array> {
    return encodeSnapshot(this.snapshotRecords());
  }

  /** Walks every bucket inside one read transaction, a batch per event-loop turn. */
  private async *snapshotRecords(): AsyncGenerator<SnapshotRecord> {
    // The read transaction sees committed data only: commit what write() returned so far. No
    // await lies between the loop's last check and useReadTransaction().
    do await this.commitGroup();
    while (this.group !== undefined);
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
    do await this.commitGroup();
    while (this.group !== undefined);
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
    await this.commitGroup();
    const bytes = this.database('meta').get(toBuffer(CONSISTENT_INDEX_KEY));
    this.cachedConsistentIndex = bytes === undefined ? 0 : decodeUint64(bytes);
  }

  /**
   * Online space reclaim. LMDB never shrinks its file but reuses freed pages, so growth is
   * bounded by the high-water mark; to give space back we copy the environment with compaction
   * (mdb_env_copy2 with MDB_CP_COMPACT, which lmdb-js runs off the main thread inside a read
   * transaction, so neither reads nor writes wait for it). Writes committed during the copy are
   * journaled and replayed into the copy, which becomes the live environment in the same
   * synchronous step (no read or write sees a mixture); then it is renamed over `db`. A crash
   * before the rename leaves the old complete file (a stale copy is deleted at open) and the WAL
   * replays what is missing; after it, the new file, which holds everything including its
   * consistent index. Alternative considered: compacting in place in small batches between
   * other work; LMDB cannot shrink a file in place, so only a copy gives space back.
   */
  async reclaimSpace(): Promise<ReclaimReport> {
    assert(this.reclaiming === undefined, 'reclaimSpace already running');
    const reclaim = this.reclaimByCopy();
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

  private async reclaimByCopy(): Promise<ReclaimReport> {
    assert(this.journal === undefined, 'reclaimSpace already running');
    const copyFile = `${this.file}.reclaim`;
    fs.rmSync(copyFile, { force: true });
    fs.rmSync(`${copyFile}-lock`, { force: true });
    // The copy holds committed data only; what write() returned before must be in it, and what
    // comes after goes to the journal (no await between the last check and setting it).
    do await this.commitGroup();
    while (this.group !== undefined);
    this.journal = [];
    const sizeBeforeBytes = fs.statSync(this.file).size;
    let copy: Environment;
    try {
      await this.environment.root.backup(copyFile, true);
      copy = openEnvironment(copyFile, this.syncMode);
    } catch (error) {
      this.journal = undefined;
      throw error;
    }
    // Writes journaled so far may still sit in the open group: commit it to the old file too,
    // then replay and switch with no await in between, so no write falls between the two.
    do await this.commitGroup();
    while (this.group !== undefined);
    const journal = this.journal;
    this.journal = undefined;
    for (let i = 0; i < journal.length; i += RESTORE_BATCH_RECORDS) {
      copy.root.transactionSync(() => {
        for (const record of journal.slice(i, i + RESTORE_BATCH_RECORDS)) {
          const database = copy.databases.get(record.bucket);
          assert(database !== undefined);
          if (record.value === undefined) database.removeSync(record.key);
          else assert(database.putSync(record.key, record.value));
        }
      });
    }
    const old = this.environment;
    this.environment = copy;
    // From here writes go to the copy, still named `db.reclaim`; a crash now reopens the old
    // `db`, whose consistent index matches its data, and the WAL replays the rest (sync()
    // waits for the rename, so the member cannot have released those WAL entries).
    // The old environment must be closed before the rename: closing an environment whose file
    // was renamed over blocks the event loop for seconds. Snapshot streams reading it finish
    // first.
    await this.closeWhenIdle(old);
    await copy.root.flushed;
    // Renaming over the old file would free its blocks inside rename(), seconds for a big file
    // on the event loop; move it aside and delete it in the background instead. A crash
    // between the two renames leaves no `db`: open() then puts `db.old` back.
    fs.renameSync(this.file, `${this.file}.old`);
    fs.renameSync(copyFile, this.file);
    fs.renameSync(`${copyFile}-lock`, `${this.file}-lock`);
    syncDirectory(path.dirname(this.file));
    await fs.promises.rm(`${this.file}.old`, { force: true });
    return { sizeBeforeBytes, sizeAfterBytes: fs.statSync(this.file).size };
  }

  private async closeWhenIdle(environment: Environment): Promise<void> {
    while (this.openSnapshots > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    // Closing waits synchronously for a pending flush (seconds for a big file): wait for it
    // asynchronously first so the close itself is quick and the event loop keeps turning.
    await environment.root.flushed;
    await environment.root.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.reclaiming !== undefined) await this.reclaiming;
    await this.commitGroup();
    await this.environment.root.flushed;
    this.closed = true;
    await this.environment.root.close();
  }
}
