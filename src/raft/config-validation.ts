/** Rejects nonsensical configurations before a member exists, and fills tunable defaults. */
import { asLogIndex, type LogIndex, type MemberId, type Random } from '../base/index.ts';
import type { RaftConfig } from './config.ts';
import type { LogStorage } from './log-storage.ts';
import { MUTANTS, NO_MEMBER } from './types.ts';

/** Every problem found, empty when the config is usable. */
export function validateRaftConfig(config: RaftConfig): string[] {
  const problems: string[] = [];
  const positiveInteger = (name: keyof RaftConfig, value: number): void => {
    if (!Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${name} must be a positive integer, got ${value}`);
    }
  };
  if (config.id === NO_MEMBER) problems.push('id must not be 0 (it means "no member")');
  positiveInteger('electionTicks', config.electionTicks);
  positiveInteger('heartbeatTicks', config.heartbeatTicks);
  positiveInteger('maxSizePerMsgBytes', config.maxSizePerMsgBytes);
  positiveInteger('maxInflightMsgs', config.maxInflightMsgs);
  positiveInteger('maxCommittedSizePerReadyBytes', config.maxCommittedSizePerReadyBytes);
  positiveInteger('maxUncommittedEntriesBytes', config.maxUncommittedEntriesBytes);
  if (config.electionTicks <= config.heartbeatTicks) {
    problems.push('electionTicks must be greater than heartbeatTicks');
  }
  if (!Number.isSafeInteger(config.applied) || config.applied < 0) {
    problems.push(`applied must be a natural, got ${config.applied}`);
  } else {
    const commit = config.storage.initialState().hardState.commit;
    const snapshotIndex = config.storage.firstIndex() - 1;
    if (config.applied > Math.max(commit, snapshotIndex)) {
      problems.push(`applied ${config.applied} is past the commit index ${commit}`);
    }
    // The application's state starts at least at the snapshot it recovered from.
    if (config.applied !== 0 && config.applied < snapshotIndex) {
      problems.push(`applied ${config.applied} is below the snapshot index ${snapshotIndex}`);
    }
  }
  if (config.mutant !== undefined && !MUTANTS.includes(config.mutant)) {
    problems.push(`unknown mutant ${String(config.mutant)}`);
  }
  return problems;
}

export interface RaftConfigEssentials {
  readonly id: MemberId;
  readonly storage: LogStorage;
  readonly random: Random;
  readonly applied?: LogIndex;
}

/** A full config with etcd's defaults, scaled to ticks (heartbeat 100 ms = 1 tick). */
export function defaultRaftConfig(
  essentials: RaftConfigEssentials,
  overrides: Partial<RaftConfig> = {},
): RaftConfig {
  return {
    applied: asLogIndex(0),
    electionTicks: 10,
    heartbeatTicks: 1,
    maxSizePerMsgBytes: 1024 * 1024,
    maxInflightMsgs: 256,
    maxCommittedSizePerReadyBytes: 64 * 1024 * 1024,
    maxUncommittedEntriesBytes: 1024 * 1024 * 1024,
    preVote: true,
    checkQuorum: true,
    ...essentials,
    ...overrides,
  };
}
