/**
 * The reference LogStorage, kept in memory: used by tests and the simulator. entries[0] is a
 * dummy that stands for the snapshot (its index and term), so term() works at the snapshot.
 */
import { assert, asLogIndex, asTerm, type LogIndex, type Term } from '../base/index.ts';
import type { InitialState, LogStorage, LogStorageError } from './log-storage.ts';
import { limitSize } from './raft-log.ts';
import { NO_MEMBER, type ConfState, type Entry, type HardState, type Snapshot } from './types.ts';

export type StorageWriteResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'compacted' | 'snapshot-out-of-date' };

const OK: StorageWriteResult = { ok: true };

export class MemoryLogStorage implements LogStorage {
  private hardState: HardState = { term: asTerm(0), vote: NO_MEMBER, commit: asLogIndex(0) };
  private confState: ConfState;
  private currentSnapshot: Snapshot;
  private log: Entry[];

  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.confState = confState;
    this.currentSnapshot = {
      metadata: { index: asLogIndex(0), term: asTerm(0), confState },
      data: new Uint8Array(0),
    };
    this.log = [dummyEntry(asLogIndex(0), asTerm(0))];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  private get offset(): LogIndex {
    return this.log[0].index;
  }

  entries(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): readonly Entry[] | LogStorageError {
    if (lo <= this.offset) return 'compacted';
    if (hi > this.lastIndex() + 1) return 'unavailable';
    assert(lo <= hi, 'entries bounds are ordered');
    return limitSize(this.log.slice(lo - this.offset, hi - this.offset), maxSizeBytes);
  }

  term(index: LogIndex): Term | LogStorageError {
    if (index < this.offset) return 'compacted';
    if (index > this.lastIndex()) return 'unavailable';
    return this.log[index - this.offset].term;
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.offset + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.offset + this.log.length - 1);
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.hardState.term, 'the persisted term never decreases');
    this.hardState = hardState;
  }

  /** Records the configuration the application currently runs with, for initialState(). */
  setConfState(confState: ConfState): void {
    this.confState = confState;
  }

  /** Appends entries, replacing any conflicting suffix; already-compacted ones are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i].index === entries[i - 1].index + 1, 'appended entries are contiguous');
    }
    const first = this.firstIndex();
    const last = entries[entries.length - 1].index;
    if (last < first) return;
    const kept = first > entries[0].index ? entries.slice(first - entries[0].index) : entries;
    const start = kept[0].index - this.offset;
    assert(start <= this.log.length, 'an append leaves no gap');
    // In place: the member appends every Ready to a log of up to --snapshot-count entries, and
    // copying the whole array per append cost time quadratic in the log length and two
    // large-object-space arrays of garbage each time. Nobody else holds `log` (entries() copies).
    this.log.length = start;
    for (const entry of kept) this.log.push(entry);
    assert(this.lastIndex() === last, 'the log ends at the last appended entry');
  }

  /** Replaces the whole log by an incoming snapshot. Re-applying one at the current snapshot
   *  index is allowed while no entries follow it, so a fresh storage can be seeded with the
   *  founding configuration at index 0. */
  applySnapshot(snapshot: Snapshot): StorageWriteResult {
    const current = this.currentSnapshot.metadata.index;
    const index = snapshot.metadata.index;
    const reseed = index === current && this.lastIndex() === current;
    if (index < current || (index === current && !reseed)) {
      return { ok: false, reason: 'snapshot-out-of-date' };
    }
    this.currentSnapshot = snapshot;
    this.confState = snapshot.metadata.confState;
    this.log = [dummyEntry(snapshot.metadata.index, snapshot.metadata.term)];
    return OK;
  }

  /** Records a snapshot of the application's state at `index`; entries are kept until
   *  compact() releases them. A request at or below the current snapshot changes nothing: a
   *  newer snapshot already covers it, and that one is returned. */
  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.currentSnapshot.metadata.index) return this.currentSnapshot;
    assert(index <= this.lastIndex(), 'a snapshot covers only entries that exist');
    const term = this.term(index);
    assert(typeof term === 'number', 'the snapshot index has a term');
    this.currentSnapshot = { metadata: { index, term, confState }, data };
    return this.currentSnapshot;
  }

  /** Drops entries up to and including `index`, which the application has snapshotted. */
  compact(index: LogIndex): StorageWriteResult {
    if (index <= this.offset) return { ok: false, reason: 'compacted' };
    assert(index <= this.lastIndex(), 'compaction stays inside the log');
    assert(index <= this.currentSnapshot.metadata.index, 'compact only what is snapshotted');
    const term = this.log[index - this.offset].term;
    // splice() shifts the kept entries down in place instead of spreading them into new arrays.
    this.log.splice(0, index - this.offset + 1, dummyEntry(index, term));
    assert(this.offset === index, 'the dummy entry stands for the compacted index');
    return OK;
  }
}

function dummyEntry(index: LogIndex, term: Term): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) };
}
