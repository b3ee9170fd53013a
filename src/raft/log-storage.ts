/**
 * The durable part of the log as raft sees it: read-only. The application appends what each
 * Ready tells it to, and compacts after snapshots; raft only reads.
 */
import type { LogIndex, Term } from '../base/index.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

export type LogStorageError = 'compacted' | 'unavailable';

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface LogStorage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at most `maxSizeBytes` in total but always at least one. */
  entries(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): readonly Entry[] | LogStorageError;
  /** The term of the entry at `index`; the snapshot's index also has a known term. */
  term(index: LogIndex): Term | LogStorageError;
  /** Index of the first entry still available (the snapshot index + 1). */
  firstIndex(): LogIndex;
  lastIndex(): LogIndex;
  snapshot(): Snapshot;
}
