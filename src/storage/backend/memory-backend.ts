/**
 * The backend in memory, for the simulator and tests: same contract as LmdbBackend, including
 * atomic write transactions (an undo log rolls back a body that throws) and the consistent index.
 */
import { assert, compareBytes } from '../../base/index.ts';
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
import { decodeSnapshot, encodeSnapshot, type SnapshotRecord } from './snapshot-codec.ts';

/** A bucket: entries kept sorted by key so ranges are binary search plus a slice. */
class SortedBucket {
  entries: BackendEntry[] = [];

  /** Index of the first entry with key >= `key`. */
  lowerBound(key: Uint8Array): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.entries[middle].key, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const index = this.lowerBound(key);
    const entry = this.entries[index];
    return entry !== undefined && compareBytes(entry.key, key) === 0 ? entry.value : undefined;
  }

  /** Stores a copy; returns the previous value (for the undo log). */
  put(key: Uint8Array, value: Uint8Array): Uint8Array | undefined {
    const index = this.lowerBound(key);
    const entry = this.entries[index];
    const stored = { key: new Uint8Array(key), value: new Uint8Array(value) };
    if (entry !== undefined && compareBytes(entry.key, key) === 0) {
      this.entries[index] = stored;
      return entry.value;
    }
    this.entries.splice(index, 0, stored);
    return undefined;
  }

  delete(key: Uint8Array): Uint8Array | undefined {
    const index = this.lowerBound(key);
    const entry = this.entries[index];
    if (entry === undefined || compareBytes(entry.key, key) !== 0) return undefined;
    this.entries.splice(index, 1);
    return entry.value;
  }
}

interface UndoRecord {
  readonly bucket: BucketName;
  readonly key: Uint8Array;
  readonly previous: Uint8Array | undefined;
}

export class MemoryBackend implements Backend {
  private buckets = new Map<BucketName, SortedBucket>();
  private undoLog: UndoRecord[] | undefined;
  private closed = false;

  constructor() {
    for (const name of BUCKET_NAMES) this.buckets.set(name, new SortedBucket());
  }

  private bucket(name: BucketName): SortedBucket {
    assert(!this.closed, 'MemoryBackend used after close');
    const bucket = this.buckets.get(name);
    // The message is built only on failure (this runs for every read and write).
    if (bucket === undefined) assert(false, `unknown bucket ${name}`);
    return bucket;
  }

  consistentIndex(): number {
    const bytes = this.bucket('meta').get(CONSISTENT_INDEX_KEY);
    return bytes === undefined ? 0 : decodeUint64(bytes);
  }

  restorePending(): boolean {
    return false;
  }

  write<T>(body: (txn: BackendWriter) => T, consistentIndex?: number): T {
    assert(this.undoLog === undefined, 'nested MemoryBackend write transaction');
    if (consistentIndex !== undefined) {
      assert(consistentIndex > this.consistentIndex(), 'consistent index must increase');
    }
    const undoLog: UndoRecord[] = [];
    this.undoLog = undoLog;
    try {
      const result = body(this.writer);
      if (consistentIndex !== undefined) {
        this.writer.put('meta', CONSISTENT_INDEX_KEY, encodeUint64(consistentIndex));
      }
      return result;
    } catch (error) {
      for (let i = undoLog.length - 1; i >= 0; i--) {
        const { bucket, key, previous } = undoLog[i];
        if (previous === undefined) this.bucket(bucket).delete(key);
        else this.bucket(bucket).put(key, previous);
      }
      throw error;
    } finally {
      this.undoLog = undefined;
    }
  }

  read<T>(body: (txn: BackendReader) => T): T {
    return body(this.writer);
  }

  private readonly writer: BackendWriter = {
    get: (bucket, key) => this.bucket(bucket).get(key),
    range: (bucket, start, end, options) => this.range(bucket, start, end, options),
    put: (bucket, key, value) => {
      assert(this.undoLog !== undefined, 'MemoryBackend put outside a write transaction');
      this.undoLog.push({
        bucket,
        key: new Uint8Array(key),
        previous: this.bucket(bucket).put(key, value),
      });
    },
    append: (bucket, key, value) => {
      const entries = this.bucket(bucket).entries;
      const last = entries[entries.length - 1];
      assert(last === undefined || compareBytes(last.key, key) < 0, 'append out of order');
      this.writer.put(bucket, key, value);
    },
    delete: (bucket, key) => {
      assert(this.undoLog !== undefined, 'MemoryBackend delete outside a write transaction');
      const previous = this.bucket(bucket).delete(key);
      if (previous !== undefined) this.undoLog.push({ bucket, key: new Uint8Array(key), previous });
      return previous !== undefined;
    },
  };

  private range(
    name: BucketName,
    start: Uint8Array,
    end: Uint8Array | undefined,
    options: RangeOptions = {},
  ): BackendEntry[] {
    const bucket = this.bucket(name);
    const from = bucket.lowerBound(start);
    const to = end === undefined ? bucket.entries.length : bucket.lowerBound(end);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    const out: BackendEntry[] = [];
    if (options.reverse === true) {
      for (let i = to - 1; i >= from && out.length < limit; i--) out.push(bucket.entries[i]);
    } else {
      for (let i = from; i < to && out.length < limit; i++) out.push(bucket.entries[i]);
    }
    if (options.keysOnly !== true) return out;
    const empty = new Uint8Array(0);
    return out.map(({ key }) => ({ key, value: empty }));
  }

  size(): BackendSize {
    let bytes = 0;
    for (const bucket of this.buckets.values()) {
      for (const entry of bucket.entries) bytes += entry.key.length + entry.value.length;
    }
    return { sizeBytes: bytes, sizeInUseBytes: bytes };
  }

  async sync(): Promise<void> {}

  snapshot(): AsyncIterable<Uint8Array> {
    // Entries are replaced, never mutated in place, so a shallow copy is a consistent view.
    const records: SnapshotRecord[] = [];
    for (const [bucket, contents] of this.buckets) {
      for (const entry of contents.entries) records.push({ bucket, ...entry });
    }
    return encodeSnapshot(records);
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    // Decode fully before touching the state: the memory backend can afford to hold it all,
    // and a corrupt stream then leaves the old state intact.
    const fresh = new Map<BucketName, SortedBucket>();
    for (const name of BUCKET_NAMES) fresh.set(name, new SortedBucket());
    for await (const record of decodeSnapshot(chunks)) {
      const bucket = fresh.get(record.bucket);
      assert(bucket !== undefined);
      bucket.put(record.key, record.value);
    }
    assert(this.undoLog === undefined, 'restore during a write transaction');
    fresh.get('meta')?.delete(RESTORE_PENDING_KEY);
    this.buckets = fresh;
  }

  async reclaimSpace(): Promise<ReclaimReport> {
    const { sizeBytes } = this.size();
    return { sizeBeforeBytes: sizeBytes, sizeAfterBytes: sizeBytes };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
