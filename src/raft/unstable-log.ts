/**
 * The tail of the log that raft has accepted but the application has not yet persisted: an
 * optional incoming snapshot followed by entries starting at `offset`. It shrinks when the
 * application reports (through advance) what it has written.
 */
import { assert, asLogIndex, type LogIndex, type Term } from '../base/index.ts';
import type { Entry, Snapshot } from './types.ts';

export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]; everything below it is stable (or in the snapshot). */
  offset: LogIndex;

  constructor(offset: LogIndex) {
    assert(offset >= 1, 'the unstable offset is at least 1');
    this.offset = offset;
  }

  maybeFirstIndex(): LogIndex | null {
    return this.snapshot === null ? null : asLogIndex(this.snapshot.metadata.index + 1);
  }

  maybeLastIndex(): LogIndex | null {
    if (this.entries.length > 0) return asLogIndex(this.offset + this.entries.length - 1);
    return this.snapshot === null ? null : this.snapshot.metadata.index;
  }

  maybeTerm(index: LogIndex): Term | null {
    if (index < this.offset) {
      const snapshot = this.snapshot;
      if (snapshot !== null && snapshot.metadata.index === index) return snapshot.metadata.term;
      return null;
    }
    const last = this.maybeLastIndex();
    if (last === null || index > last) return null;
    return this.entries[index - this.offset].term;
  }

  /** Entries up to `index` (with `term`) were persisted. A mismatch means they were
   *  replaced by a newer leader in the meantime, so they are not stable yet. */
  stableTo(index: LogIndex, term: Term): void {
    const known = this.maybeTerm(index);
    if (known === null || known !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = asLogIndex(index + 1);
    assert(this.offset >= 1, 'offset stays positive');
  }

  stableSnapshotTo(index: LogIndex): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = asLogIndex(snapshot.metadata.index + 1);
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    assert(entries.length > 0, 'nothing to append');
    const after = entries[0].index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // The new entries replace everything unstable, and some stable entries too; the
      // application overwrites those when it persists this tail.
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...entries];
    }
    assert(
      this.entries[this.entries.length - 1].index === this.offset + this.entries.length - 1,
      'unstable entries are contiguous',
    );
  }

  /** Entries in [lo, hi), which must lie inside the unstable range. */
  slice(lo: LogIndex, hi: LogIndex): Entry[] {
    assert(lo <= hi, 'slice bounds are ordered');
    assert(lo >= this.offset && hi <= this.offset + this.entries.length, 'slice is unstable');
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
