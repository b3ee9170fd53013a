/**
 * The raft core's vocabulary: what goes in (messages, proposals, ticks), what comes out (Ready),
 * and how it is configured. Names follow etcd-io/raft so the two can be read side by side.
 */
import type { LogIndex, MemberId, Term } from '../base/index.ts';

export const NO_MEMBER = 0n as MemberId;

export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  /** For `normal`, the application's command (empty for a new leader's no-op); for
   *  `conf-change`, an encoded ConfChange (see conf-change.ts). */
  readonly data: Uint8Array;
}

/** What a member must persist before it acts on it: the vote and term survive restarts. */
export interface HardState {
  readonly term: Term;
  readonly vote: MemberId;
  readonly commit: LogIndex;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the application may want to observe; never persisted. */
export interface SoftState {
  readonly leader: MemberId;
  readonly role: Role;
}

/** Members of the configuration. Learners receive the log but never vote or count to a quorum. */
export interface ConfState {
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
}

export interface SnapshotMetadata {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The application's state machine at `metadata.index`, opaque to raft. */
  readonly data: Uint8Array;
}

export type ConfChangeType = 'add-voter' | 'add-learner' | 'remove-member';

/** One membership change. Changes are applied one at a time (see docs/ARCHITECTURE.md). A
 *  learner is promoted by `add-voter` for a member that is currently a learner. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly memberId: MemberId;
  /** Opaque application context (etcd puts the member's peer URLs here). */
  readonly context: Uint8Array;
}

export type MessageType =
  | 'MsgHup' // local: start an election
  | 'MsgBeat' // local: leader sends heartbeats
  | 'MsgProp' // a proposal, possibly forwarded by a follower
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgUnreachable' // local: the transport could not reach `from`
  | 'MsgSnapStatus' // local: the transport finished (or failed) sending a snapshot
  | 'MsgCheckQuorum' // local: leader checks it heard from a quorum
  | 'MsgTransferLeader'
  | 'MsgTimeoutNow'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp';

export interface Message {
  readonly type: MessageType;
  readonly to: MemberId;
  readonly from: MemberId;
  readonly term: Term;
  /** Term of the entry at `index` (MsgApp), or of the candidate's last entry (votes). */
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
  readonly snapshot: Snapshot | null;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  /** ReadIndex request context, or a marker that a vote is a leadership transfer. */
  readonly context: Uint8Array;
}

/** A ReadIndex answer: once the application has applied `index`, a read identified by
 *  `context` may be served locally and is linearizable. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

/**
 * Everything the application must do, in order: persist `hardState`, `entries` and `snapshot`
 * (fsync when `mustSync`), then send `messages`, then apply `snapshot` and `committedEntries`,
 * then call `advance()`. Messages are only handed out once what they acknowledge is in this or
 * an earlier Ready's persisted state, so sending after persisting is always safe. One
 * exception is allowed (Raft thesis §10.2.1): when the Ready was cut while leading, its messages
 * may leave before its entries are persisted, since the leader counts its own entries toward
 * commit only once advance() reports them durable.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly mustSync: boolean;
}

/**
 * Deliberately broken variants of the core. Only the simulator sets one, to prove that its
 * checkers catch the violation; production code never does.
 */
export type Mutant =
  | 'commit-previous-term'
  | 'vote-twice'
  | 'ignore-log-freshness'
  | 'read-without-quorum'
  | 'ack-before-persist';

export const MUTANTS: readonly Mutant[] = [
  'commit-previous-term',
  'vote-twice',
  'ignore-log-freshness',
  'read-without-quorum',
  'ack-before-persist',
];

/** Why the core refused an input. Refusals are expected outcomes, never bugs. */
export type StepRejection =
  | 'no-leader'
  | 'dropped'
  | 'conf-change-pending'
  | 'leader-transfer-in-progress'
  | 'leader-removal-pending'
  | 'uncommitted-limit'
  | 'local-message'
  | 'unknown-peer';

export type StepResult =
  { readonly ok: true } | { readonly ok: false; readonly reason: StepRejection };

export interface ProgressStatus {
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: MemberId;
  readonly term: Term;
  readonly vote: MemberId;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly lastIndex: LogIndex;
  readonly lead: MemberId;
  readonly role: Role;
  /** Only a leader tracks its followers; null otherwise. */
  readonly progress: ReadonlyMap<MemberId, ProgressStatus> | null;
  readonly leadTransferee: MemberId;
  readonly confState: ConfState;
}
