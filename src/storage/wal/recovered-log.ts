/**
 * Replays the records of a WAL, in file order, into what raft needs at start-up: the latest
 * hard state, the latest snapshot marker and the entries after it. A later entry at index i
 * replaces the entry at i and everything after it (raft truncates its log on a conflict).
 */
import { assert, asLogIndex, asMemberId, asTerm } from '../../base/index.ts';
import type { Entry, HardState } from '../../raft/types.ts';
import type { WalRecord, WalSnapshotMarker } from './wal-record.ts';

export class RecoveredLog {
  metadata: Uint8Array | null = null;
  hardState: HardState = { term: asTerm(0), vote: asMemberId(0n), commit: asLogIndex(0) };
  snapshot: WalSnapshotMarker = { index: asLogIndex(0), term: asTerm(0) };
  /** Contiguous: entries[k].index === entries[0].index + k. */
  entries: Entry[] = [];

  lastIndex(): number {
    return this.entries.length > 0
      ? this.entries[this.entries.length - 1].index
      : this.snapshot.index;
  }

  /** Applies one record; returns a reason if the record cannot follow the ones before it. */
  apply(record: WalRecord): string | null {
    switch (record.kind) {
      case 'crc-seed':
        return null;
      case 'metadata':
        this.metadata = record.data;
        return null;
      case 'hard-state':
        this.hardState = record.hardState;
        return null;
      case 'snapshot':
        this.applySnapshot(record.snapshot);
        return null;
      case 'entry':
        return this.applyEntry(record.entry);
    }
  }

  private applySnapshot(marker: WalSnapshotMarker): void {
    // Every segment repeats the latest marker in its header, so older ones come by again.
    if (marker.index <= this.snapshot.index) return;
    const firstKept = this.entries.findIndex((entry) => entry.index > marker.index);
    this.entries = firstKept < 0 ? [] : this.entries.slice(firstKept);
    this.snapshot = marker;
    assert(this.entries.length === 0 || this.entries[0].index > marker.index, 'covered dropped');
  }

  /** Why the replayed log is unusable, or null. After segments were released, the oldest
   *  remaining one may start with entries the snapshot marker after them covers; what is left
   *  must then begin right after the snapshot. */
  finish(): string | null {
    if (this.entries.length === 0) return null;
    const first = this.entries[0].index;
    if (first === this.snapshot.index + 1) return null;
    return `entries start at ${first}, not right after the snapshot at ${this.snapshot.index}`;
  }

  private applyEntry(entry: Entry): string | null {
    // Entries the snapshot covers are committed and cannot conflict; they are simply old.
    if (entry.index <= this.snapshot.index) return null;
    if (this.entries.length === 0) {
      // The first entry may start after a gap; finish() checks the snapshot closes it.
      this.entries.push(entry);
      return null;
    }
    if (entry.index < this.entries[0].index) {
      // A conflict reaching below the oldest entry we kept replaces all of them.
      this.entries = [entry];
      return null;
    }
    const last = this.lastIndex();
    if (entry.index > last + 1) return `entry ${entry.index} leaves a gap after ${last}`;
    this.entries.length = entry.index - this.entries[0].index;
    this.entries.push(entry);
    assert(this.lastIndex() === entry.index, 'the newest entry is last');
    assert(
      entry.index === this.entries[0].index + this.entries.length - 1,
      'entries stay contiguous',
    );
    return null;
  }
}
