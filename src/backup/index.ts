/**
 * Backup and restore in etcd's own snapshot format: a bbolt reader and writer, the translation
 * between Sigil's backend and etcd's buckets, and snapshot files (status, verification).
 */
export { BboltWriter, BucketBuilder, type PageSink, type FinishedBucket } from './bbolt-writer.ts';
export {
  BboltReader,
  BboltCorruptError,
  BytesPageSource,
  FilePageSource,
  type PageSource,
  type BboltEntry,
  type BucketRef,
} from './bbolt-reader.ts';
export { type ExportSummary, SnapshotExportError, writeEtcdDatabase } from './etcd-export.ts';
export {
  spoolEtcdSnapshot,
  withoutSha256Trailer,
  type EtcdSnapshot,
  SHA256_BYTES,
} from './etcd-snapshot-export.ts';
export {
  SnapshotFileError,
  snapshotStatus,
  verifySnapshotFile,
  openSnapshotDatabase,
  type HashPolicy,
  type SnapshotStatus,
  type VerifiedSnapshotFile,
} from './snapshot-file.ts';
export {
  importEtcdDatabase,
  emptyImportSummary,
  SnapshotImportError,
  type ImportSummary,
} from './etcd-import.ts';
