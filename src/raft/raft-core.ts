/**
 * The state every role shares and the leader's replication machinery. Role behaviour lives in
 * role-*.ts as step functions over this class; raft.ts adds the front door (Step with its term
 * prelude) and the role transitions. Splitting it this way keeps the role files free of an
 * import cycle: they see RaftCore, whose transitions are abstract here.
 */
import {
  assert,
  asLogIndex,
  asTerm,
  type LogIndex,
  type MemberId,
  type Random,
  type Term,
} from '../base/index.ts';
import type { RaftConfig } from './config.ts';
import { decodeConfChange } from './conf-change.ts';
import { makeEntry, messageWith, type MessageDraft } from './messages.ts';
import { ProgressTracker } from './progress-tracker.ts';
import { entriesSizeBytes, RaftLog } from './raft-log.ts';
import { ReadOnlyQueue } from './read-only.ts';
import {
  NO_MEMBER,
  type Entry,
  type HardState,
  type Message,
  type Mutant,
  type ReadState,
  type Role,
  type SoftState,
  type StepResult,
} from './types.ts';

export type CampaignKind = 'pre-election' | 'election' | 'transfer';
export type StepFunction = (raft: RaftCore, message: Message) => StepResult;
export type EntryDraft = Pick<Entry, 'type' | 'data'>;

/** Marks a vote request caused by leadership transfer, so voters ignore their leader lease. */
export const CAMPAIGN_TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73]);

export const OK: StepResult = { ok: true };

export abstract class RaftCore {
  readonly id: MemberId;
  readonly mutant: Mutant | undefined;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  private readonly random: Random;

  term: Term = asTerm(0);
  vote: MemberId = NO_MEMBER;
  lead: MemberId = NO_MEMBER;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly readOnly = new ReadOnlyQueue();
  readStates: ReadState[] = [];
  /** Outbox; RawNode hands it to the application in the next Ready. */
  msgs: Message[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: MemberId = NO_MEMBER;
  /** Index of the latest conf change in the log; a leader accepts a new one only after the
   *  application applied this one. */
  pendingConfIndex: LogIndex = asLogIndex(0);
  uncommittedSizeBytes = 0;
  /** See bcastAppendWithReady. */
  private appendsOwed = false;
  /** Reads that arrived before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** The leader's own removal is in its log. It accepts nothing more, so that when it steps
   *  down its log ends where a quorum of the old configuration has it, and the remaining
   *  voters can win its vote. */
  selfRemovalPending = false;
  protected stepRole: StepFunction;

  constructor(config: RaftConfig, initialStep: StepFunction) {
    this.id = config.id;
    this.mutant = config.mutant;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.maxSizePerMsgBytes = config.maxSizePerMsgBytes;
    this.maxUncommittedEntriesBytes = config.maxUncommittedEntriesBytes;
    this.preVote = config.preVote;
    this.checkQuorum = config.checkQuorum;
    this.random = config.random;
    this.log = new RaftLog(config.storage);
    this.tracker = new ProgressTracker(config.maxInflightMsgs);
    this.stepRole = initialStep;
  }

  abstract becomeFollower(term: Term, lead: MemberId): void;
  abstract becomeLeader(): void;
  abstract campaign(kind: CampaignKind): void;
  abstract hup(kind: CampaignKind): void;

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  /** A member may campaign only as a voter of its configuration, with no snapshot pending. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id) && !this.log.hasPendingSnapshot();
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTicks + this.random.int(this.electionTicks);
    assert(this.randomizedElectionTimeout >= this.electionTicks, 'timeout at least electionTicks');
    assert(this.randomizedElectionTimeout < 2 * this.electionTicks, 'timeout below 2x');
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  send(draft: MessageDraft): void {
    const type = draft.type;
    const isVoteTraffic =
      type === 'MsgVote' ||
      type === 'MsgVoteResp' ||
      type === 'MsgPreVote' ||
      type === 'MsgPreVoteResp';
    let term = draft.term ?? asTerm(0);
    if (isVoteTraffic) {
      // Vote traffic carries the election's term, which for PreVote is one ahead of ours.
      assert(term !== 0, 'vote traffic must carry a term');
    } else {
      assert(term === 0, "messages other than vote traffic take the member's term");
      // Proposals and reads are forwarded as local messages, without a term.
      if (type !== 'MsgProp' && type !== 'MsgReadIndex') term = this.term;
    }
    const from = draft.from ?? this.id;
    assert(draft.to !== undefined && draft.to !== NO_MEMBER, 'a message has a recipient');
    assert(draft.to !== this.id, 'a member never sends to itself over the network');
    this.msgs.push(messageWith(draft, from, term));
  }

  sendAppend(to: MemberId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next MsgApp (or a snapshot) to `to`; false when nothing was sent. */
  maybeSendAppend(to: MemberId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.progress.get(to);
    assert(progress !== undefined, 'only members get MsgApp');
    if (progress.isPaused()) return false;
    const prevIndex = asLogIndex(progress.next - 1);
    const prevTerm = this.log.term(prevIndex);
    // With a full window only an empty MsgApp goes out. If every message that filled the
    // window was lost, its answer (ack or rejection) is what clears the window again;
    // otherwise replication to this follower would stall for good.
    const throttled = progress.state === 'replicate' && progress.inflights.full();
    const entries = throttled ? [] : this.log.entriesFrom(progress.next, this.maxSizePerMsgBytes);
    if (typeof prevTerm !== 'number' || entries === 'compacted') {
      return this.sendSnapshot(to);
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: 'MsgApp',
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.log.committed,
    });
    progress.updateOnEntriesSend(entries.length);
    return true;
  }

