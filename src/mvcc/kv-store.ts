/**
 * The MVCC key-value store (etcd's mvcc.store): a store-wide revision bumped once per write
 * transaction, per-key create/mod revision, version and lease, tombstones on delete, reads at
 * any retained revision, and compaction. The key index lives in memory and is rebuilt from the
 * backend's key bucket on open; every byte of state is in the backend.
 *
 * Writes happen only inside applyBatch(), which runs one backend write transaction for a batch
 * of raft entries and stores the consistent index with it. Expected errors (MvccError) are
 * thrown before an operation changes anything, so a caller applying many requests can catch
 * them per request; anything else escaping a batch marks the store broken (the member must stop).
 */
import { assert } from '../base/index.ts';
import type { Backend, BackendWriter } from '../storage/index.ts';
import { Compactor, readCompactionMeta, writeScheduledCompaction } from './compactor.ts';
import { isMvccError, MvccError } from './errors.ts';
import { rebuildIndex } from './index-rebuild.ts';
import type { TreeIndex } from './key-index.ts';
import { executeRange, isPlainPointRead, readKeyValue } from './range.ts';
import { mainOf } from './revision.ts';
import {
  deleteInRevision,
  putInRevision,
  readMainOf,
  type RevisionTarget,
  type WriteRevision,
} from './revision-writes.ts';
import { checkRangeRequest, checkTxnRequest } from './txn-check.ts';
import { executeTxn, type TxnContext } from './txn-execute.ts';
import { ValueCache } from './value-cache.ts';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from './types.ts';

export interface KvStoreOptions {
  /** etcd's --max-txn-ops. */
  readonly maxTxnOps?: number;
  /** Bounds of the value cache for single-key reads (see value-cache.ts); tests shrink them. */
  readonly valueCacheEntriesMax?: number;
  readonly valueCacheBytesMax?: number;
}

/** The events of one committed revision, handed to watchers after the batch commits. */
export interface CommittedRevision {
  readonly revision: number;
  readonly events: readonly Event[];
}

/** What a request sees while it runs inside a batch. */
export interface KvWriter {
  range(request: RangeRequest): RangeResponse;
  put(request: PutRequest): PutResponse;
  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse;
  txn(request: TxnRequest): TxnResponse;
  compact(request: CompactionRequest): CompactionResponse;
  /** The batch's backend transaction, for other rooms (lease, auth) to write in it atomically. */
  readonly backend: BackendWriter;
}

export type BatchResult<T> =
  { readonly applied: true; readonly value: T } | { readonly applied: false };

export const DEFAULT_MAX_TXN_OPS = 128;

export class KvStore {
  readonly backend: Backend;
  private treeIndex: TreeIndex;
  /** Decoded KeyValues of hot keys for single-key ranges (see value-cache.ts). */
  private valueCache: ValueCache;
  private readonly newValueCache: () => ValueCache;
  readonly maxTxnOps: number;
  /** etcd's store starts at revision 1 (an empty store reports 1; the first write is 2). */
  private currentMain = 1;
  private compactMain = 0;
  private compactor: Compactor;
  private batchWriter: BackendWriter | undefined;
  private batchRevisions: CommittedRevision[] = [];
  private broken = false;
  private readonly listeners: ((revisions: readonly CommittedRevision[]) => void)[] = [];
  private readonly restoreListeners: (() => void)[] = [];

  constructor(backend: Backend, options: KvStoreOptions = {}) {
    this.backend = backend;
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    assert(Number.isInteger(this.maxTxnOps) && this.maxTxnOps > 0, 'maxTxnOps must be positive');
    this.newValueCache = () =>
      new ValueCache(options.valueCacheEntriesMax, options.valueCacheBytesMax);
    this.valueCache = this.newValueCache();
    this.compactor = new Compactor(backend);
    this.treeIndex = this.rebuild();
  }

  /** Rebuilds the key index from the key bucket, then resumes an interrupted compaction. */
  private rebuild(): TreeIndex {
    const meta = this.backend.read((reader) => readCompactionMeta(reader));
    const { index, newestMain } = rebuildIndex(this.backend);
    this.compactMain = meta.scheduled;
    this.currentMain = Math.max(1, newestMain, this.compactMain);
    if (meta.scheduled > meta.finished) {
      this.compactor.schedule(meta.scheduled, index.compact(meta.scheduled));
    } else if (meta.scheduled > 0) {
      index.compact(meta.scheduled);
    }
    return index;
  }

