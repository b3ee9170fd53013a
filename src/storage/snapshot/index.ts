export {
  Snapshotter,
  SnapshotFileCorruptError,
  snapDirectory,
  formatSnapshotName,
  type SnapshotFileName,
} from './snapshotter.ts';
export { encodeSnapshotFile, decodeSnapshotFile } from './snapshot-codec.ts';
export { BackendSpool, SpoolWriter, formatSpoolName, type SpoolFileName } from './backend-spool.ts';
