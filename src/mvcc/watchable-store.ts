/**
 * The watchable store (etcd's watchableStore): watchers over a key or range receive, in order
 * and exactly once, every event after their start revision, one response per revision batch,
 * never splitting a revision.
 *
 * Synced watchers are owed nothing but the future: the store hands them each committed batch's
 * events as it commits. Unsynced ones (started in the past, or moved here because their queue
 * was full) catch up by reading history from the backend's key bucket, a bounded window of
 * revisions per step, and rejoin the synced set in the same synchronous step that reads up to
 * the current revision, so no revision falls between the two paths. A watcher owed a revision
 * below the compaction point is cancelled with the compact revision, as etcd does.
 */
import { assert } from '../base/index.ts';
import type { CommittedRevision, KvStore } from './kv-store.ts';
import { decodeKeyValue } from './kv-codec.ts';
import { rangeContains } from './range.ts';
import { decodeRevisionKey, mainOf, revisionKeyLowerBound } from './revision.ts';
import type { Event, KeyValue } from './types.ts';
import { Watcher, type WatchOptions } from './watcher.ts';

export interface WatchableStoreOptions {
  /** Events a watcher may have queued before it is moved to unsynced. */
  readonly watcherEventsMax?: number;
  /** Revisions read from history per watcher per catch-up step. */
  readonly catchUpRevisionsMax?: number;
  /** Runs catch-up work later; default setImmediate. The simulator passes its own. */
  readonly schedule?: (task: () => void) => void;
}

export class WatchableStore {
  readonly kv: KvStore;
  private readonly synced = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private nextWatchId = 0;
  private readonly watcherEventsMax: number;
  private readonly catchUpRevisionsMax: number;
  private readonly schedule: (task: () => void) => void;
  private syncScheduled = false;

  constructor(kv: KvStore, options: WatchableStoreOptions = {}) {
    this.kv = kv;
    this.watcherEventsMax = options.watcherEventsMax ?? 1_024;
    this.catchUpRevisionsMax = options.catchUpRevisionsMax ?? 100;
    assert(this.catchUpRevisionsMax > 0, 'catchUpRevisionsMax must be positive');
    this.schedule = options.schedule ?? ((task) => void setImmediate(task));
    kv.onCommit((revisions) => this.notify(revisions));
    kv.onRestore(() => this.resyncAll());
  }

  get watcherCount(): number {
    return this.synced.size + this.unsynced.size;
  }

  get unsyncedCount(): number {
    return this.unsynced.size;
  }

  watch(options: WatchOptions): Watcher {
    const start = options.startRevision ?? 0;
    const current = this.kv.currentRevision;
    const minRevision = start <= 0 ? current + 1 : start;
    const watcher = new Watcher(
      this.nextWatchId++,
      options,
      minRevision,
      this.watcherEventsMax,
      () => this.kick(),
    );
    if (start < 0) {
      this.cancelCompacted(watcher);
      return watcher;
    }
    if (minRevision > current) this.synced.add(watcher);
    else {
      this.unsynced.add(watcher);
      this.kick();
    }
    return watcher;
  }

  cancel(watcher: Watcher): void {
    this.synced.delete(watcher);
    this.unsynced.delete(watcher);
    watcher.close();
  }

  /** Progress notification: synced watchers learn the current revision (etcd skips others). */
  requestProgress(watcher: Watcher): boolean {
    if (!this.synced.has(watcher) || !watcher.hasRoom()) return false;
    watcher.push(this.response(watcher, []));
    return true;
  }

  private response(
    watcher: Watcher,
    events: readonly Event[],
  ): {
    watchId: number;
    revision: number;
    events: readonly Event[];
    compactRevision: number;
    canceled: boolean;
  } {
    return {
      watchId: watcher.id,
      revision: this.kv.currentRevision,
      events,
      compactRevision: 0,
      canceled: false,
    };
  }

  private cancelCompacted(watcher: Watcher): void {
    this.synced.delete(watcher);
    this.unsynced.delete(watcher);
    const compactRevision = this.kv.compactRevision;
    watcher.push(
      {
        watchId: watcher.id,
        revision: this.kv.currentRevision,
        events: [],
        compactRevision,
        canceled: true,
      },
      true,
    );
  }

