export {
  Snapshotter,
  SnapshotFileCorruptError,
  snapDirectory,
  formatSnapshotName,
  type SnapshotFileName,
} from './snapshotter.ts';
export { encodeSnapshotFile, decodeSnapshotFile } from './snapshot-codec.ts';
