export {
  FsError,
  fsErrorCode,
  type FileHandle,
  type FileStat,
  type FileSystem,
  type FsErrorCode,
  type OpenMode,
} from './file-system.ts';
export { NodeFileSystem } from './node-file-system.ts';
export {
  FaultyFileSystem,
  type CrashOptions,
  type FaultOptions,
  type FaultyOperation,
} from './faulty-file-system.ts';
