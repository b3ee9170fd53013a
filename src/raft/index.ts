/** The public surface of the consensus core. */
export { RawNode } from './raw-node.ts';
export { MemoryLogStorage, type StorageWriteResult } from './memory-log-storage.ts';
export type { RaftConfig } from './config.ts';
export {
  defaultRaftConfig,
  validateRaftConfig,
  type RaftConfigEssentials,
} from './config-validation.ts';
export type { InitialState, LogStorage, LogStorageError } from './log-storage.ts';
export { encodeConfChange, decodeConfChange, nextConfState } from './conf-change.ts';
export { majorityCommittedIndex, voteResult, majoritySize, type VoteResult } from './quorum.ts';
export { makeMessage, isLocalMessage, type MessageDraft } from './messages.ts';
export {
  describeBytes,
  describeConfState,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMemberIds,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
} from './describe.ts';
export * from './types.ts';
