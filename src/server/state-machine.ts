/**
 * The replicated state machine of a member: MVCC (with watches), the lessor, and the cluster
 * metadata in the backend. It applies committed raft entries, one backend transaction per
 * batch with the batch's last index as the consistent index, so a replay after a crash skips
 * exactly what was already applied (also after a restore from a leader's backend, which may be
 * ahead of the raft snapshot it came with). It streams and installs the backend for snapshots.
 */
import { assert, type Clock } from '../base/index.ts';
import { decodeConfChange, type ConfChange, type Entry } from '../raft/index.ts';
import { KvStore, WatchableStore, type Watcher, type WatchOptions } from '../mvcc/index.ts';
import { Lessor } from '../lease/index.ts';
import type { Backend } from '../storage/index.ts';
import { applyRequest, type ApplyOutcome } from './applier.ts';
import { readAlarms, readMembers, writeMember } from './cluster-store.ts';
import { applyConfChangeRecord } from './membership-change.ts';
import { decodeRequest, type ProposedRequest } from './request.ts';
import type { AlarmMember, Member } from './server-api.ts';

/** MVCC's own txn-size check is switched off by this: src/api enforces --max-txn-ops on
 *  client requests, and a lease revoke must delete all its keys in one revision however many. */
const INTERNAL_TXN_OPS_MAX = 2 ** 31 - 1;
const COMPACTION_DELETES_PER_STEP = 1_000;

export interface StateMachineOptions {
  readonly backend: Backend;
  readonly clock: Clock;
  readonly minLeaseTtlSeconds: number;
  /** Runs background work (watch catch-up, physical compaction) later. */
  readonly schedule: (task: () => void) => void;
  /**
   * A follower's TimeToLive query was applied while this member's lessor is primary: the
   * member proposes the answer (a leaseTimeToLiveAnswer entry). Called after the batch.
   */
  readonly answerLeaseQuery?: (answer: LeaseQueryAnswer) => void;
}

export interface LeaseQueryAnswer {
  readonly queryId: bigint;
  readonly id: bigint;
  readonly remainingSeconds: number;
}

export interface ApplyHooks {
  /** A committed conf change, including ones the backend already holds (raft must relearn
   *  its configuration on every start). */
  readonly confChange: (change: ConfChange) => void;
  /** A request applied here; `id` may belong to a waiter of this member. */
  readonly applied: (id: bigint, outcome: ApplyOutcome) => void;
}

type Decoded =
  | { readonly entry: Entry; readonly kind: 'noop' }
  | { readonly entry: Entry; readonly kind: 'request'; readonly proposed: ProposedRequest }
  | { readonly entry: Entry; readonly kind: 'conf-change'; readonly change: ConfChange };

export class StateMachine {
  kv!: KvStore;
  watchable!: WatchableStore;
  readonly lessor: Lessor;
  alarms: AlarmMember[] = [];
  private readonly backend: Backend;
  private readonly watchers = new Set<Watcher>();
  private compacting = false;
  private closed = false;

  constructor(private readonly options: StateMachineOptions) {
    this.backend = options.backend;
    this.lessor = new Lessor({ minTtlSeconds: options.minLeaseTtlSeconds });
    this.open();
  }

  private open(): void {
    const kv = new KvStore(this.backend, { maxTxnOps: INTERNAL_TXN_OPS_MAX });
    kv.onCommit((revisions) => this.lessor.observe(revisions));
    this.kv = kv;
    this.watchable = new WatchableStore(kv, { schedule: this.options.schedule });
    this.lessor.rebuild(kv, this.options.clock.nowMs());
    this.alarms = this.backend.read((reader) => readAlarms(reader));
    if (kv.compactionPending) this.driveCompaction();
  }

  get appliedIndex(): number {
    return this.backend.consistentIndex();
  }

  members(): Member[] {
    return this.backend.read((reader) => readMembers(reader));
  }

  /** Writes the founding members if the backend has none (a fresh start, or a backend lost
   *  while the WAL survived); they are the same on every member, so this stays replicated. */
  ensureMembers(members: readonly Member[]): void {
    if (this.members().length > 0) return;
    this.backend.write((writer) => {
      for (const member of members) writeMember(writer, member);
    });
  }

