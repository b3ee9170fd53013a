/**
 * A member's disk made of the real storage code: the WAL (src/storage/wal) and the Snapshotter
 * on the member's own FaultyFileSystem. A crash is the faulty file system's power cut: writes
 * the WAL did not fsync (raft's MustSync=false Readies) are lost, or a random prefix of them
 * survives with the last one torn; the restart recovers through openWal and the Snapshotter,
 * exactly as src/server/raft-storage.ts does.
 *
 * The bridge between the async storage code and the event-driven simulator: every disk
 * operation is queued on one promise chain, and the simulator awaits `settled()` before it
 * fires the next world event. FaultyFileSystem never uses timers and the WAL is given a
 * microtask `yieldToAppenders`, so the chain settles in microtasks alone, in an order fixed by
 * the program: a seed replays byte for byte. To the world, each persist therefore completes
 * within the event that issued it, as the model disk's does, and the Ready contract (persist,
 * then send) holds because a sent message is delivered in a later event at the earliest.
 *
 * Restart happens in two halves: crash() reads the disk back at once (nothing writes a dead
 * member's disk, so reading it now or at restart is the same), and recover() hands over what
 * that read found. Injected corruption (a bit flip in synced, non-tail WAL bytes) must make
 * that read fail with a WalCorruptError naming the flipped file; recover() then reports the
 * disk as unreadable, and anything else (corruption missed or misplaced, another error) is
 * thrown as the bug it would be.
 */
import * as path from 'node:path';
import { assert, SeededRandom, utf8Encode, type Random } from '../../src/base/index.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import {
  createWal,
  FaultyFileSystem,
  openWal,
  parseSegmentName,
  snapDirectory,
  Snapshotter,
  walDirectory,
  walExists,
  WalCorruptError,
  type Wal,
  type WalOptions,
} from '../../src/storage/index.ts';
import {
  DiskUnreadableError,
  type CrashOptions,
  type CrashReport,
  type DurableState,
  type MemberDisk,
  type PersistBatch,
} from './sim-disk.ts';

export interface WalDiskOptions {
  /** Seeds the file system's own faults (which unsynced writes survive, where a write tears). */
  readonly random: Random;
  readonly segmentBytes: number;
  /** Identifies the member in the WAL metadata. */
  readonly memberId: number;
}

/** Snapshot files kept after an application snapshot (older ones are purged, as etcd does). */
const SNAPSHOTS_RETAINED = 2;
const FRAME_HEADER_BYTES = 16;
const EMPTY_STATE: DurableState = { hardState: null, snapshot: null, entries: [] };

/** Where an injected bit flip landed. */
export interface InjectedFlip {
  readonly file: string;
  readonly offset: number;
}

/** Injected corruption went unreported (or was reported elsewhere): the WAL skipped data. */
export class CorruptionUndetectedError extends Error {
  override readonly name = 'CorruptionUndetected';
}

export class WalDisk implements MemberDisk {
  readonly fs: FaultyFileSystem;
  private readonly dataDirectory = '/data';
  private readonly walDirectory = walDirectory('/data');
  private readonly snapshotter: Snapshotter;
  private readonly walOptions: WalOptions;
  private readonly metadata: Uint8Array;
  private wal: Wal | null = null;
  /** The tail of the queue of disk operations; null when idle. */
  private work: Promise<void> | null = null;
  /** An operation failed: a bug in the storage code or in this bridge. */
  private failure: unknown = null;
  /** What the last read-back found; null while writes happened since (no process start). */
  private recovered: DurableState | Error | null = EMPTY_STATE;
  /** Writes since the last fsync that a crash may lose (persists with sync false). */
  private unsyncedWrites = 0;
  private flip: InjectedFlip | null = null;
  /** A member that joined empty has no WAL until its first write. */
  private hasWal = false;

