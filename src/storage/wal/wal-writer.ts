/**
 * Appends records with group commit. `append()` queues records and returns a promise that
 * resolves only after an fsync covering them. One batch is in flight at a time: appends that
 * arrive while it is being written and synced wait and then go out together as the next batch,
 * encoded into one reused buffer, written with one write and made durable with one fdatasync.
 * The more concurrent appenders, the more records share each fsync.
 *
 * On any write or sync error the writer fails for good: the error rejects every pending and
 * every future append. After a failed fsync the page cache state is unknown (the famous
 * "fsyncgate"), so retrying could acknowledge data that is not on disk; the member must stop.
 */
import * as path from 'node:path';
import { assert, asLogIndex, type LogIndex } from '../../base/index.ts';
import type { HardState } from '../../raft/types.ts';
import type { FileHandle, FileSystem } from '../fs/index.ts';
import { formatSegmentName, listSegments } from './segment-name.ts';
import {
  encodeHeaderRecords,
  installSegment,
  prepareSpare,
  type OpenSegment,
} from './segment-file.ts';
import { encodeFrame, frameBytes } from './wal-codec.ts';
import { WalFailedError } from './wal-errors.ts';
import type { WalRecord, WalSnapshotMarker } from './wal-record.ts';

export interface WalWriterOptions {
  /** Size of each preallocated segment file. */
  readonly segmentBytes: number;
  /** Awaited before each batch is taken, so appenders woken by the last acknowledgement can
   *  join the next batch. Production: one event-loop turn; the simulator passes its own. */
  readonly yieldToAppenders: () => Promise<void>;
}

/** What recovery hands the writer: where to continue and what each new segment repeats. */
export interface WalWriterState {
  readonly segment: OpenSegment;
  readonly crc: number;
  readonly lastIndex: LogIndex;
  readonly metadata: Uint8Array;
  readonly hardState: HardState;
  readonly snapshot: WalSnapshotMarker;
}

export interface WalStats {
  /** Batches written, each ending in one fsync of the segment it ended in. */
  batches: number;
  records: number;
  appends: number;
  bytes: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** Whether this appender needs its records durable (fsynced) before it is resolved. */
  readonly sync: boolean;
}

export interface AppendOptions {
  /** false: resolve once written, without an fsync (raft's MustSync=false: only the commit
   *  index changed, which can be re-learned). A crash may lose such records, but never what
   *  an earlier fsync covered. Default true. */
  readonly sync?: boolean;
}

const initialBufferBytes = 1024 * 1024;

export class WalWriter {
  private segment: OpenSegment;
  private crc: number;
  private lastIndex: LogIndex;
  private metadata: Uint8Array;
  private hardState: HardState;
  private snapshot: WalSnapshotMarker;
  private pendingRecords: WalRecord[] = [];
  private pendingWaiters: Waiter[] = [];
  private inFlightWaiters: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private failure: WalFailedError | null = null;
  private closed = false;
  /** Bytes written to the open segment since its last fsync (by `sync: false` appends). */
  private unsynced = false;
  private buffer = Buffer.allocUnsafe(initialBufferBytes);
  private spare: Promise<FileHandle | Error>;
  readonly stats: WalStats = { batches: 0, records: 0, appends: 0, bytes: 0 };

  constructor(
    private readonly fs: FileSystem,
    private readonly directory: string,
    state: WalWriterState,
    private readonly options: WalWriterOptions,
  ) {
    assert(options.segmentBytes >= 4096, 'segments must be at least 4 KiB');
    assert(state.segment.offset <= state.segment.capacityBytes, 'segment offset within capacity');
    this.segment = state.segment;
    this.crc = state.crc;
    this.lastIndex = state.lastIndex;
    this.metadata = state.metadata;
    this.hardState = state.hardState;
    this.snapshot = state.snapshot;
    this.spare = this.startSpare();
  }

