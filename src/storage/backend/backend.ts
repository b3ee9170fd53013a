/**
 * The backend: where the state machine (MVCC revisions, leases, auth, members) lives on disk.
 *
 * Durability comes from the WAL, not from here. What the backend must guarantee is atomicity:
 * every write of one apply batch lands in ONE transaction together with the consistent index
 * (the last raft index applied), so after a crash the member replays the WAL from
 * `consistentIndex() + 1` and never applies an entry twice nor skips one.
 */

/** Namespaces inside the backend, as etcd's bbolt buckets. */
export const BUCKET_NAMES = [
  'key',
  'meta',
  'lease',
  'auth',
  'authUsers',
  'authRoles',
  'members',
  'membersRemoved',
  'cluster',
  'alarm',
] as const;
export type BucketName = (typeof BUCKET_NAMES)[number];

export interface BackendEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface RangeOptions {
  /** Stop after this many entries (0 or absent: no limit). */
  readonly limit?: number;
  /** Walk from the end of the range towards its start. */
  readonly reverse?: boolean;
  /** Values are not needed (returned empty): saves copying them out of the engine. */
  readonly keysOnly?: boolean;
}

export interface BackendReader {
  /**
   * The value stored under `key`. The bytes are only valid until the next call on the backend
   * (the LMDB implementation hands out a reused buffer, which is what makes point reads fast):
   * callers that keep them must copy.
   */
  get(bucket: BucketName, key: Uint8Array): Uint8Array | undefined;
  /**
   * Entries with `start <= key < end` in unsigned byte order (`end` undefined: to the end of
   * the bucket). Entries handed out are copies and may be kept.
   */
  range(
    bucket: BucketName,
    start: Uint8Array,
    end: Uint8Array | undefined,
    options?: RangeOptions,
  ): BackendEntry[];
}

/** Writers copy the bytes they store: callers may reuse their buffers right after a call. */
export interface BackendWriter extends BackendReader {
  put(bucket: BucketName, key: Uint8Array, value: Uint8Array): void;
  /**
   * Put of a key strictly greater than every key in the bucket (revision keys are). Lets LMDB
   * fill pages completely instead of splitting them in half.
   */
  append(bucket: BucketName, key: Uint8Array, value: Uint8Array): void;
  /** Returns whether the key existed. */
  delete(bucket: BucketName, key: Uint8Array): boolean;
}

export interface BackendSize {
  /** Bytes the backend occupies on disk (or in memory for MemoryBackend). */
  readonly sizeBytes: number;
  /** Bytes actually holding live data; the rest is free space the engine will reuse. */
  readonly sizeInUseBytes: number;
}

export interface ReclaimReport {
  readonly sizeBeforeBytes: number;
  readonly sizeAfterBytes: number;
}

export interface Backend {
  /** The last raft index whose effects are in the backend (0 for a fresh one). */
  consistentIndex(): number;
  /** True when a restore was interrupted: the state is partial and must be replaced. */
  restorePending(): boolean;
  /**
   * Runs `body` in one atomic write transaction. When `consistentIndex` is given it is stored in
   * the same transaction and must be greater than the current one (raft applies in order).
   * Writes without an index (background compaction batches) do not move it. If `body` throws,
   * nothing of it is written.
   */
  write<T>(body: (txn: BackendWriter) => T, consistentIndex?: number): T;
  /** Runs `body` over one consistent view of the data. */
  read<T>(body: (txn: BackendReader) => T): T;
  size(): BackendSize;
  /** Resolves once everything written so far survives a power loss. */
  sync(): Promise<void>;
  /**
   * The full state as a self-checking byte stream (see snapshot-codec.ts), taken from one
   * consistent view; writes may continue while it is consumed.
   */
  snapshot(): AsyncIterable<Uint8Array>;
  /** Replaces the whole state with a stream produced by `snapshot()` (any implementation). */
  restore(chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** Gives free space back to the file system without stopping reads or writes. */
  reclaimSpace(): Promise<ReclaimReport>;
  close(): Promise<void>;
}

/** The meta key under which the consistent index lives (8 bytes big-endian). */
export const CONSISTENT_INDEX_KEY = new TextEncoder().encode('consistent_index');
/** Present while a restore is half done; a member finding it must fetch a snapshot again. */
export const RESTORE_PENDING_KEY = new TextEncoder().encode('restore_pending');

export function encodeUint64(value: number): Uint8Array {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new RangeError(`encodeUint64: not a safe non-negative integer: ${value}`);
  }
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32));
  view.setUint32(4, value >>> 0);
  return bytes;
}

export function decodeUint64(bytes: Uint8Array, offset = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  const value = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  if (!Number.isSafeInteger(value)) throw new RangeError('decodeUint64: value above 2^53');
  return value;
}