  constructor(private readonly options: WalDiskOptions) {
    this.fs = new FaultyFileSystem(new SeededRandom(options.random.nextUint32()));
    this.snapshotter = new Snapshotter(this.fs, snapDirectory(this.dataDirectory));
    // Microtasks, not setImmediate: the simulator's drain must see the chain settle without
    // a turn of the event loop, and with one persist per event there is nothing to group.
    this.walOptions = {
      segmentBytes: options.segmentBytes,
      yieldToAppenders: () => Promise.resolve(),
    };
    this.metadata = utf8Encode(`sim member ${options.memberId}`);
  }

  /** The disk's I/O in flight, or null when idle. Rejects if an operation failed. */
  settled(): Promise<void> | null {
    const work = this.work;
    if (work === null) {
      if (this.failure !== null) return Promise.reject(this.failure);
      return null;
    }
    return work.then(() => {
      if (this.work === work) this.work = null;
      if (this.failure !== null) throw this.failure;
    });
  }

  /** The bit flip injected at the last crash, if any. */
  get injectedFlip(): InjectedFlip | null {
    return this.flip;
  }

  format(state: DurableState): void {
    assert(state.snapshot === null, 'a fresh data directory holds no snapshot');
    this.persist({ snapshot: null, entries: state.entries, hardState: state.hardState }, true);
    // Then a clean stop and a start, as sigild's first run ends and the next one begins.
    this.enqueue(async () => {
      await this.requireWal().close();
      this.wal = null;
    });
    this.enqueue(() => this.readBack());
  }

  persist(batch: PersistBatch, sync: boolean): void {
    const { snapshot, entries, hardState } = batch;
    if (snapshot === null && entries.length === 0 && hardState === null) return;
    this.recovered = null;
    this.hasWal = true;
    if (sync || snapshot !== null) this.unsyncedWrites = 0;
    else this.unsyncedWrites++;
    this.enqueue(async () => {
      const wal = await this.openedWal();
      // etcd's order: the snapshot file, then its WAL marker, then the entries and hard state,
      // so a restart never finds a WAL marker without its snapshot file.
      if (snapshot !== null) await this.saveSnapshotFiles(wal, snapshot);
      await wal.save(hardState, entries, { sync });
    });
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.recovered = null;
    this.unsyncedWrites = 0;
    this.enqueue(async () => {
      const wal = await this.openedWal();
      await this.saveSnapshotFiles(wal, snapshot);
      await wal.releaseTo(snapshot.metadata.index);
      await this.snapshotter.purge(SNAPSHOTS_RETAINED);
    });
  }

  crash(_random: Random, options: CrashOptions): CrashReport {
    assert(this.work === null, 'a crash comes between events, never with I/O in flight');
    const unsyncedWrites = this.unsyncedWrites;
    this.unsyncedWrites = 0;
    this.flip = null;
    this.wal = null;
    this.fs.crash({
      keepUnsynced: options.tornWrite ? 'random' : 'none',
      tornWrite: options.tornWrite,
    });
    const corrupted = options.corrupt && this.hasWal;
    if (corrupted) this.enqueue(() => this.flipSyncedBit());
    this.enqueue(() => this.readBack());
    return { unsyncedWrites, survivingWrites: null, tornEntries: false, corrupted };
  }

  recover(): DurableState {
    assert(this.work === null, 'recover only once the read-back settled');
    const recovered = this.recovered;
    assert(recovered !== null, 'recover only after a crash (or format) read the disk back');
    const flip = this.flip;
    if (recovered instanceof WalCorruptError && flip !== null) {
      if (recovered.file !== flip.file || recovered.offset > flip.offset) {
        throw new CorruptionUndetectedError(
          `flipped ${flip.file} at ${flip.offset}, but recovery reported: ${recovered.message}`,
        );
      }
      throw new DiskUnreadableError(recovered.message);
    }
    if (recovered instanceof Error) throw recovered;
    if (flip !== null) {
      throw new CorruptionUndetectedError(
        `a bit flip in ${flip.file} at offset ${flip.offset} was recovered without an error`,
      );
    }
    return recovered;
  }

