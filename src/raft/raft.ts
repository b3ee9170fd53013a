/**
 * The front door. Every input goes through step(): its prelude settles terms once for all
 * roles (a higher term demotes us, a stale one is ignored or answered to unstick its sender),
 * votes are handled here because any role may vote, and the rest goes to the current role's
 * step function, swapped in only by the becomeX transitions.
 */
import {
  assert,
  asLogIndex,
  asTerm,
  bytesEqual,
  type LogIndex,
  type MemberId,
  type Term,
} from '../base/index.ts';
import type { RaftConfig } from './config.ts';
import { nextConfState } from './conf-change.ts';
import { makeMessage, voteResponseType } from './messages.ts';
import {
  CAMPAIGN_TRANSFER_CONTEXT,
  OK,
  RaftCore,
  type CampaignKind,
  type StepFunction,
} from './raft-core.ts';
import type { VoteResult } from './quorum.ts';
import { stepCandidate } from './role-candidate.ts';
import { stepFollower } from './role-follower.ts';
import { stepLeader } from './role-leader.ts';
import {
  NO_MEMBER,
  type ConfChange,
  type ConfState,
  type Message,
  type MessageType,
  type StepResult,
} from './types.ts';

interface InvariantSnapshot {
  readonly term: Term;
  readonly vote: MemberId;
  readonly commit: LogIndex;
}

export class Raft extends RaftCore {
  private tickRole: () => void = () => this.tickElection();

  constructor(config: RaftConfig) {
    super(config, stepFollower);
    const { hardState, confState } = config.storage.initialState();
    this.tracker.setConfState(confState, this.log.lastIndex());
    // A persisted commit below the snapshot is stale, not wrong: the snapshot is committed.
    assert(hardState.commit <= this.log.lastIndex(), 'persisted commit lies within the log');
    this.log.commitTo(hardState.commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    if (config.applied > 0) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, NO_MEMBER);
  }

  tick(): void {
    const before = this.invariantSnapshot();
    this.tickRole();
    this.assertInvariants(before);
  }

  private invariantSnapshot(): InvariantSnapshot {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Checked after every input: the rules the rest of the cluster relies on. */
  private assertInvariants(before: InvariantSnapshot): void {
    assert(this.term >= before.term, 'term never decreases');
    if (this.term === before.term && before.vote !== NO_MEMBER) {
      assert(
        this.vote === before.vote || this.mutant === 'vote-twice',
        'a member votes at most once per term',
      );
    }
    assert(this.log.committed >= before.commit, 'commit never decreases');
    assert(this.log.committed <= this.log.lastIndex(), 'commit never passes the last index');
    assert(this.log.applied <= this.log.committed, 'applied never passes commit');
    if (this.role === 'leader') assert(this.lead === this.id, 'a leader follows itself');
    if (this.role === 'candidate' && this.mutant !== 'vote-twice') {
      assert(this.vote === this.id, 'a candidate votes for itself');
    }
    if (this.leadTransferee !== NO_MEMBER) assert(this.role === 'leader', 'only leaders transfer');
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(this.localMessage('MsgHup'));
    }
  }

