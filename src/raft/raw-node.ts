/**
 * The application's handle on a raft member. It validates the config, turns calls into
 * messages for Raft.step, and packages the accumulated outputs into a Ready:
 *
 *   ready() → persist snapshot, entries, hardState (fsync if mustSync) → send messages →
 *   apply snapshot and committedEntries → advance()
 *
 * Exactly one Ready is outstanding at a time; advance() tells the core what became durable and
 * what was applied.
 */
import { assert, asLogIndex, type LogIndex, type MemberId } from '../base/index.ts';
import type { RaftConfig } from './config.ts';
import { encodeConfChange } from './conf-change.ts';
import { validateRaftConfig } from './config-validation.ts';
import { isLocalMessage, isResponseMessage, makeEntry, makeMessage } from './messages.ts';
import { Raft } from './raft.ts';
import {
  NO_MEMBER,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type ProgressStatus,
  type Ready,
  type SoftState,
  type Status,
  type StepResult,
} from './types.ts';

export class RawNode {
  private readonly raft: Raft;
  private readonly maxCommittedSizePerReadyBytes: number;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private outstandingReady: Ready | null = null;

  constructor(config: RaftConfig) {
    const problems = validateRaftConfig(config);
    if (problems.length > 0) throw new RangeError(`invalid raft config: ${problems.join('; ')}`);
    this.raft = new Raft(config);
    this.maxCommittedSizePerReadyBytes = config.maxCommittedSizePerReadyBytes;
    this.previousSoftState = this.raft.softState();
    // The recovered state is already durable (a commit index implied by the snapshot
    // included): only changes from here on need persisting.
    this.previousHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Delivers a message from another member. Local message types are refused. */
  step(message: Message): StepResult {
    if (isLocalMessage(message.type)) return { ok: false, reason: 'local-message' };
    if (isResponseMessage(message.type) && !this.raft.tracker.progress.has(message.from)) {
      return { ok: false, reason: 'unknown-peer' };
    }
    return this.raft.step(message);
  }

  campaign(): StepResult {
    return this.raft.step(this.raft.localMessage('MsgHup'));
  }

  propose(data: Uint8Array): StepResult {
    return this.proposeEntry({ type: 'normal', data });
  }

  /** Proposes several normal entries in one MsgProp, so the leader sends each follower one
   *  append for all of them instead of one per entry (and a follower forwards one message). */
  proposeBatch(data: readonly Uint8Array[]): StepResult {
    assert(data.length > 0, 'a batch carries at least one proposal');
    const term = this.raft.term;
    const entries: Entry[] = data.map((item) => makeEntry(term, asLogIndex(0), 'normal', item));
    const self = this.raft.id;
    return this.raft.step(makeMessage({ type: 'MsgProp', from: self, to: self, entries }));
  }

  proposeConfChange(change: ConfChange): StepResult {
    return this.proposeEntry({ type: 'conf-change', data: encodeConfChange(change) });
  }

  private proposeEntry(draft: Pick<Entry, 'type' | 'data'>): StepResult {
    const entry = makeEntry(this.raft.term, asLogIndex(0), draft.type, draft.data);
    const self = this.raft.id;
    return this.raft.step(makeMessage({ type: 'MsgProp', from: self, to: self, entries: [entry] }));
  }

  /** Asks for a linearizable read; the answer arrives as a ReadState with `context`, which
   *  should be unique per request. */
  readIndex(context: Uint8Array): StepResult {
    assert(context.length > 0, 'a read needs a context to be matched with its answer');
    const self = this.raft.id;
    return this.raft.step(makeMessage({ type: 'MsgReadIndex', from: self, to: self, context }));
  }

  /** Asks the leader to hand leadership to `target`. */
  transferLeader(target: MemberId): StepResult {
    assert(target !== NO_MEMBER, 'a transfer needs a target');
    return this.raft.step(
      makeMessage({ type: 'MsgTransferLeader', from: target, to: this.raft.id }),
    );
  }

  /**
   * The application could not reach `id` (its stream broke, a dial failed, its queue
   * overflowed). A leader probes `id` again instead of streaming to it; a follower told this
   * of its leader forgets it and soon campaigns in a pre-election (see role-follower.ts).
   */
  reportUnreachable(id: MemberId): void {
    this.stepLocal('MsgUnreachable', id, false);
  }

  reportSnapshot(id: MemberId, ok: boolean): void {
    this.stepLocal('MsgSnapStatus', id, !ok);
  }

  private stepLocal(type: MessageType, from: MemberId, reject: boolean): void {
    this.raft.step(makeMessage({ type, from, to: this.raft.id, reject }));
  }

  /** Call when applying a committed conf-change entry; returns the new configuration. */
  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  /** The index of the last entry in the log, durable or not (cheaper than status()). */
  lastIndex(): LogIndex {
    return this.raft.log.lastIndex();
  }

  isLeader(): boolean {
    return this.raft.role === 'leader';
  }

  hasReady(): boolean {
    const raft = this.raft;
    if (!softStateEqual(raft.softState(), this.previousSoftState)) return true;
    if (!hardStateEqual(raft.hardState(), this.previousHardState)) return true;
    if (raft.log.hasPendingSnapshot()) return true;
    if (raft.log.unstableEntries().length > 0) return true;
    if (raft.msgs.length > 0 || raft.readStates.length > 0) return true;
    if (raft.hasOwedAppends()) return true;
    return raft.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(this.outstandingReady === null, 'advance() the previous Ready before the next');
    const raft = this.raft;
    raft.sendOwedAppends();
    const softState = raft.softState();
    const hardState = raft.hardState();
    const softChanged = !softStateEqual(softState, this.previousSoftState);
    const hardChanged = !hardStateEqual(hardState, this.previousHardState);
    const entries = [...raft.log.unstableEntries()];
    const snapshot = raft.log.unstable.snapshot;
    const termOrVoteChanged =
      hardState.term !== this.previousHardState.term ||
      hardState.vote !== this.previousHardState.vote;
    let mustSync = entries.length > 0 || termOrVoteChanged || snapshot !== null;
    if (raft.mutant === 'ack-before-persist') {
      // MUTANT ack-before-persist: the application is told nothing needs an fsync.
      mustSync = false;
    }
    const ready: Ready = {
      softState: softChanged ? softState : null,
      hardState: hardChanged ? hardState : null,
      readStates: raft.readStates,
      entries,
      snapshot,
      committedEntries: [...raft.log.nextCommittedEntries(this.maxCommittedSizePerReadyBytes)],
      messages: raft.msgs,
      mustSync,
    };
    // Messages and read states are handed out exactly once.
    raft.msgs = [];
    raft.readStates = [];
    if (softChanged) this.previousSoftState = softState;
    this.outstandingReady = ready;
    return ready;
  }

  /** The application persisted and applied everything in the last Ready. */
  advance(): void {
    const ready = this.outstandingReady;
    assert(ready !== null, 'advance() without an outstanding Ready');
    this.outstandingReady = null;
    const log = this.raft.log;
    if (ready.hardState !== null) {
      assert(ready.hardState.term >= this.previousHardState.term, 'persisted term increases');
      assert(ready.hardState.commit >= this.previousHardState.commit, 'commit never decreases');
      this.previousHardState = ready.hardState;
    }
    if (ready.snapshot !== null) {
      log.stableSnapshotTo(ready.snapshot.metadata.index);
      log.appliedTo(ready.snapshot.metadata.index);
    }
    if (ready.entries.length > 0) {
      const last = ready.entries[ready.entries.length - 1];
      log.stableTo(last.index, last.term);
    }
    const committed = ready.committedEntries;
    if (committed.length > 0) {
      const last = committed[committed.length - 1];
      assert(last.index > log.applied, 'applied moves forward');
      log.appliedTo(last.index);
      this.raft.reduceUncommittedSize(committed);
    }
    this.raft.selfAcknowledgeStable();
  }

  status(): Status {
    const raft = this.raft;
    let progress: Map<MemberId, ProgressStatus> | null = null;
    if (raft.role === 'leader') {
      progress = new Map();
      for (const id of raft.tracker.memberIds()) {
        const tracked = raft.tracker.progress.get(id);
        assert(tracked !== undefined, 'member ids come from the progress map');
        progress.set(id, {
          match: tracked.match,
          next: tracked.next,
          state: tracked.state,
          isLearner: tracked.isLearner,
          recentActive: tracked.recentActive,
        });
      }
    }
    return {
      id: raft.id,
      term: raft.term,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      lead: raft.lead,
      role: raft.role,
      progress,
      leadTransferee: raft.leadTransferee,
      confState: raft.tracker.confState(),
    };
  }
}

function softStateEqual(left: SoftState, right: SoftState): boolean {
  return left.leader === right.leader && left.role === right.role;
}

function hardStateEqual(left: HardState, right: HardState): boolean {
  return left.term === right.term && left.vote === right.vote && left.commit === right.commit;
}