  private enqueue(operation: () => Promise<void>): void {
    const previous = this.work ?? Promise.resolve();
    this.work = previous.then(operation).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  private requireWal(): Wal {
    assert(this.wal !== null, 'the WAL is open');
    return this.wal;
  }

  /** The open WAL; a member that joined with an empty disk creates it on its first write. */
  private async openedWal(): Promise<Wal> {
    if (this.wal === null) {
      assert(!(await walExists(this.fs, this.walDirectory)), 'an existing WAL is opened at start');
      const created = await createWal(this.fs, this.walDirectory, this.metadata, this.walOptions);
      this.wal = created.wal;
    }
    return this.wal;
  }

  private async saveSnapshotFiles(wal: Wal, snapshot: Snapshot): Promise<void> {
    await this.snapshotter.save(snapshot);
    await wal.saveSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term });
  }

  /** A process start: opens the WAL and the newest snapshot, as the server does. */
  private async readBack(): Promise<void> {
    this.wal = null;
    if (!(await walExists(this.fs, this.walDirectory))) {
      this.recovered = EMPTY_STATE;
      return;
    }
    let opened;
    try {
      opened = await openWal(this.fs, this.walDirectory, this.walOptions);
    } catch (error) {
      if (!(error instanceof WalCorruptError)) throw error;
      this.recovered = error;
      return;
    }
    this.wal = opened.wal;
    const snapshot = await this.snapshotter.loadNewest();
    const snapshotIndex = snapshot === null ? 0 : snapshot.metadata.index;
    // A snapshot file is written before its WAL marker, so the file is never the older one.
    assert(snapshotIndex >= opened.snapshot.index, 'the WAL names a snapshot newer than any file');
    const entries = opened.entries.filter((entry) => entry.index > snapshotIndex);
    assert(
      entries.length === 0 || entries[0].index === snapshotIndex + 1,
      `the WAL's entries after the snapshot at ${snapshotIndex} start at ${entries[0]?.index}`,
    );
    const hardState = opened.hardState;
    this.recovered = {
      hardState: hardState.term === 0 && hardState.commit === 0 ? null : hardState,
      snapshot,
      entries,
    };
  }

  /**
   * Flips one bit in bytes the WAL had synced and that recovery must not mistake for a torn
   * tail: anywhere in the written part of a segment other than the last, or before the last
   * record of the last segment (a flip in the very last record is indistinguishable from a
   * torn write, a limit the WAL shares with etcd, so it is not injected).
   */
  private async flipSyncedBit(): Promise<void> {
    const names = (await this.fs.readdir(this.walDirectory))
      .map((name) => ({ name, parsed: parseSegmentName(name) }))
      .filter((segment) => segment.parsed !== null)
      .sort((left, right) => (left.parsed?.sequence ?? 0) - (right.parsed?.sequence ?? 0));
    assert(names.length > 0, 'a member that ran has a WAL');
    const random = this.options.random;
    const chosen = random.int(names.length);
    const file = path.posix.join(this.walDirectory, names[chosen].name);
    const frames = frameStarts(await this.fs.readFile(file));
    const isLast = chosen === names.length - 1;
    const limit = isLast ? frames.starts[frames.starts.length - 1] : frames.end;
    assert(limit > 0, 'the segment holds records before its last one');
    const offset = random.int(limit);
    this.fs.flipBit(file, offset, random.int(8));
    this.flip = { file, offset };
  }
}

/** Where each non-empty frame of a segment starts, and where the written frames end. */
function frameStarts(bytes: Uint8Array): { starts: number[]; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    let zero = true;
    for (let i = at; i < at + FRAME_HEADER_BYTES && zero; i++) zero = bytes[i] === 0;
    if (zero) break;
    starts.push(at);
    at += FRAME_HEADER_BYTES + view.getUint32(at + 4, true);
  }
  assert(starts.length > 0, 'every segment starts with its header records');
  return { starts, end: Math.min(at, bytes.length) };
}
