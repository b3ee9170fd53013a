export * from './types.ts';
export { MvccError, MVCC_ERROR_MESSAGES, type MvccErrorCode, isMvccError } from './errors.ts';
export {
  KvStore,
  type KvStoreOptions,
  type KvWriter,
  type BatchResult,
  type CommittedRevision,
  DEFAULT_MAX_TXN_OPS,
} from './kv-store.ts';
export { hashKv, crc32c } from './hash.ts';
export { WatchableStore, type WatchableStoreOptions } from './watchable-store.ts';
export { Watcher, type WatchOptions, type WatchResponse, type WatchFilter } from './watcher.ts';
// Read-only codecs for backup/restore (src/backup translates etcd's records to and from these).
export { encodeKeyValue, decodeKeyValue } from './kv-codec.ts';
export { encodeRevisionKey, decodeRevisionKey, packRevision, mainOf, subOf } from './revision.ts';
