/** How a raft member is configured. Validated before a member exists (see validateConfig). */
import type { LogIndex, MemberId, Random } from '../base/index.ts';
import type { LogStorage } from './log-storage.ts';
import type { Mutant } from './types.ts';

export interface RaftConfig {
  readonly id: MemberId;
  /** Ticks a follower waits without hearing from a leader before it campaigns. The actual
   *  timeout is drawn from [electionTicks, 2 * electionTicks) after every reset. */
  readonly electionTicks: number;
  /** Ticks between a leader's heartbeats; must be smaller than electionTicks. */
  readonly heartbeatTicks: number;
  /** The durable log and snapshot, as recovered from disk; raft only reads it. */
  readonly storage: LogStorage;
  /** The last index the application has applied (0 for a fresh member). */
  readonly applied: LogIndex;
  /** Source of election jitter; seeded in tests and the simulator. */
  readonly random: Random;
  /** Upper bound on the bytes of entries in one MsgApp (at least one entry is always sent). */
  readonly maxSizePerMsgBytes: number;
  /** Upper bound on MsgApps in flight to one follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Upper bound on bytes of entries handed out in one Ready's committedEntries. */
  readonly maxCommittedSizePerReadyBytes: number;
  /** Upper bound on bytes of proposed-but-uncommitted entries a leader accepts; further
   *  proposals are dropped so a stuck cluster cannot grow its log without bound. */
  readonly maxUncommittedEntriesBytes: number;
  /** Campaign in two phases so that a member rejoining after a partition cannot disrupt a
   *  healthy leader. On by default. */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down. On by
   *  default. */
  readonly checkQuorum: boolean;
  /** Simulator only: switch on one deliberately broken rule. */
  readonly mutant?: Mutant;
}