  /** Entries and bytes held by the value cache (for tests and metrics). */
  get valueCacheSize(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.valueCache.entries, bytes: this.valueCache.sizeBytes };
  }

  /** The in-memory key index (read-only use: hashing, tests). */
  get index(): TreeIndex {
    return this.treeIndex;
  }

  /**
   * Replaces the whole state with a backend snapshot stream (a member far behind the leader)
   * and rebuilds the index from it. Watchers are told so they re-sync from the new history.
   */
  async restoreSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    assert(this.batchWriter === undefined, 'restore during a batch');
    this.broken = true; // Until the rebuild finishes, nothing may read half a state.
    await this.backend.restore(chunks);
    // The new state reuses revision numbers for other KeyValues. Cached entries hang off the old
    // index's KeyIndex objects, so none can be hit again; a fresh cache also lets them be freed.
    this.valueCache = this.newValueCache();
    this.compactor = new Compactor(this.backend);
    this.treeIndex = this.rebuild();
    this.broken = false;
    for (const listener of this.restoreListeners) listener();
  }

  /** Called after restoreSnapshot() replaced the state. */
  onRestore(listener: () => void): void {
    this.restoreListeners.push(listener);
  }

  get currentRevision(): number {
    return this.currentMain;
  }

  get compactRevision(): number {
    return this.compactMain;
  }

  consistentIndex(): number {
    return this.backend.consistentIndex();
  }

  /** Called with the revisions of each batch once it has committed, in order. */
  onCommit(listener: (revisions: readonly CommittedRevision[]) => void): void {
    this.listeners.push(listener);
  }

  /** Checks a requested revision (<= 0: current) against compaction and the present. */
  resolveRevision(revision: number | undefined): number {
    const rev = revision ?? 0;
    if (rev > this.currentMain) throw new MvccError('future-rev');
    const atMain = rev <= 0 ? this.currentMain : rev;
    if (atMain < this.compactMain) throw new MvccError('compacted');
    return atMain;
  }

  /** A read outside any batch (serializable or after a ReadIndex). */
  range(request: RangeRequest): RangeResponse {
    assert(!this.broken, 'mvcc store is broken or restoring a snapshot');
    checkRangeRequest(request);
    const atMain = this.resolveRevision(request.revision);
    if (isPlainPointRead(request)) return this.pointRange(request, atMain);
    return this.backend.read((reader) => {
      const result = executeRange({ index: this.treeIndex, reader }, request, atMain);
      return { header: { revision: this.currentMain }, ...result };
    });
  }

  /**
   * A single-key range without filters or count-only, the common read: the answer is what
   * executeRange gives (sorting and limits are moot for one key), served from the value cache
   * when the key's visible revision is cached.
   */
  private pointRange(request: RangeRequest, atMain: number): RangeResponse {
    const header = { revision: this.currentMain };
    const keyIndex = this.treeIndex.lookup(request.key);
    const found = keyIndex?.get(atMain);
    if (keyIndex === undefined || found === undefined) {
      return { header, kvs: [], more: false, count: 0 };
    }
    let kv = this.valueCache.get(keyIndex, found.modified);
    if (kv === undefined) {
      kv = this.backend.read((reader) => readKeyValue(reader, found.modified));
      assert(kv.modRevision === mainOf(found.modified), 'backend KeyValue of another revision');
      this.valueCache.put(keyIndex, found.modified, kv);
    }
    if (request.keysOnly === true) kv = { ...kv, value: new Uint8Array(0) };
    return { header, kvs: [kv], more: false, count: 1 };
  }

  /**
   * Applies a batch of raft entries ending at `consistentIndex` in one backend transaction.
   * A batch at or below the stored consistent index was applied before a crash: skipped.
   */
  applyBatch<T>(consistentIndex: number, body: (writer: KvWriter) => T): BatchResult<T> {
    assert(!this.broken, 'mvcc store is broken or restoring a snapshot');
    assert(this.batchWriter === undefined, 'nested applyBatch');
    if (consistentIndex <= this.backend.consistentIndex()) return { applied: false };
    this.batchRevisions = [];
    let value: T;
    try {
      value = this.backend.write((writer) => {
        this.batchWriter = writer;
        return body(this.makeWriter(writer));
      }, consistentIndex);
    } catch (error) {
      // In-memory state may hold changes the backend rolled back: nothing can be trusted.
      this.broken = true;
      throw error;
    } finally {
      this.batchWriter = undefined;
    }
    const revisions = this.batchRevisions;
    this.batchRevisions = [];
    if (revisions.length > 0) for (const listener of this.listeners) listener(revisions);
    return { applied: true, value };
  }

  /** One request as its own batch at the next index; MvccErrors are rethrown after commit. */
  applyOne<T>(body: (writer: KvWriter) => T): T {
    let failure: MvccError | undefined;
    const result = this.applyBatch(this.backend.consistentIndex() + 1, (writer) => {
      try {
        return body(writer);
      } catch (error) {
        if (!isMvccError(error)) throw error;
        failure = error;
        return undefined;
      }
    });
    assert(result.applied);
    if (failure !== undefined) throw failure;
    return result.value as T;
  }

  put(request: PutRequest): PutResponse {
    return this.applyOne((writer) => writer.put(request));
  }

  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    return this.applyOne((writer) => writer.deleteRange(request));
  }

  txn(request: TxnRequest): TxnResponse {
    return this.applyOne((writer) => writer.txn(request));
  }

  compact(request: CompactionRequest): CompactionResponse {
    return this.applyOne((writer) => writer.compact(request));
  }

  /**
   * The batch's KvWriter, made once per batch. Each operation is guarded: an MvccError must
   * leave no trace (asserted), since the caller keeps applying the rest of the batch.
   */
  private makeWriter(backend: BackendWriter): KvWriter {
    const target: RevisionTarget = { index: this.treeIndex, writer: backend };
    return {
      backend,
      range: (request) => this.range(request),
      put: (request) => {
        const revision = this.openRevision();
        try {
          return this.closeRevision(revision, putInRevision(target, revision, request, true));
        } catch (error) {
          throw this.checkNoTrace(error, revision);
        }
      },
      deleteRange: (request) => {
        const revision = this.openRevision();
        try {
          return this.closeRevision(revision, deleteInRevision(target, revision, request));
        } catch (error) {
          throw this.checkNoTrace(error, revision);
        }
      },
      txn: (request) => {
        checkTxnRequest(request, this.maxTxnOps);
        const revision = this.openRevision();
        try {
          const response = executeTxn(this.txnContext(target), revision, request);
          return this.closeRevision(revision, response);
        } catch (error) {
          throw this.checkNoTrace(error, revision);
        }
      },
      compact: (request) => {
        const before = this.compactMain;
        try {
          return this.compactIn(request);
        } catch (error) {
          if (isMvccError(error)) assert(this.compactMain === before, 'MvccError after a write');
          throw error;
        }
      },
    };
  }

  /** Starts a write transaction: one revision if it changes anything. */
  private openRevision(): WriteRevision {
    return { main: this.currentMain + 1, events: [] };
  }

  /** Ends a write transaction and stamps its response with the store's revision after it. */
  private closeRevision<R extends { header: { revision: number } }>(
    revision: WriteRevision,
    response: R,
  ): R {
    if (revision.events.length > 0) {
      this.currentMain = revision.main;
      this.batchRevisions.push({ revision: revision.main, events: revision.events });
    }
    (response.header as { revision: number }).revision = this.currentMain;
    return response;
  }

  /** An MvccError is only allowed before a write transaction changed anything. */
  private checkNoTrace(error: unknown, revision: WriteRevision): unknown {
    if (isMvccError(error)) assert(revision.events.length === 0, 'MvccError after a write');
    return error;
  }

  private txnContext(target: RevisionTarget): TxnContext<WriteRevision> {
    return {
      index: target.index,
      reader: () => target.writer,
      readMain: readMainOf,
      put: (revision, request) => putInRevision(target, revision, request, false),
      deleteRange: (revision, request) => deleteInRevision(target, revision, request),
      currentRevision: () => this.currentMain,
    };
  }

  private compactIn(request: CompactionRequest): CompactionResponse {
    if (request.revision <= this.compactMain) throw new MvccError('compacted');
    if (request.revision > this.currentMain) throw new MvccError('future-rev');
    const writer = this.batchWriter;
    assert(writer !== undefined, 'compact outside a batch');
    writeScheduledCompaction(writer, request.revision);
    this.compactMain = request.revision;
    this.compactor.schedule(request.revision, this.treeIndex.compact(request.revision));
    return { header: { revision: this.currentMain } };
  }

  /** Deletes up to `deletesMax` compacted revisions; returns whether work remains. */
  compactionStep(deletesMax = 1_000): boolean {
    assert(this.batchWriter === undefined, 'compaction step inside a batch');
    return this.compactor.step(deletesMax);
  }

  /** Runs compaction to completion, yielding to the event loop between batches. */
  async runCompaction(deletesMax = 1_000): Promise<void> {
    while (this.compactionStep(deletesMax)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  get compactionPending(): boolean {
    return this.compactor.pending;
  }
}