  /** Resolves once `records` are durable (or only written, with `sync: false`); rejects if
   *  the WAL failed (then forever after). */
  append(records: readonly WalRecord[], options: AppendOptions = {}): Promise<void> {
    const sync = options.sync ?? true;
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('wal: closed'));
    assert(records.length > 0, 'append needs at least one record');
    for (const record of records) assert(record.kind !== 'crc-seed', 'seeds are internal');
    const promise = new Promise<void>((resolve, reject) => {
      this.pendingWaiters.push({ resolve, reject, sync });
    });
    for (const record of records) this.pendingRecords.push(record);
    this.stats.appends++;
    this.flushing ??= this.flushLoop();
    return promise;
  }

  /** Resolves once everything appended before this call is durable. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.flushing === null && !this.unsynced) return Promise.resolve();
    // A waiter without records: the flush loop acknowledges it with the next batch (or alone).
    const promise = new Promise<void>((resolve, reject) =>
      this.pendingWaiters.push({ resolve, reject, sync: true }),
    );
    this.flushing ??= this.flushLoop();
    return promise;
  }

  /** The error that made this WAL unusable, if any. */
  failed(): WalFailedError | null {
    return this.failure;
  }

  /** Deletes segments whose entries are all ≤ `index`, keeping the one that contains it. */
  async releaseTo(index: LogIndex): Promise<number> {
    const segments = listSegments(await this.fs.readdir(this.directory));
    let keep = -1;
    for (let i = 0; i < segments.length; i++) {
      if (segments[i].firstIndex <= index) keep = i;
    }
    // Oldest first, each made durable before the next, so that after a crash the surviving
    // segments are still a contiguous run (recovery rejects a missing one in the middle).
    for (let i = 0; i < keep; i++) {
      assert(segments[i].sequence < this.segment.name.sequence, 'never release the open one');
      await this.fs.unlink(path.posix.join(this.directory, formatSegmentName(segments[i])));
      await this.fs.fsyncDir(this.directory);
    }
    return Math.max(0, keep);
  }

  /** Waits for the batch in flight and those queued, then closes the files. */
  async close(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    // A clean shutdown makes `sync: false` records durable too, as etcd's WAL.Close does.
    if (this.unsynced && this.failure === null) await this.sync();
    this.closed = true;
    await this.segment.handle.close();
    const spare = await this.spare;
    if (!(spare instanceof Error)) await spare.close();
  }

  private async flushLoop(): Promise<void> {
    try {
      for (;;) {
        await this.options.yieldToAppenders();
        if (this.pendingWaiters.length === 0) break;
        const records = this.pendingRecords;
        this.inFlightWaiters = this.pendingWaiters;
        this.pendingRecords = [];
        this.pendingWaiters = [];
        // One appender that needs durability makes the whole batch durable.
        const sync = this.inFlightWaiters.some((waiter) => waiter.sync);
        if (records.length > 0) {
          await this.writeBatch(records, sync);
          this.stats.batches++;
          this.stats.records += records.length;
        } else if (sync && this.unsynced) {
          await this.syncSegment();
        }
        assert(!sync || !this.unsynced, 'a durable batch leaves nothing unsynced');
        assert(this.failure === null, 'never acknowledge after a failure');
        const acknowledged = this.inFlightWaiters;
        this.inFlightWaiters = [];
        for (const waiter of acknowledged) waiter.resolve();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = null;
    }
  }

  private fail(error: unknown): void {
    this.failure = error instanceof WalFailedError ? error : new WalFailedError(error);
    const waiters = [...this.inFlightWaiters, ...this.pendingWaiters];
    this.inFlightWaiters = [];
    this.pendingWaiters = [];
    this.pendingRecords = [];
    for (const waiter of waiters) waiter.reject(this.failure);
  }

  private async writeBatch(records: readonly WalRecord[], sync: boolean): Promise<void> {
    let total = 0;
    for (const record of records) total += frameBytes(record);
    if (this.buffer.length < total) {
      this.buffer = Buffer.allocUnsafe(Math.max(total, this.buffer.length * 2));
    }
    let chunkStart = 0;
    let at = 0;
    for (const record of records) {
      const size = frameBytes(record);
      if (this.segment.offset + (at - chunkStart) + size > this.segment.capacityBytes) {
        // Always synced, even in a `sync: false` batch: the next segment's crc seed and header
        // commit to this segment's content, so a lost tail here would break the chain.
        await this.writeChunk(chunkStart, at, true);
        chunkStart = at;
        await this.cut(size);
      }
      this.crc = encodeFrame(record, this.buffer, at, this.crc);
      at += size;
      this.remember(record);
    }
    assert(at === total, 'batch encoded to its computed size');
    assert(at > chunkStart, 'the last chunk of a batch is never empty');
    await this.writeChunk(chunkStart, at, sync);
    this.stats.bytes += total;
  }

  /** Writes `buffer[from..to)` at the segment's end and, with `sync`, fsyncs the segment. */
  private async writeChunk(from: number, to: number, sync: boolean): Promise<void> {
    if (to > from) {
      assert(this.segment.offset + (to - from) <= this.segment.capacityBytes, 'chunk fits');
      const bytes = this.buffer.subarray(from, to);
      this.unsynced = true;
      if (sync) {
        // One call, so the real disk spends a single thread-pool round trip (see FileHandle).
        await this.segment.handle.writeAndSync(bytes, this.segment.offset);
        this.segment.offset += to - from;
        this.unsynced = false;
        assert(this.failure === null, 'a failed WAL never syncs again');
        return;
      }
      await this.segment.handle.write(bytes, this.segment.offset);
      this.segment.offset += to - from;
    }
    if (sync && this.unsynced) await this.syncSegment();
  }

  private async syncSegment(): Promise<void> {
    await this.segment.handle.sync();
    this.unsynced = false;
    assert(this.failure === null, 'a failed WAL never syncs again');
  }

  /** Closes the full segment (already synced) and continues in a new one. */
  private async cut(nextFrameBytes: number): Promise<void> {
    const spare = await this.spare;
    if (spare instanceof Error) throw spare;
    const name = { sequence: this.segment.name.sequence + 1, firstIndex: this.lastIndex + 1 };
    const header = encodeHeaderRecords(this.headerRecords(), this.crc);
    const capacityBytes = Math.max(this.options.segmentBytes, header.bytes.length + nextFrameBytes);
    const next = await installSegment(
      this.fs,
      this.directory,
      spare,
      { sequence: name.sequence, firstIndex: asLogIndex(name.firstIndex) },
      header.bytes,
      capacityBytes,
    );
    this.crc = header.crc;
    const previous = this.segment;
    this.segment = next;
    await previous.handle.close();
    this.spare = this.startSpare();
  }

  /** What every segment starts with, so it can be read without the ones before it. */
  headerRecords(): WalRecord[] {
    return [
      { kind: 'crc-seed', previousCrc: this.crc },
      { kind: 'metadata', data: this.metadata },
      { kind: 'snapshot', snapshot: this.snapshot },
      { kind: 'hard-state', hardState: this.hardState },
    ];
  }

  private remember(record: WalRecord): void {
    if (record.kind === 'entry') this.lastIndex = record.entry.index;
    if (record.kind === 'hard-state') this.hardState = record.hardState;
    if (record.kind === 'metadata') this.metadata = record.data;
    if (record.kind === 'snapshot' && record.snapshot.index >= this.snapshot.index) {
      this.snapshot = record.snapshot;
    }
  }

  private startSpare(): Promise<FileHandle | Error> {
    // Errors become values so that a failed background preparation is reported by the cut
    // that needs it, never as an unhandled rejection.
    return prepareSpare(this.fs, this.directory, this.options.segmentBytes).catch(
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
  }
}
