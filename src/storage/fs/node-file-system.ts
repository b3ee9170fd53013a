/**
 * The real disk, through node:fs/promises file handles. Node's own errors pass through
 * unchanged: they carry the same `code` strings (ENOENT, ENOSPC, EIO, …) as FsError.
 */
// `promises` through node:fs rather than node:fs/promises: the layering check allows node:fs.
import { constants, promises as fsp, writeSync } from 'node:fs';
import { assert } from '../../base/index.ts';
import {
  FsError,
  type FileHandle,
  type FileStat,
  type FileSystem,
  type OpenMode,
} from './file-system.ts';

/** Zero-fill in chunks of this size, so preallocating a 64 MiB segment never holds 64 MiB. */
const preallocateChunkBytes = 1024 * 1024;
let zeroChunk: Buffer | null = null;

const openFlags: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  'read-write': constants.O_RDWR,
  'create-exclusive': constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
  'create-truncate': constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC,
};

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes all of `buffer` at `position`: a positional write may be partial (rare, but allowed by
 * POSIX), so it loops until everything is down.
 */
async function writeAll(
  buffer: Buffer,
  position: number,
  writeSome: (
    buffer: Buffer,
    offset: number,
    length: number,
    at: number,
  ) => Promise<number> | number,
): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const bytesWritten = await writeSome(
      buffer,
      written,
      buffer.length - written,
      position + written,
    );
    assert(bytesWritten > 0, 'write: no progress');
    written += bytesWritten;
  }
}

class NodeFileHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
  ) {}

  async read(target: Uint8Array, offset: number, length: number, position: number) {
    assert(offset >= 0 && length >= 0 && offset + length <= target.length, 'read: bad range');
    assert(position >= 0, 'read: negative position');
    const { bytesRead } = await this.handle.read(target, offset, length, position);
    return bytesRead;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    assert(position >= 0, 'write: negative position');
    await writeAll(asBuffer(data), position, async (buffer, offset, length, at) => {
      const { bytesWritten } = await this.handle.write(buffer, offset, length, at);
      return bytesWritten;
    });
  }

  async append(data: Uint8Array): Promise<void> {
    await this.write(data, await this.size());
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  /**
   * The write is synchronous, the fdatasync is not. Copying a batch into the page cache takes
   * microseconds, while each thread-pool operation costs a wake-up of a pool thread and then of
   * the event loop; on a busy machine those two scheduler round trips, not the copy, were most
   * of the WAL's write time. Only the fdatasync, which waits for the device, leaves the loop.
   */
  async writeAndSync(data: Uint8Array, position: number): Promise<void> {
    assert(position >= 0, 'write: negative position');
    // A closed fs/promises handle reports fd -1, which writeSync would refuse as out of range.
    if (this.handle.fd < 0) throw new FsError('EBADF', 'file handle is closed', this.path);
    const fd = this.handle.fd;
    await writeAll(asBuffer(data), position, (buffer, offset, length, at) =>
      writeSync(fd, buffer, offset, length, at),
    );
    await this.handle.datasync();
  }

  async truncate(sizeBytes: number): Promise<void> {
    assert(sizeBytes >= 0, 'truncate: negative size');
    await this.handle.truncate(sizeBytes);
  }

  async preallocate(sizeBytes: number): Promise<void> {
    // Node has no fallocate; writing real zeros allocates the blocks (ftruncate would leave a
    // sparse hole, and every later fdatasync would then also have to commit block allocation).
    zeroChunk ??= Buffer.alloc(preallocateChunkBytes);
    let position = await this.size();
    while (position < sizeBytes) {
      const length = Math.min(preallocateChunkBytes, sizeBytes - position);
      await this.write(zeroChunk.subarray(0, length), position);
      position += length;
    }
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class NodeFileSystem implements FileSystem {
  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    return new NodeFileHandle(path, await fsp.open(path, openFlags[mode], 0o600));
  }

  async readFile(path: string): Promise<Uint8Array> {
    return await fsp.readFile(path);
  }

  async fsyncDir(path: string): Promise<void> {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async rename(source: string, target: string): Promise<void> {
    await fsp.rename(source, target);
  }

  async unlink(path: string): Promise<void> {
    await fsp.unlink(path);
  }

  async readdir(path: string): Promise<string[]> {
    return (await fsp.readdir(path)).sort();
  }

  async mkdirp(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 });
  }

  async stat(path: string): Promise<FileStat> {
    const stats = await fsp.stat(path);
    return { sizeBytes: stats.size, isDirectory: stats.isDirectory() };
  }

  async exists(path: string): Promise<boolean> {
    try {
      await fsp.stat(path);
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return false;
      throw error;
    }
  }
}
