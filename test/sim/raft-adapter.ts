/**
 * Every place the simulator touches the raft core's API, in one file: building a member's log
 * storage from what its disk recovered, and building a RawNode over it. Members use only the
 * narrow interfaces below, so a change in the core's surface is absorbed here.
 */
import {
  asLogIndex,
  asTerm,
  BugError,
  type LogIndex,
  type MemberId,
  type Random,
} from '../../src/base/index.ts';
import {
  MemoryLogStorage,
  RawNode,
  defaultRaftConfig,
  encodeConfChange,
  NO_MEMBER,
  type Entry,
  type ConfChange,
  type ConfState,
  type Message,
  type Mutant,
  type Ready,
  type Status,
  type StepResult,
} from '../../src/raft/index.ts';
import type { DurableState } from './sim-disk.ts';

export interface RaftNode {
  tick(): void;
  step(message: Message): StepResult;
  propose(data: Uint8Array): StepResult;
  proposeConfChange(change: ConfChange): StepResult;
  readIndex(context: Uint8Array): StepResult;
  transferLeader(target: MemberId): StepResult;
  hasReady(): boolean;
  ready(): Ready;
  advance(): void;
  applyConfChange(change: ConfChange): ConfState;
  reportUnreachable(id: MemberId): void;
  reportSnapshot(id: MemberId, succeeded: boolean): void;
  status(): Status;
}

/** The log storage a member writes and raft reads. */
export type MemberLogStorage = MemoryLogStorage;

/**
 * What a founding member's disk holds before its first start, as etcd bootstraps a cluster: one
 * committed add-voter entry per founder at term 1. The configuration lives in the log itself, so
 * a member that joins later and replays the log from index 1 rebuilds it (the founders' initial
 * ConfState alone would never reach it).
 */
export function bootstrapDurableState(founders: readonly MemberId[]): DurableState {
  const entries: Entry[] = founders.map((memberId, i) => ({
    term: asTerm(1),
    index: asLogIndex(i + 1),
    type: 'conf-change',
    data: encodeConfChange({ type: 'add-voter', memberId, context: new Uint8Array(0) }),
  }));
  return {
    hardState: { term: asTerm(1), vote: NO_MEMBER, commit: asLogIndex(founders.length) },
    snapshot: null,
    entries,
  };
}

/**
 * Rebuilds the in-memory log from the disk. A snapshot proves everything up to its index was
 * committed, so a commit index that lagged behind it on disk (its hard-state write was lost or
 * torn after the snapshot's) is raised to it rather than handed to raft inconsistent.
 */
export function storageFromDisk(durable: DurableState, founders: ConfState): MemberLogStorage {
  const snapshot = durable.snapshot;
  const storage = new MemoryLogStorage(founders);
  if (snapshot !== null && snapshot.metadata.index > 0) {
    const result = storage.applySnapshot(snapshot);
    if (!result.ok) throw new BugError(`recovered snapshot refused: ${result.reason}`);
  }
  if (durable.entries.length > 0) storage.append(durable.entries);
  if (durable.hardState !== null) {
    const snapshotIndex = snapshot === null ? 0 : snapshot.metadata.index;
    const commit = Math.max(durable.hardState.commit, snapshotIndex);
    storage.setHardState({ ...durable.hardState, commit: asLogIndex(commit) });
  }
  return storage;
}

export interface NodeOptions {
  readonly id: MemberId;
  readonly storage: MemberLogStorage;
  readonly applied: LogIndex;
  readonly random: Random;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly mutant: Mutant | null;
}

export function createRaftNode(options: NodeOptions): RaftNode {
  return new RawNode(
    defaultRaftConfig(
      {
        id: options.id,
        storage: options.storage,
        random: options.random,
        applied: options.applied,
      },
      {
        electionTicks: options.electionTicks,
        heartbeatTicks: options.heartbeatTicks,
        maxSizePerMsgBytes: options.maxSizePerMsgBytes,
        maxInflightMsgs: options.maxInflightMsgs,
        ...(options.mutant === null ? {} : { mutant: options.mutant }),
      },
    ),
  );
}
