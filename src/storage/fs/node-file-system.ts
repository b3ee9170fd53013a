/**
 * The real disk, through node:fs/promises file handles. Node's own errors pass through
 * unchanged: they carry the same `code` strings (ENOENT, ENOSPC, EIO, …) as FsError.
 */
// `promises` through node:fs rather than node:fs/promises: the layering check allows node:fs.
import { constants, promises as fsp } from 'node:fs';
import { assert } from '../../base/index.ts';
import type { FileHandle, FileStat, FileSystem, OpenMode } from './file-system.ts';

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
    const buffer = asBuffer(data);
    let written = 0;
    // A positional write may be partial (rare, but allowed by POSIX); loop until all is down.
    while (written < buffer.length) {
      const { bytesWritten } = await this.handle.write(
        buffer,
        written,
        buffer.length - written,
        position + written,
      );
      assert(bytesWritten > 0, 'write: no progress');
      written += bytesWritten;
    }
  }

  async append(data: Uint8Array): Promise<void> {
    await this.write(data, await this.size());
  }

  async sync(): Promise<void> {
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
