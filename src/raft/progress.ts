/**
 * What the leader knows about one follower's log, and how eagerly it sends to it.
 *
 *   probe      ── one MsgApp at a time until the follower's match is found
 *   replicate  ── stream optimistically, bounded by inflights
 *   snapshot   ── a snapshot is on its way; send nothing until it is reported
 *
 * probe → replicate on the first successful MsgAppResp; replicate → probe on a rejection or an
 * unreachable report; any → snapshot when the needed entries were compacted.
 */
import { assert, asLogIndex, type LogIndex } from '../base/index.ts';
import { Inflights } from './inflights.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match: LogIndex;
  next: LogIndex;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: LogIndex = asLogIndex(0);
  /** Set on any message from the follower; CheckQuorum clears it every election timeout. */
  recentActive = false;
  /** In probe state: a MsgApp is out, wait for an answer or a heartbeat response. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(options: {
    match: LogIndex;
    next: LogIndex;
    maxInflightMsgs: number;
    isLearner: boolean;
  }) {
    assert(options.next > options.match, 'next must be past match');
    this.match = options.match;
    this.next = options.next;
    this.inflights = new Inflights(options.maxInflightMsgs);
    this.isLearner = options.isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = asLogIndex(0);
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's index, so probing can start
    // right after it instead of walking back from match.
    if (this.state === 'snapshot') {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = asLogIndex(Math.max(this.match + 1, pendingSnapshot + 1));
    } else {
      this.resetState('probe');
      this.next = asLogIndex(this.match + 1);
    }
    assert(this.next > this.match, 'next must be past match after probing starts');
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = asLogIndex(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    assert(snapshotIndex > 0, 'a snapshot to send has an index');
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A successful MsgAppResp acknowledged `index`; false when it told us nothing new. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = asLogIndex(Math.max(this.next, index + 1));
    assert(this.next > this.match, 'next stays past match');
    return updated;
  }

  /** Accounts for a MsgApp carrying `entryCount` entries starting at `next`. */
  updateOnEntriesSend(entryCount: number): void {
    assert(entryCount >= 0, 'entry count is a natural');
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        const lastIndex = asLogIndex(this.next + entryCount - 1);
        this.next = asLogIndex(lastIndex + 1);
        this.inflights.add(lastIndex);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      // One probe at a time: wait for its answer (or a heartbeat response) before the next.
      if (entryCount > 0) this.msgAppFlowPaused = true;
    } else {
      assert(false, 'no MsgApp is sent while a snapshot is pending');
    }
  }

  /**
   * The follower rejected a MsgApp at `rejected`, hinting that its log might match at
   * `matchHint`. Returns false for stale rejections (already superseded).
   */
  maybeDecreaseTo(rejected: LogIndex, matchHint: LogIndex): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = asLogIndex(this.match + 1);
      return true;
    }
    // In probe state only the answer to the latest probe (sent at next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = asLogIndex(Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1));
    this.msgAppFlowPaused = false;
    assert(this.next > this.match, 'next stays past match after a rejection');
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        // Set while the window is full; a heartbeat response clears it so that one empty
        // MsgApp can go out (see RaftCore.maybeSendAppend).
        return this.msgAppFlowPaused;
      case 'snapshot':
        return true;
    }
  }
}
