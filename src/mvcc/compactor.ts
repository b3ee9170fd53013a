/**
 * Physical compaction: after Compact(rev) the key index already forgets superseded revisions
 * (reads below rev fail at once); deleting them from the backend is done here in small batches
 * so that a compaction of millions of revisions never holds the apply loop for long. Jobs run in
 * the order scheduled. Progress survives restarts: the scheduled revision is written in the
 * apply batch that compacts, the finished one when the last batch is deleted, and a store that
 * opens with scheduled > finished schedules the job again. Deleting in ascending revision order
 * means a key's older puts always disappear before its tombstone (see restoreTombstone).
 */
import { assert } from '../base/index.ts';
import {
  type BackendReader,
  type BackendWriter,
  type Backend,
  decodeUint64,
  encodeUint64,
} from '../storage/index.ts';
import { decodeRevisionKey, type PackedRevision, revisionKeyLowerBound } from './revision.ts';

const SCHEDULED_KEY = new TextEncoder().encode('scheduledCompactRev');
const FINISHED_KEY = new TextEncoder().encode('finishedCompactRev');

export interface CompactionMeta {
  readonly scheduled: number;
  readonly finished: number;
}

export function readCompactionMeta(reader: BackendReader): CompactionMeta {
  const scheduled = reader.get('meta', SCHEDULED_KEY);
  const scheduledRev = scheduled === undefined ? 0 : decodeUint64(scheduled);
  const finished = reader.get('meta', FINISHED_KEY);
  const finishedRev = finished === undefined ? 0 : decodeUint64(finished);
  assert(finishedRev <= scheduledRev, 'finished compaction beyond the scheduled one');
  return { scheduled: scheduledRev, finished: finishedRev };
}

export function writeScheduledCompaction(writer: BackendWriter, revision: number): void {
  writer.put('meta', SCHEDULED_KEY, encodeUint64(revision));
}

interface CompactionJob {
  readonly revision: number;
  /** Revisions <= revision that stay (each key's newest live one). */
  readonly keep: ReadonlySet<PackedRevision>;
  cursor: Uint8Array;
}

export class Compactor {
  private readonly backend: Backend;
  private readonly jobs: CompactionJob[] = [];

  constructor(backend: Backend) {
    this.backend = backend;
  }

  get pending(): boolean {
    return this.jobs.length > 0;
  }

  schedule(revision: number, keep: ReadonlySet<PackedRevision>): void {
    const last = this.jobs[this.jobs.length - 1];
    if (last !== undefined) assert(revision > last.revision, 'compactions must increase');
    this.jobs.push({ revision, keep, cursor: new Uint8Array(0) });
  }

  /** Deletes up to `deletesMax` superseded revisions; returns whether work remains. */
  step(deletesMax: number): boolean {
    assert(Number.isInteger(deletesMax) && deletesMax > 0, 'deletesMax must be positive');
    const job = this.jobs[0];
    if (job === undefined) return false;
    const end = revisionKeyLowerBound(job.revision + 1);
    const finished = this.backend.write((writer) => {
      // Scan a bounded window: kept revisions count against it too, so a step stays short
      // even when almost nothing is deletable.
      const entries = writer.range('key', job.cursor, end, { limit: deletesMax, keysOnly: true });
      for (const { key } of entries) {
        const { packed } = decodeRevisionKey(key);
        if (!job.keep.has(packed)) assert(writer.delete('key', key), 'compacted key vanished');
      }
      if (entries.length < deletesMax) {
        writer.put('meta', FINISHED_KEY, encodeUint64(job.revision));
        return true;
      }
      const last = entries[entries.length - 1].key;
      const next = new Uint8Array(last.length + 1);
      next.set(last);
      job.cursor = next;
      return false;
    });
    if (finished) this.jobs.shift();
    return this.jobs.length > 0;
  }
}
