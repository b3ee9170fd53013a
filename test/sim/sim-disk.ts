/**
 * A member's simulated disk: what survives a crash. Writes land in a volatile tail until an fsync
 * makes them durable; a crash keeps only the durable state, except that with a torn write some
 * prefix of the unsynced writes reached the platters first, the last of them possibly cut short
 * (a torn record is truncated on recovery, as the WAL's CRC framing does).
 *
 * Members see the disk only through `MemberDisk`, so the real WAL over a faulty FileSystem
 * (wal-disk.ts, over src/storage) can replace this model without touching the member.
 */
import { assert, type Random } from '../../src/base/index.ts';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts';

/** Everything a member recovers from disk after a restart. */
export interface DurableState {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in index order without gaps. */
  readonly entries: readonly Entry[];
}

/** What one Ready asks to persist, in the order the WAL writes it. */
export interface PersistBatch {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

export interface CrashReport {
  readonly unsyncedWrites: number;
  /** Writes that survived anyway (torn-write prefix); the last may be partial. Null when only
   *  the disk's own recovery will tell (the WAL disk). */
  readonly survivingWrites: number | null;
  readonly tornEntries: boolean;
  /** Whether corruption was injected (not if asked of a disk that has nothing written). */
  readonly corrupted: boolean;
}

export interface CrashOptions {
  /** A prefix of the unsynced writes reaches the platters, the last one possibly cut short. */
  readonly tornWrite: boolean;
  /** Also rot one bit of synced data that recovery must report (WAL disk only). */
  readonly corrupt: boolean;
}

/** The disk cannot be read back (injected corruption was detected): the member is lost for
 *  good, like a member whose disk died. Expected, never a violation. */
export class DiskUnreadableError extends Error {
  override readonly name = 'DiskUnreadableError';
}

export interface MemberDisk {
  /** Writes a fresh data directory holding `state` (a founder's bootstrap), durably. */
  format(state: DurableState): void;
  /** Writes `batch`; durable at once when `sync`, which also makes every earlier write durable. */
  persist(batch: PersistBatch, sync: boolean): void;
  /** The application's own snapshot: fsynced (with everything before it), and the log before
   *  it released. */
  saveSnapshot(snapshot: Snapshot): void;
  /** Power loss: unsynced writes are lost, or with `tornWrite`, a prefix of them survives. */
  crash(random: Random, options: CrashOptions): CrashReport;
  /** What a starting process reads; throws DiskUnreadableError if the disk cannot be read. */
  recover(): DurableState;
  /** I/O still in flight, or null when idle. The simulator awaits it before the next world
   *  event, so every operation completes within the event that issued it. */
  settled(): Promise<void> | null;
}

type Write =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hard-state'; readonly hardState: HardState };

export class SimDisk implements MemberDisk {
  private hardState: HardState | null = null;
  private snapshot: Snapshot | null = null;
  private entries: Entry[] = [];
  private unsynced: Write[] = [];

  format(state: DurableState): void {
    assert(state.snapshot === null, 'a fresh data directory holds no snapshot');
    this.persist({ snapshot: null, entries: state.entries, hardState: state.hardState }, true);
  }

  settled(): null {
    return null;
  }

  persist(batch: PersistBatch, sync: boolean): void {
    if (batch.snapshot !== null) this.unsynced.push({ kind: 'snapshot', snapshot: batch.snapshot });
    if (batch.entries.length > 0) this.unsynced.push({ kind: 'entries', entries: batch.entries });
    if (batch.hardState !== null) {
      this.unsynced.push({ kind: 'hard-state', hardState: batch.hardState });
    }
    if (sync) this.sync();
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.sync();
    const index = snapshot.metadata.index;
    if (this.snapshot !== null && this.snapshot.metadata.index >= index) return;
    const at = this.entries.find((entry) => entry.index === index);
    assert(at !== undefined, `snapshot at ${index} of an entry not on disk`);
    assert(at.term === snapshot.metadata.term, 'snapshot term differs from the log');
    this.snapshot = snapshot;
    this.entries = this.entries.filter((entry) => entry.index > index);
  }

  crash(random: Random, options: CrashOptions): CrashReport {
    assert(!options.corrupt, 'the model disk does not model corruption; the WAL disk does');
    const tornWrite = options.tornWrite;
    const unsyncedWrites = this.unsynced.length;
    let survivingWrites = 0;
    let tornEntries = false;
    if (tornWrite && unsyncedWrites > 0) {
      survivingWrites = random.int(unsyncedWrites + 1);
      for (let i = 0; i < survivingWrites; i++) {
        const write = this.unsynced[i];
        const isLast = i === survivingWrites - 1;
        if (isLast && write.kind === 'entries' && write.entries.length > 1 && random.chance(0.5)) {
          // The record boundary fell inside this batch: a prefix of its entries made it.
          const kept = 1 + random.int(write.entries.length - 1);
          this.apply({ kind: 'entries', entries: write.entries.slice(0, kept) });
          tornEntries = true;
        } else {
          this.apply(write);
        }
      }
    }
    this.unsynced = [];
    return { unsyncedWrites, survivingWrites, tornEntries, corrupted: false };
  }

  recover(): DurableState {
    assert(this.unsynced.length === 0, 'recover after a crash, never with writes in flight');
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  private sync(): void {
    for (const write of this.unsynced) this.apply(write);
    this.unsynced = [];
  }

  private apply(write: Write): void {
    switch (write.kind) {
      case 'hard-state':
        this.hardState = write.hardState;
        return;
      case 'snapshot':
        // A snapshot from the leader replaces the whole log, as MemoryLogStorage does.
        this.snapshot = write.snapshot;
        this.entries = [];
        return;
      case 'entries': {
        const floor = this.snapshot === null ? 0 : this.snapshot.metadata.index;
        const fresh = write.entries.filter((entry) => entry.index > floor);
        if (fresh.length === 0) return;
        // Appending at `first` truncates any conflicting suffix, exactly as the log does.
        const first = fresh[0].index;
        this.entries = this.entries.filter((entry) => entry.index < first);
        const expected =
          this.entries.length > 0 ? this.entries[this.entries.length - 1].index + 1 : floor + 1;
        assert(
          fresh[0].index === expected,
          `gap on disk: expected ${expected}, got ${fresh[0].index}`,
        );
        for (const entry of fresh) this.entries.push(entry);
        return;
      }
    }
  }
}
