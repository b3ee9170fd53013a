/**
 * The log as raft reasons about it: the durable part (LogStorage, written by the application)
 * followed by the unstable tail, plus the commit and applied indexes.
 *
 *   storage.firstIndex ... unstable.offset-1 | unstable.offset ... lastIndex
 *   applied <= committed <= lastIndex
 */
import { assert, asLogIndex, asTerm, type LogIndex, type Term } from '../base/index.ts';
import type { LogStorage, LogStorageError } from './log-storage.ts';
import type { Entry, Snapshot } from './types.ts';
import { UnstableLog } from './unstable-log.ts';

export function entriesSizeBytes(entries: readonly Entry[]): number {
  let size = 0;
  for (const entry of entries) size += entry.data.length;
  return size;
}

/** The longest prefix within `maxSizeBytes`, but always at least one entry. */
export function limitSize(entries: readonly Entry[], maxSizeBytes: number): Entry[] {
  let size = 0;
  let count = 0;
  while (count < entries.length) {
    size += entries[count].data.length;
    if (count > 0 && size > maxSizeBytes) break;
    count++;
  }
  return entries.slice(0, count);
}

export class RaftLog {
  readonly unstable: UnstableLog;
  committed: LogIndex;
  applied: LogIndex;

  constructor(readonly storage: LogStorage) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first >= 1 && last >= first - 1, 'storage reports a sane range');
    this.unstable = new UnstableLog(asLogIndex(last + 1));
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = asLogIndex(first - 1);
    this.applied = asLogIndex(first - 1);
  }

  firstIndex(): LogIndex {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The last index the application has persisted, as reported through advance(). */
  lastStableIndex(): LogIndex {
    assert(this.unstable.snapshot === null, 'no stable index while a snapshot is pending');
    return asLogIndex(this.unstable.offset - 1);
  }

  term(index: LogIndex): Term | LogStorageError {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex) return 'compacted';
    if (index > this.lastIndex()) return 'unavailable';
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== null) return unstableTerm;
    return this.storage.term(index);
  }

  /** Term at `index`, or 0 when it is unknown (compacted or past the end). */
  termOrZero(index: LogIndex): Term {
    const term = this.term(index);
    return typeof term === 'number' ? term : asTerm(0);
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(typeof term === 'number', 'the last entry always has a known term');
    return term;
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Whether a candidate with this last entry has a log at least as up to date (§5.4.1). */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry that conflicts with (or extends) the log; 0 if all match. */
  findConflict(entries: readonly Entry[]): LogIndex {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return asLogIndex(0);
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term. Both sides of a
   * rejected MsgApp use it to skip a whole term of mismatching entries at once.
   */
  findConflictByTerm(index: LogIndex, term: Term): { index: LogIndex; term: Term } {
    let probe = index;
    for (; probe > 0; probe = asLogIndex(probe - 1)) {
      const probeTerm = this.term(probe);
      if (typeof probeTerm !== 'number') return { index: probe, term: asTerm(0) };
      if (probeTerm <= term) return { index: probe, term: probeTerm };
    }
    return { index: asLogIndex(0), term: asTerm(0) };
  }

  /** Follower side of MsgApp; returns the last new index or null when the previous entry
   *  does not match. */
  maybeAppend(
    prevIndex: LogIndex,
    prevTerm: Term,
    leaderCommit: LogIndex,
    entries: readonly Entry[],
  ): LogIndex | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = asLogIndex(prevIndex + entries.length);
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, 'a committed entry never conflicts');
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(asLogIndex(Math.min(leaderCommit, lastNewIndex)));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): LogIndex {
    if (entries.length === 0) return this.lastIndex();
    assert(entries[0].index - 1 >= this.committed, 'appending never rewrites committed entries');
    assert(entries[0].index <= this.lastIndex() + 1, 'appended entries leave no gap');
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i].index === entries[i - 1].index + 1, 'appended entries are contiguous');
      assert(entries[i].term >= entries[i - 1].term, 'terms never decrease along the log');
    }
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), 'commit past the last index');
    this.committed = index;
  }

  appliedTo(index: LogIndex): void {
    if (index === 0) return;
    assert(index <= this.committed, 'applied never passes committed');
    assert(index >= this.applied, 'applied never decreases');
    this.applied = index;
  }

  stableTo(index: LogIndex, term: Term): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapshotTo(index: LogIndex): void {
    this.unstable.stableSnapshotTo(index);
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.committed, 'a restored snapshot moves commit forward');
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries the application has not applied yet, bounded in bytes. */
  nextCommittedEntries(maxSizeBytes: number): readonly Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = asLogIndex(Math.max(this.applied + 1, this.firstIndex()));
    const hi = asLogIndex(this.committed + 1);
    if (lo >= hi) return [];
    const entries = this.slice(lo, hi, maxSizeBytes);
    assert(entries !== 'compacted', 'unapplied committed entries are never compacted');
    return entries;
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** Entries from `lo` to the end, bounded in bytes. */
  entriesFrom(lo: LogIndex, maxSizeBytes: number): readonly Entry[] | 'compacted' {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, asLogIndex(this.lastIndex() + 1), maxSizeBytes);
  }

  /** Entries in [lo, hi) from storage then the unstable tail, at least one if any. */
  slice(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): Entry[] | 'compacted' {
    assert(lo <= hi, 'slice bounds are ordered');
    if (lo < this.firstIndex()) return 'compacted';
    assert(hi <= this.lastIndex() + 1, 'slice ends inside the log');
    if (lo === hi) return [];
    let result: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stable = this.storage.entries(lo, asLogIndex(Math.min(hi, offset)), maxSizeBytes);
      if (stable === 'compacted') return 'compacted';
      assert(stable !== 'unavailable', 'stable entries below the unstable offset exist');
      result = [...stable];
      // Storage stopped early because of the size limit: do not add the unstable part.
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) {
      result.push(...this.unstable.slice(asLogIndex(Math.max(lo, offset)), hi));
    }
    const limited = limitSize(result, maxSizeBytes);
    assert(limited.length === 0 || limited[0].index === lo, 'slice starts at lo');
    return limited;
  }
}
