/**
 * The only door from storage to the disk. Everything in src/storage does its file I/O through a
 * `FileSystem`, so the same WAL and snapshot code runs on the real disk (NodeFileSystem) and on
 * the simulator's faulty in-memory disk (FaultyFileSystem) without change.
 *
 * Durability contract (POSIX, and what FaultyFileSystem enforces on crash): a file's bytes are
 * durable only after `FileHandle.sync()`; a create, rename or unlink is durable only after
 * `fsyncDir()` on the directory that holds the name.
 */

/** Error codes a caller may see; they match node's `err.code` so callers can test one way. */
export type FsErrorCode = 'ENOENT' | 'EEXIST' | 'ENOSPC' | 'EIO' | 'ENOTDIR' | 'EISDIR' | 'EBADF';

/** An operating error from the file system: expected, and always handled by the caller. */
export class FsError extends Error {
  override readonly name = 'FsError';
  constructor(
    readonly code: FsErrorCode,
    message: string,
    readonly path: string,
  ) {
    super(`${code}: ${message}, '${path}'`);
  }
}

/** The code of a thrown value if it looks like a node or FsError file-system error. */
export function fsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * How to open a file: `read` and `read-write` need an existing file; `create-exclusive` fails
 * with EEXIST if it exists; `create-truncate` creates or empties it.
 */
export type OpenMode = 'read' | 'read-write' | 'create-exclusive' | 'create-truncate';

export interface FileHandle {
  readonly path: string;
  /** Reads up to `length` bytes at `position` into `target[offset..]`; returns bytes read,
   *  which may be fewer than asked (end of file, or a short read). */
  read(target: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `data` at `position`, extending the file if needed. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Writes all of `data` at the current end of the file. */
  append(data: Uint8Array): Promise<void>;
  /** Makes the file's content durable (fdatasync: data and size, not timestamps). */
  sync(): Promise<void>;
  /** write() then sync() as one call, so the real disk can spend one thread-pool round trip on
   *  it instead of two (the WAL's hot path: every acknowledged batch is one of these). */
  writeAndSync(data: Uint8Array, position: number): Promise<void>;
  /** Sets the file's size, cutting or extending with zeros. */
  truncate(sizeBytes: number): Promise<void>;
  /** Grows the file to at least `sizeBytes` with allocated zero bytes, so that later writes
   *  inside it need no block allocation (cheaper fdatasync, no ENOSPC mid-segment). */
  preallocate(sizeBytes: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileStat {
  readonly sizeBytes: number;
  readonly isDirectory: boolean;
}

export interface FileSystem {
  open(path: string, mode: OpenMode): Promise<FileHandle>;
  /** The whole content of a file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Makes creates, renames and unlinks of names inside directory `path` durable. */
  fsyncDir(path: string): Promise<void>;
  /** Atomically replaces `target` with `source` (both in the same directory in our use). */
  rename(source: string, target: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Names (not paths) of the entries of a directory, sorted. */
  readdir(path: string): Promise<string[]>;
  /** Creates the directory and any missing parents (`mkdir -p`); an existing one is fine. */
  mkdirp(path: string): Promise<void>;
  stat(path: string): Promise<FileStat>;
  exists(path: string): Promise<boolean>;
}