  /** The events of `candidates` this watcher wants, with prev_kv when asked. */
  private select(watcher: Watcher, candidates: readonly Event[]): Event[] {
    const { key, rangeEnd, filters = [], prevKv = false } = watcher.options;
    const out: Event[] = [];
    for (const event of candidates) {
      if (!rangeContains(key, rangeEnd, event.kv.key)) continue;
      if (event.type === 'PUT' && filters.includes('NOPUT')) continue;
      if (event.type === 'DELETE' && filters.includes('NODELETE')) continue;
      out.push(prevKv ? { ...event, ...this.previousOf(event) } : event);
    }
    return out;
  }

  /** etcd's watch server reads prev_kv at mod_revision - 1; gone if compacted. */
  private previousOf(event: Event): { prevKv?: KeyValue } {
    if (event.type === 'PUT' && event.kv.version === 1) return {};
    const before = event.kv.modRevision - 1;
    if (before <= 0 || before < this.kv.compactRevision) return {};
    const found = this.kv.range({ key: event.kv.key, revision: before }).kvs[0];
    return found === undefined ? {} : { prevKv: found };
  }

  /** Live path: each committed batch, in order, to every synced watcher that has room. */
  private notify(revisions: readonly CommittedRevision[]): void {
    for (const watcher of [...this.synced]) {
      const events: Event[] = [];
      for (const { revision, events: candidates } of revisions) {
        if (revision < watcher.minRevision) continue;
        events.push(...this.select(watcher, candidates));
      }
      const last = revisions[revisions.length - 1].revision;
      if (events.length === 0) {
        watcher.minRevision = Math.max(watcher.minRevision, last + 1);
        continue;
      }
      if (!watcher.hasRoom()) {
        // Slow consumer: keep minRevision where it is and catch up from history later.
        this.synced.delete(watcher);
        this.unsynced.add(watcher);
        this.kick();
        continue;
      }
      watcher.push(this.response(watcher, events));
      watcher.minRevision = last + 1;
    }
  }

  /**
   * After a snapshot restore the history changed under every watcher: all re-sync from the
   * backend, owed revisions compacted away cancel them, future ones wait as usual.
   */
  private resyncAll(): void {
    for (const watcher of this.synced) {
      this.synced.delete(watcher);
      this.unsynced.add(watcher);
    }
    this.kick();
  }

  private kick(): void {
    if (this.syncScheduled || this.unsynced.size === 0) return;
    this.syncScheduled = true;
    this.schedule(() => {
      this.syncScheduled = false;
      if (this.syncStep()) this.kick();
    });
  }

  /**
   * One catch-up round over the unsynced watchers. Returns whether another round could make
   * progress now (some unsynced watcher has room); full ones wait for their consumer.
   */
  syncStep(): boolean {
    const current = this.kv.currentRevision;
    for (const watcher of [...this.unsynced]) {
      if (watcher.minRevision < this.kv.compactRevision) {
        this.cancelCompacted(watcher);
        continue;
      }
      if (!watcher.hasRoom()) continue;
      if (watcher.minRevision > current) {
        // Start revision in the future (or restored behind it): wait in the synced set.
        this.unsynced.delete(watcher);
        this.synced.add(watcher);
        continue;
      }
      const last = Math.min(current, watcher.minRevision + this.catchUpRevisionsMax - 1);
      const events = this.select(watcher, this.history(watcher.minRevision, last));
      if (events.length > 0) watcher.push(this.response(watcher, events));
      watcher.minRevision = last + 1;
      if (watcher.minRevision > current) {
        this.unsynced.delete(watcher);
        this.synced.add(watcher);
      }
    }
    for (const watcher of this.unsynced) if (watcher.hasRoom()) return true;
    return false;
  }

  /** Events of revisions [first, last] from the key bucket, in revision order. */
  private history(first: number, last: number): Event[] {
    if (first > last) return [];
    const entries = this.kv.backend.read((reader) =>
      reader.range('key', revisionKeyLowerBound(first), revisionKeyLowerBound(last + 1)),
    );
    return entries.map(({ key, value }) => {
      const { packed, tombstone } = decodeRevisionKey(key);
      const kv = decodeKeyValue(value);
      assert(kv.modRevision === mainOf(packed), 'stored mod revision differs from its key');
      return { type: tombstone ? 'DELETE' : 'PUT', kv };
    });
  }
}