  /** Applies committed entries in order; see ApplyHooks. */
  applyEntries(entries: readonly Entry[], hooks: ApplyHooks): void {
    if (entries.length === 0) return;
    const decoded = entries.map(decodeEntry);
    let start = 0;
    for (let i = 1; i <= decoded.length; i++) {
      // A revoke starts a batch of its own: attachments are learned from the events of
      // committed batches, so every earlier put must have committed before a revoke runs.
      const next = decoded[i];
      const boundary =
        next === undefined ||
        (next.kind === 'request' && next.proposed.request.kind === 'leaseRevoke');
      if (!boundary) continue;
      this.applyBatch(decoded.slice(start, i), hooks);
      start = i;
    }
  }

  private applyBatch(batch: readonly Decoded[], hooks: ApplyHooks): void {
    const last = batch[batch.length - 1].entry.index;
    const already = this.backend.consistentIndex();
    const outcomes: { id: bigint; outcome: ApplyOutcome }[] = [];
    const answers: LeaseQueryAnswer[] = [];
    const nowMs = this.options.clock.nowMs();
    if (last > already) {
      const result = this.kv.applyBatch(last, (writer) => {
        for (const item of batch) {
          if (item.entry.index <= already) continue;
          if (item.kind === 'request') {
            const context = { writer, lessor: this.lessor, alarms: this.alarms, nowMs };
            const { id, request } = item.proposed;
            const outcome = applyRequest(context, request);
            if (request.kind === 'leaseTimeToLiveQuery') {
              // The query's waiter settles with the answer, not here.
              if (outcome.ok && typeof outcome.value === 'number') {
                answers.push({ queryId: id, id: request.id, remainingSeconds: outcome.value });
              }
            } else {
              const waiter = request.kind === 'leaseTimeToLiveAnswer' ? request.queryId : id;
              outcomes.push({ id: waiter, outcome });
            }
          } else if (item.kind === 'conf-change') {
            applyConfChangeRecord(writer.backend, item.change);
          }
        }
      });
      assert(result.applied, 'a batch above the consistent index is applied');
      assert(this.backend.consistentIndex() === last, 'the batch moved the consistent index');
    }
    for (const item of batch) if (item.kind === 'conf-change') hooks.confChange(item.change);
    for (const { id, outcome } of outcomes) hooks.applied(id, outcome);
    for (const answer of answers) this.options.answerLeaseQuery?.(answer);
    if (this.kv.compactionPending) this.driveCompaction();
  }

  watch(options: WatchOptions): Watcher {
    const watcher = this.watchable.watch(options);
    this.watchers.add(watcher);
    return watcher;
  }

  cancelWatch(watcher: Watcher): void {
    this.watchers.delete(watcher);
    this.watchable.cancel(watcher);
  }

  /**
   * The whole backend as a stream read from one consistent view (the data of an outgoing
   * MsgSnap, read when it is sent). It may be newer than the raft snapshot it travels with; the
   * receiver then skips the entries its restored consistent index already covers.
   */
  backendSnapshot(): AsyncIterable<Uint8Array> {
    return this.backend.snapshot();
  }

  /** Resolves once everything applied so far survives a power loss. */
  async syncBackend(): Promise<void> {
    await this.backend.sync();
  }

  /** Replaces the whole state with a backend stream. Watches end (their clients re-watch). */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    for (const watcher of this.watchers) this.watchable.cancel(watcher);
    this.watchers.clear();
    await this.backend.restore(chunks);
    assert(!this.backend.restorePending(), 'the restore completed');
    this.open();
  }

  /** Physical compaction runs in small steps between other work, on the current store only
   *  (a restore replaces the store; the old one's leftover steps must not touch the backend). */
  private driveCompaction(): void {
    if (this.compacting || this.closed) return;
    this.compacting = true;
    const kv = this.kv;
    const step = (): void => {
      if (kv !== this.kv || this.closed) {
        this.compacting = false;
        if (!this.closed && this.kv.compactionPending) this.driveCompaction();
        return;
      }
      if (kv.compactionStep(COMPACTION_DELETES_PER_STEP)) this.options.schedule(step);
      else this.compacting = false;
    };
    this.options.schedule(step);
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers) this.watchable.cancel(watcher);
    this.watchers.clear();
  }
}

function decodeEntry(entry: Entry): Decoded {
  if (entry.type === 'conf-change') {
    return { entry, kind: 'conf-change', change: decodeConfChange(entry.data) };
  }
  if (entry.data.length === 0) return { entry, kind: 'noop' };
  return { entry, kind: 'request', proposed: decodeRequest(entry.data) };
}
