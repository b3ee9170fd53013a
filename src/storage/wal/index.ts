export {
  Wal,
  createWal,
  openWal,
  walExists,
  walDirectory,
  defaultSegmentBytes,
  type OpenedWal,
  type WalOptions,
} from './wal.ts';
export { WalCorruptError, WalFailedError } from './wal-errors.ts';
export type { WalRecord, WalSnapshotMarker } from './wal-record.ts';
export type { AppendOptions, WalStats } from './wal-writer.ts';
export { formatSegmentName, parseSegmentName, type SegmentName } from './segment-name.ts';
