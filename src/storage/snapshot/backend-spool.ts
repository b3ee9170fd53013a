/**
 * Backend data received with a raft snapshot, spooled to `<data-dir>/member/snap/` before raft
 * sees the snapshot (etcd's `<index>.snap.db`). A raft snapshot file holds only metadata; the
 * state it stands for is the backend. When a follower installs a snapshot from its leader, the
 * raft snapshot is persisted first and the backend replaced after, so a crash in between leaves
 * a member whose snapshot names state its backend lacks. The spool file is that state, durable
 * before the raft snapshot is, and the next start restores the backend from it.
 *
 * Names: `%016x-%016x.snap.db` (term-index of the raft snapshot). A spool is written to a
 * `<name>.<n>.part` file, fsynced, renamed into place and the directory fsynced, so a complete name is
 * always a complete file. `.part` is deliberately not `.tmp`: the Snapshotter removes its own
 * `.tmp` leftovers while a spool may be in progress.
 */
import * as path from 'node:path';
import { assert } from '../../base/index.ts';
import type { FileHandle, FileSystem } from '../fs/index.ts';

const spoolPattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap\.db$/;
const partSuffix = '.part';
/** Bytes per read when streaming a spool file back. */
const READ_CHUNK_BYTES = 1024 * 1024;

export interface SpoolFileName {
  readonly term: number;
  readonly index: number;
  readonly fileName: string;
}

export function formatSpoolName(term: number, index: number): string {
  const hex = (value: number): string => value.toString(16).padStart(16, '0');
  return `${hex(term)}-${hex(index)}.snap.db`;
}

function parseSpoolName(fileName: string): SpoolFileName | null {
  const match = spoolPattern.exec(fileName);
  if (match === null) return null;
  return {
    term: Number.parseInt(match[1], 16),
    index: Number.parseInt(match[2], 16),
    fileName,
  };
}

/** One spool being written. Exactly one of commit() and abort() ends it. */
export class SpoolWriter {
  private position = 0;
  private ended = false;

  constructor(
    private readonly fs: FileSystem,
    private readonly handle: FileHandle,
    private readonly partPath: string,
    readonly finalPath: string,
  ) {}

  get bytesWritten(): number {
    return this.position;
  }

  async write(chunk: Uint8Array): Promise<void> {
    assert(!this.ended, 'write to an ended spool');
    await this.handle.write(chunk, this.position);
    this.position += chunk.length;
  }

  /** Makes the spool durable under its final name. */
  async commit(): Promise<void> {
    assert(!this.ended, 'commit of an ended spool');
    this.ended = true;
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    await this.fs.rename(this.partPath, this.finalPath);
    await this.fs.fsyncDir(path.posix.dirname(this.finalPath));
  }

  /** Drops the partial file (best effort: a leftover `.part` is removed at the next start). */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.handle.close().catch(() => undefined);
    await this.fs.unlink(this.partPath).catch(() => undefined);
  }
}

export class BackendSpool {
  private created = 0;

  constructor(
    private readonly fs: FileSystem,
    readonly directory: string,
  ) {}

  pathOf(term: number, index: number): string {
    return path.posix.join(this.directory, formatSpoolName(term, index));
  }

  async create(term: number, index: number): Promise<SpoolWriter> {
    await this.fs.mkdirp(this.directory);
    const finalPath = this.pathOf(term, index);
    // Unique per spool: a resent snapshot may be spooling while the abandoned first attempt's
    // abort still has to remove its own part file.
    const partPath = `${finalPath}.${++this.created}${partSuffix}`;
    const handle = await this.fs.open(partPath, 'create-truncate');
    return new SpoolWriter(this.fs, handle, partPath, finalPath);
  }

  async exists(term: number, index: number): Promise<boolean> {
    return await this.fs.exists(this.pathOf(term, index));
  }

  /** The spooled bytes, read a chunk at a time (what Backend.restore consumes). */
  async *read(term: number, index: number): AsyncGenerator<Uint8Array> {
    const handle = await this.fs.open(this.pathOf(term, index), 'read');
    try {
      const size = await handle.size();
      let position = 0;
      while (position < size) {
        const chunk = new Uint8Array(Math.min(READ_CHUNK_BYTES, size - position));
        let filled = 0;
        while (filled < chunk.length) {
          const read = await handle.read(chunk, filled, chunk.length - filled, position + filled);
          if (read === 0) throw new Error(`spool ${handle.path} ended early at ${position}`);
          filled += read;
        }
        position += filled;
        yield chunk;
      }
    } finally {
      await handle.close();
    }
  }

  async list(): Promise<SpoolFileName[]> {
    if (!(await this.fs.exists(this.directory))) return [];
    const names: SpoolFileName[] = [];
    for (const fileName of await this.fs.readdir(this.directory)) {
      const name = parseSpoolName(fileName);
      if (name !== null) names.push(name);
    }
    return names;
  }

  /**
   * Deletes complete spools at or below `index` (their state is in the backend, durably) and,
   * with `partial`, unfinished `.part` files (only safe while nothing is receiving: at start).
   * Returns the deleted names.
   */
  async purge(index: number, options: { partial?: boolean } = {}): Promise<string[]> {
    if (!(await this.fs.exists(this.directory))) return [];
    const doomed: string[] = [];
    for (const fileName of await this.fs.readdir(this.directory)) {
      const name = parseSpoolName(fileName);
      if (name !== null && name.index <= index) doomed.push(fileName);
      const isPart = fileName.includes('.snap.db.') && fileName.endsWith(partSuffix);
      if (isPart && options.partial === true) doomed.push(fileName);
    }
    for (const fileName of doomed) await this.fs.unlink(path.posix.join(this.directory, fileName));
    if (doomed.length > 0) await this.fs.fsyncDir(this.directory);
    return doomed;
  }
}