  private tickHeartbeat(): void {
    assert(this.role === 'leader', 'only a leader ticks heartbeats');
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(this.localMessage('MsgCheckQuorum'));
      // A transfer that did not finish within an election timeout is abandoned, so
      // proposals are accepted again.
      if (this.role === 'leader' && this.leadTransferee !== NO_MEMBER) this.abortLeaderTransfer();
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(this.localMessage('MsgBeat'));
    }
  }

  localMessage(type: MessageType): Message {
    return makeMessage({ type, from: this.id, to: this.id });
  }

  private reset(term: Term): void {
    assert(term >= this.term, 'term never decreases');
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_MEMBER;
    }
    this.lead = NO_MEMBER;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.resetProgressForNewTerm();
    this.pendingConfIndex = asLogIndex(0);
    this.uncommittedSizeBytes = 0;
    this.selfRemovalPending = false;
    this.readOnly.clear();
    this.pendingReadIndexMessages = [];
  }

  private setRole(step: StepFunction, tick: () => void): void {
    this.stepRole = step;
    this.tickRole = tick;
  }

  becomeFollower(term: Term, lead: MemberId): void {
    this.setRole(stepFollower, () => this.tickElection());
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader never becomes a pre-candidate');
    // PreVote changes neither term nor vote: a failed pre-election leaves no trace.
    this.setRole(stepCandidate, () => this.tickElection());
    this.tracker.resetVotes();
    this.lead = NO_MEMBER;
    this.role = 'pre-candidate';
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader never becomes a candidate');
    this.setRole(stepCandidate, () => this.tickElection());
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    assert(this.role === 'candidate' || this.role === 'pre-candidate', 'only candidates lead');
    this.setRole(stepLeader, () => this.tickHeartbeat());
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    assert(self !== undefined, 'a leader is a member');
    // The leader's own log counts toward commit only as far as it has been persisted.
    self.maybeUpdate(this.log.lastStableIndex());
    self.becomeReplicate();
    self.recentActive = true;
    const unapplied = this.log.slice(
      asLogIndex(Math.max(this.log.applied + 1, this.log.firstIndex())),
      asLogIndex(this.log.lastIndex() + 1),
      Number.MAX_SAFE_INTEGER,
    );
    assert(unapplied !== 'compacted', 'unapplied entries are never compacted');
    this.selfRemovalPending = this.removesSelf(unapplied);
    // Raft §5.4.2 / §8: an entry of the new term lets older entries commit, and lets reads be
    // served once it commits.
    const appended = this.appendEntry([{ type: 'normal', data: new Uint8Array(0) }]);
    assert(appended, 'the empty entry always fits the uncommitted budget');
    // Refuse membership changes until everything up to and including that empty entry is
    // applied: earlier changes in the log may not have taken effect yet, and a single-server
    // change is only safe once the new leader has committed an entry of its own term (the fix
    // to the bug Ongaro described in 2015; see docs/ARCHITECTURE.md §9).
    this.pendingConfIndex = this.log.lastIndex();
  }

  hup(kind: CampaignKind): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  /** A committed but unapplied conf change could make this member's view of the voters
   *  wrong; campaigning must wait until it is applied. */
  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const entries = this.log.slice(
      asLogIndex(Math.max(this.log.applied + 1, this.log.firstIndex())),
      asLogIndex(this.log.committed + 1),
      Number.MAX_SAFE_INTEGER,
    );
    if (entries === 'compacted') return false;
    return entries.some((entry) => entry.type === 'conf-change');
  }

  campaign(kind: CampaignKind): void {
    assert(this.promotable(), 'only a promotable member campaigns');
    let voteType: MessageType;
    let term: Term;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = 'MsgPreVote';
      term = asTerm(this.term + 1);
    } else {
      this.becomeCandidate();
      voteType = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, voteResponseType(voteType), true) === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const context = kind === 'transfer' ? CAMPAIGN_TRANSFER_CONTEXT : new Uint8Array(0);
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      const index = this.log.lastIndex();
      this.send({ type: voteType, to: id, term, index, logTerm: this.log.lastTerm(), context });
    }
  }

  poll(from: MemberId, type: MessageType, granted: boolean): VoteResult {
    assert(type === 'MsgVoteResp' || type === 'MsgPreVoteResp', 'poll counts vote responses');
    this.tracker.recordVote(from, granted);
    return this.tracker.tallyVotes().result;
  }

  step(message: Message): StepResult {
    const before = this.invariantSnapshot();
    const result = this.stepUnchecked(message);
    this.assertInvariants(before);
    return result;
  }

  private stepUnchecked(message: Message): StepResult {
    if (message.term > this.term) {
      if (!this.stepHigherTerm(message)) return OK;
    } else if (message.term !== 0 && message.term < this.term) {
      this.stepLowerTerm(message);
      return OK;
    }
    switch (message.type) {
      case 'MsgHup':
        this.hup(this.preVote ? 'pre-election' : 'election');
        return OK;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(message);
        return OK;
      default:
        return this.stepRole(this, message);
    }
  }

  /** Returns false when the message must be ignored. */
  private stepHigherTerm(message: Message): boolean {
    if (message.type === 'MsgVote' || message.type === 'MsgPreVote') {
      const force = bytesEqual(message.context, CAMPAIGN_TRANSFER_CONTEXT);
      const inLease =
        this.checkQuorum && this.lead !== NO_MEMBER && this.electionElapsed < this.electionTicks;
      // Leader lease: a member that heard from its leader recently refuses to help depose it,
      // which keeps a rejoining partitioned member from disrupting the cluster.
      if (!force && inLease) return false;
    }
    if (message.type === 'MsgPreVote') return true;
    // A granted pre-vote carries the future term; it is not a reason to change ours.
    if (message.type === 'MsgPreVoteResp' && !message.reject) return true;
    const fromLeader =
      message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap';
    this.becomeFollower(message.term, fromLeader ? message.from : NO_MEMBER);
    return true;
  }

  private stepLowerTerm(message: Message): void {
    const fromStaleLeader = message.type === 'MsgHeartbeat' || message.type === 'MsgApp';
    if ((this.checkQuorum || this.preVote) && fromStaleLeader) {
      // The stale leader may be one whose vote requests we ignore (lease / pre-vote); telling
      // it our term makes it step down instead of staying stuck.
      this.send({ type: 'MsgAppResp', to: message.from });
    } else if (message.type === 'MsgPreVote') {
      this.send({ type: 'MsgPreVoteResp', to: message.from, term: this.term, reject: true });
    }
  }

  private handleVoteRequest(message: Message): void {
    const isPreVote = message.type === 'MsgPreVote';
    let canVote =
      this.vote === message.from ||
      (this.vote === NO_MEMBER && this.lead === NO_MEMBER) ||
      (isPreVote && message.term > this.term);
    if (this.mutant === 'vote-twice') {
      // MUTANT vote-twice: a member grants a second vote in the same term.
      canVote = true;
    }
    let upToDate = this.log.isUpToDate(message.index, message.logTerm);
    if (this.mutant === 'ignore-log-freshness') {
      // MUTANT ignore-log-freshness: the election restriction (§5.4.1) is skipped.
      upToDate = true;
    }
    const type = voteResponseType(message.type);
    if (!(canVote && upToDate)) {
      this.send({ type, to: message.from, term: this.term, reject: true });
      return;
    }
    // A granted vote carries the candidate's term: for PreVote it is not ours yet.
    this.send({ type, to: message.from, term: message.term });
    if (isPreVote) return;
    assert(message.term === this.term, 'a real vote is granted in our own term');
    assert(
      this.vote === NO_MEMBER || this.vote === message.from || this.mutant === 'vote-twice',
      'a member votes at most once per term',
    );
    this.electionElapsed = 0;
    this.vote = message.from;
  }

  /** The application applied a committed conf-change entry. */
  applyConfChange(change: ConfChange): ConfState {
    const current = this.tracker.confState();
    // The pending change is now applied. If it was our own removal and we are still a
    // member (it was refused as a no-op), proposals are accepted again.
    if (change.type === 'remove-member' && change.memberId === this.id) {
      this.selfRemovalPending = false;
    }
    const next = nextConfState(current, change);
    if (next === null) return current;
    const knownBefore = new Set(this.tracker.memberIds());
    this.tracker.setConfState(next, this.log.lastIndex());
    const applied = this.tracker.confState();
    assert(applied.voters.length > 0, 'a configuration always keeps a voter');
    if (this.role !== 'leader') return applied;
    if (!this.tracker.progress.has(this.id) || this.tracker.isLearner(this.id)) {
      // The leader was removed: the change is committed, so it can step down safely and
      // leave the election to the remaining voters.
      this.becomeFollower(this.term, NO_MEMBER);
      return applied;
    }
    if (this.leadTransferee !== NO_MEMBER && !this.tracker.isVoter(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    // Fewer voters can mean a smaller quorum that already holds more entries.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      for (const id of this.tracker.memberIds()) {
        if (!knownBefore.has(id)) this.sendAppend(id);
      }
    }
    return applied;
  }
}
