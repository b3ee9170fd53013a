/**
 * The configuration (voters and learners), the leader's Progress for every member, and the
 * votes of the current election. Quorums are always computed over voters only.
 */
import { assert, asLogIndex, type LogIndex, type MemberId } from '../base/index.ts';
import { sortedMemberIds } from './member-ids.ts';
import { Progress } from './progress.ts';
import { majorityCommittedIndex, voteResult, type VoteResult } from './quorum.ts';
import type { ConfState } from './types.ts';

export class ProgressTracker {
  private voterIds: MemberId[] = [];
  private learnerIds: MemberId[] = [];
  readonly progress = new Map<MemberId, Progress>();
  readonly votes = new Map<MemberId, boolean>();

  constructor(private readonly maxInflightMsgs: number) {
    assert(maxInflightMsgs > 0, 'maxInflightMsgs must be positive');
  }

  get voters(): readonly MemberId[] {
    return this.voterIds;
  }

  get learners(): readonly MemberId[] {
    return this.learnerIds;
  }

  /** Replaces the configuration; progress of remaining members is kept. */
  setConfState(confState: ConfState, lastIndex: LogIndex): void {
    const voters = sortedMemberIds(confState.voters);
    const learners = sortedMemberIds(confState.learners);
    for (const id of voters) assert(!learners.includes(id), 'a member is voter or learner');
    assert(new Set(voters).size === voters.length, 'voters are distinct');
    this.voterIds = voters;
    this.learnerIds = learners;
    for (const id of [...this.progress.keys()]) {
      if (!voters.includes(id) && !learners.includes(id)) this.progress.delete(id);
    }
    for (const id of [...voters, ...learners]) {
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.isLearner = learners.includes(id);
        continue;
      }
      const progress = this.newProgress(lastIndex, learners.includes(id));
      // A new member counts as active so CheckQuorum does not immediately depose the leader
      // that added it.
      progress.recentActive = true;
      this.progress.set(id, progress);
    }
  }

  newProgress(lastIndex: LogIndex, isLearner: boolean): Progress {
    return new Progress({
      match: asLogIndex(0),
      next: asLogIndex(lastIndex + 1),
      maxInflightMsgs: this.maxInflightMsgs,
      isLearner,
    });
  }

  confState(): ConfState {
    return { voters: [...this.voterIds], learners: [...this.learnerIds] };
  }

  isVoter(id: MemberId): boolean {
    return this.voterIds.includes(id);
  }

  isLearner(id: MemberId): boolean {
    return this.learnerIds.includes(id);
  }

  isSingleton(): boolean {
    return this.voterIds.length === 1;
  }

  /** Every member with progress, in id order so broadcasts are deterministic. */
  memberIds(): MemberId[] {
    return sortedMemberIds(this.progress.keys());
  }

  committedIndex(): LogIndex {
    return majorityCommittedIndex(this.voterIds, (id) => this.progress.get(id)?.match);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first vote from `id` in this election; later duplicates are ignored. */
  recordVote(id: MemberId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      if (vote === false) rejected++;
    }
    assert(granted + rejected <= this.voterIds.length, 'each voter is counted once');
    return { granted, rejected, result: voteResult(this.voterIds, this.votes) };
  }

  /** Whether a quorum of voters was heard from recently; `self` always counts. */
  quorumActive(self: MemberId): boolean {
    const active = new Map<MemberId, boolean>();
    for (const [id, progress] of this.progress) {
      if (progress.isLearner) continue;
      active.set(id, id === self || progress.recentActive);
    }
    return voteResult(this.voterIds, active) === 'won';
  }

  /** Acks as collected by the read-only queue, interpreted as a vote over voters. */
  quorumReached(acks: ReadonlySet<MemberId>): boolean {
    const votes = new Map<MemberId, boolean>();
    for (const id of acks) votes.set(id, true);
    return voteResult(this.voterIds, votes) === 'won';
  }
}
