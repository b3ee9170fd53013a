export {
  type Backend,
  type BackendEntry,
  type BackendReader,
  type BackendWriter,
  type BackendSize,
  type BucketName,
  type RangeOptions,
  type ReclaimReport,
  BUCKET_NAMES,
  encodeUint64,
  decodeUint64,
} from './backend.ts';
export { MemoryBackend } from './memory-backend.ts';
export { LmdbBackend, type LmdbBackendOptions } from './lmdb-backend.ts';
export {
  encodeSnapshot,
  decodeSnapshot,
  SnapshotCorruptError,
  type SnapshotRecord,
} from './snapshot-codec.ts';