  private sendSnapshot(to: MemberId): boolean {
    const progress = this.tracker.progress.get(to);
    assert(progress !== undefined, 'only members get snapshots');
    // A member that is not answering would only waste the transfer.
    if (!progress.recentActive) return false;
    const snapshot = this.log.snapshot();
    assert(snapshot.metadata.index > 0, 'entries were compacted, so a snapshot exists');
    progress.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'MsgSnap', to, snapshot });
    return true;
  }

  bcastAppend(): void {
    for (const id of this.tracker.memberIds()) if (id !== this.id) this.sendAppend(id);
  }

  /**
   * Owes every follower an append (new entries, or a commit index that moved) and sends it when
   * the application next takes a Ready. Messages leave only in Readies anyway, so nothing waits
   * longer; but every proposal and acknowledgement stepped until then now shares one MsgApp per
   * follower, and so one acknowledgement back, instead of one each. Under 100 concurrent
   * clients the leader had sent one MsgApp per entry per follower (2 x 35,004 for 35,004 puts)
   * plus a commit-only one per acknowledgement (59,843).
   */
  bcastAppendWithReady(): void {
    this.appendsOwed = true;
  }

  /** Whether a broadcast is owed (a member that stopped leading owes none). */
  hasOwedAppends(): boolean {
    return this.appendsOwed && this.role === 'leader';
  }

  /** Sends the owed broadcast; RawNode calls it as it cuts a Ready. */
  sendOwedAppends(): void {
    const owed = this.hasOwedAppends();
    this.appendsOwed = false;
    if (!owed) return;
    // A follower that this Ready already tells the current commit index (an acknowledgement
    // answered at once) needs an append only for entries it has not been sent.
    const committed = this.log.committed;
    const told = new Set<MemberId>();
    for (const message of this.msgs) {
      if (message.type === 'MsgApp' && message.commit >= committed) told.add(message.to);
    }
    for (const id of this.tracker.memberIds()) {
      if (id !== this.id) this.maybeSendAppend(id, !told.has(id));
    }
  }

  sendHeartbeat(to: MemberId, context: Uint8Array): void {
    const progress = this.tracker.progress.get(to);
    assert(progress !== undefined, 'only members get heartbeats');
    // A follower may not have the leader's whole committed prefix; it must never be told to
    // commit past what it is known to match.
    const commit = asLogIndex(Math.min(progress.match, this.log.committed));
    this.send({ type: 'MsgHeartbeat', to, commit, context });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithContext(this.readOnly.lastPendingContext() ?? new Uint8Array(0));
  }

  bcastHeartbeatWithContext(context: Uint8Array): void {
    if (context.length > 0) {
      // Batching: a heartbeat round for an older read still waiting in the outbox is
      // superseded, because acks for the newer context release the older reads too.
      this.msgs = this.msgs.filter((m) => m.type !== 'MsgHeartbeat' || m.context.length === 0);
    }
    for (const id of this.tracker.memberIds()) if (id !== this.id) this.sendHeartbeat(id, context);
  }

  sendTimeoutNow(to: MemberId): void {
    this.send({ type: 'MsgTimeoutNow', to });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NO_MEMBER;
  }

  /** Advances commit to what a quorum of voters has; true when it moved. */
  maybeCommit(): boolean {
    const quorumIndex = this.tracker.committedIndex();
    if (quorumIndex <= this.log.committed) return false;
    const wasCommittedInTerm = this.committedEntryInCurrentTerm();
    if (this.mutant === 'commit-previous-term') {
      // MUTANT commit-previous-term: counting replicas of an older term's entry (Figure 8).
      this.log.commitTo(quorumIndex);
    } else {
      // Raft §5.4.2: only an entry of the leader's own term is committed by counting replicas;
      // older entries are committed indirectly, by the Log Matching Property.
      if (this.log.termOrZero(quorumIndex) !== this.term) return false;
      this.log.commitTo(quorumIndex);
    }
    if (!wasCommittedInTerm && this.committedEntryInCurrentTerm()) {
      this.releasePendingReadIndexMessages();
    }
    return true;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  /** Appends proposals as the leader; false when the uncommitted budget is exhausted. */
  appendEntry(drafts: readonly EntryDraft[]): boolean {
    assert(this.role === 'leader', 'only a leader appends its own entries');
    const lastIndex = this.log.lastIndex();
    const entries: Entry[] = drafts.map((draft, i) =>
      makeEntry(this.term, asLogIndex(lastIndex + 1 + i), draft.type, draft.data),
    );
    if (!this.increaseUncommittedSize(entries)) return false;
    const newLastIndex = this.log.append(entries);
    assert(newLastIndex === lastIndex + entries.length, 'the leader appends at its last index');
    if (this.mutant === 'ack-before-persist') {
      // MUTANT ack-before-persist: the leader's own entries count toward commit before the
      // application has persisted them.
      const self = this.tracker.progress.get(this.id);
      if (self !== undefined) self.maybeUpdate(newLastIndex);
      this.maybeCommit();
    }
    return true;
  }

  /** The application persisted up to the stable index: the leader may now count itself. */
  selfAcknowledgeStable(): void {
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(this.log.lastStableIndex()) && this.maybeCommit()) {
      this.bcastAppendWithReady();
    }
  }

  private increaseUncommittedSize(entries: readonly Entry[]): boolean {
    const size = entriesSizeBytes(entries);
    // One oversized proposal is still accepted when nothing is outstanding, or it could
    // never be made at all.
    if (
      this.uncommittedSizeBytes > 0 &&
      size > 0 &&
      this.uncommittedSizeBytes + size > this.maxUncommittedEntriesBytes
    ) {
      return false;
    }
    this.uncommittedSizeBytes += size;
    return true;
  }

  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    // Entries appended under a previous leadership were never counted, so clamp at zero.
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - entriesSizeBytes(entries));
  }

  /** Answers a confirmed read: locally as a ReadState, or to the follower that asked. */
  respondToReadIndex(request: Message, index: LogIndex): void {
    assert(index <= this.log.committed, 'a read index is a committed index');
    if (request.from === NO_MEMBER || request.from === this.id) {
      this.readStates.push({ index, context: request.context });
      return;
    }
    this.send({ type: 'MsgReadIndexResp', to: request.from, index, context: request.context });
  }

  /** Reads queued before this leader committed in its term may now be served. */
  private releasePendingReadIndexMessages(): void {
    assert(this.committedEntryInCurrentTerm(), 'released only after committing in term');
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const request of pending) this.startReadIndex(request);
  }

  /** Queues a read at the current commit index and starts (or joins) a heartbeat round. */
  startReadIndex(request: Message): StepResult {
    assert(this.role === 'leader', 'only a leader serves ReadIndex');
    if (this.tracker.isSingleton()) {
      this.respondToReadIndex(request, this.log.committed);
      return OK;
    }
    if (!this.readOnly.addRequest(this.log.committed, request)) {
      return { ok: false, reason: 'dropped' };
    }
    // The leader's own ack; a quorum of heartbeat acks then confirms its leadership.
    this.readOnly.recvAck(this.id, request.context);
    this.bcastHeartbeatWithContext(request.context);
    return OK;
  }

  /** Whether `entries` hold a conf change that removes this member. */
  removesSelf(entries: readonly Entry[]): boolean {
    return entries.some((entry) => {
      if (entry.type !== 'conf-change') return false;
      const change = decodeConfChange(entry.data);
      return change.type === 'remove-member' && change.memberId === this.id;
    });
  }

  resetProgressForNewTerm(): void {
    const lastIndex = this.log.lastIndex();
    for (const id of this.tracker.memberIds()) {
      const old = this.tracker.progress.get(id);
      assert(old !== undefined, 'member ids come from the progress map');
      const fresh = this.tracker.newProgress(lastIndex, old.isLearner);
      this.tracker.progress.set(id, fresh);
    }
    assert(this.tracker.progress.size === this.tracker.memberIds().length, 'same members');
  }
}
