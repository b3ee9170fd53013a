/**
 * An in-memory disk for tests and the deterministic simulator, with the failure modes of a real
 * one written down as code. Every file keeps its durable bytes (as of its last sync) apart from
 * the unsynced operations since; every directory keeps its durable names apart from the
 * unsynced creates, renames and unlinks since its last fsyncDir. `crash()` is a power cut: it
 * throws away what was not synced, optionally keeping a random prefix of it and tearing the
 * first write it drops. Faults are driven by a seeded Random: no timers, no Math.random, so one
 * seed replays exactly. Simplification: directories themselves are durable once created.
 */
import * as path from 'node:path';
import { assert, type Random } from '../../base/index.ts';
import {
  FsError,
  type FileHandle,
  type FileStat,
  type FileSystem,
  type FsErrorCode,
  type OpenMode,
} from './file-system.ts';
import { Inode } from './inode.ts';

export type FaultyOperation = 'read' | 'write' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'open';

export interface FaultOptions {
  /** Per read call: flip one random bit of the bytes returned (the stored bytes stay intact). */
  readonly readBitFlipProbability: number;
  /** Per read call: return fewer bytes than asked (a legal short read). */
  readonly shortReadProbability: number;
  /** Per write or sync call: fail with EIO and do nothing. */
  readonly ioErrorProbability: number;
  /** Bytes that may still be written (writes and preallocation growth) before ENOSPC. */
  readonly spaceBytes: number;
}

export interface CrashOptions {
  /** `none`: lose every unsynced operation; `random`: keep a random prefix of each file's (and
   *  of the directory log's) unsynced operations; `all`: keep them all (a clean shutdown). */
  readonly keepUnsynced: 'none' | 'random' | 'all';
  /** Also keep a random prefix of the first unsynced write that is otherwise lost. */
  readonly tornWrite: boolean;
}

type NameOperation =
  | { readonly kind: 'link'; readonly name: string; readonly inode: Inode }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly source: string; readonly target: string };

const noFaults: FaultOptions = {
  readBitFlipProbability: 0,
  shortReadProbability: 0,
  ioErrorProbability: 0,
  spaceBytes: Number.MAX_SAFE_INTEGER,
};

function nameDirectory(operation: NameOperation): string {
  return path.posix.dirname(operation.kind === 'rename' ? operation.target : operation.name);
}

function applyNameOperation(names: Map<string, Inode>, operation: NameOperation): void {
  if (operation.kind === 'link') names.set(operation.name, operation.inode);
  if (operation.kind === 'unlink') names.delete(operation.name);
  if (operation.kind === 'rename') {
    const inode = names.get(operation.source);
    // A rename whose source create was itself lost leaves nothing to move.
    if (inode === undefined) return;
    names.delete(operation.source);
    names.set(operation.target, inode);
  }
}

export class FaultyFileSystem implements FileSystem {
  private readonly directories = new Set<string>(['/']);
  private readonly durableNames = new Map<string, Inode>();
  private readonly names = new Map<string, Inode>();
  private pendingNameOperations: NameOperation[] = [];
  private faults: FaultOptions = noFaults;
  private readonly failures: { operation: FaultyOperation; code: FsErrorCode }[] = [];
  /** Bumped by crash(): handles from before a crash belong to a dead process. */
  private generation = 0;
  private mutationsLeft = Number.POSITIVE_INFINITY;
  /** Mutating operations performed so far; tests use it to enumerate crash points. */
  mutationCount = 0;

  constructor(private readonly random: Random) {}

  setFaults(faults: Partial<FaultOptions>): void {
    this.faults = { ...this.faults, ...faults };
    assert(this.faults.spaceBytes >= 0, 'spaceBytes must not be negative');
  }

  /** The next `operation` fails with `code` (one-shot, in the order registered). */
  failNext(operation: FaultyOperation, code: FsErrorCode): void {
    this.failures.push({ operation, code });
  }

  /** After `mutations` more mutating operations, every operation fails with EIO (the process
   *  is dying); call crash() next. Used to place a crash at every point of a run. */
  haltAfter(mutations: number): void {
    assert(Number.isInteger(mutations) && mutations >= 0, 'haltAfter: bad count');
    this.mutationsLeft = mutations;
  }

  crash(options: CrashOptions = { keepUnsynced: 'none', tornWrite: false }): void {
    this.generation++;
    this.mutationsLeft = Number.POSITIVE_INFINITY;
    this.failures.length = 0;
    const keptNames = this.keptCount(this.pendingNameOperations.length, options);
    for (const operation of this.pendingNameOperations.slice(0, keptNames)) {
      applyNameOperation(this.durableNames, operation);
    }
    this.pendingNameOperations = [];
    this.names.clear();
    for (const [name, inode] of this.durableNames) this.names.set(name, inode);
    const inodes = new Set(this.durableNames.values());
    for (const inode of inodes) {
      const kept = this.keptCount(inode.pending.length, options);
      inode.crash(kept, options.tornWrite ? this.random : null);
    }
  }

  /** Flips one bit of a file's stored bytes, durable and current alike (bit rot). */
  flipBit(filePath: string, offset: number, bit: number = this.random.int(8)): void {
    const inode = this.names.get(filePath);
    if (inode === undefined) throw new FsError('ENOENT', 'no such file', filePath);
    assert(bit >= 0 && bit < 8, 'flipBit: bit out of range');
    inode.flipBit(offset, bit);
  }

  /** The current (not necessarily durable) size of a file, for tests. */
  sizeOf(filePath: string): number {
    const inode = this.names.get(filePath);
    if (inode === undefined) throw new FsError('ENOENT', 'no such file', filePath);
    return inode.current.size;
  }

  async open(filePath: string, mode: OpenMode): Promise<FileHandle> {
    this.check('open', filePath, mode !== 'read');
    let inode = this.names.get(filePath);
    if (mode === 'create-exclusive' && inode !== undefined) {
      throw new FsError('EEXIST', 'file exists', filePath);
    }
    if ((mode === 'read' || mode === 'read-write') && inode === undefined) {
      throw new FsError('ENOENT', 'no such file', filePath);
    }
    if (inode === undefined) {
      this.requireDirectory(path.posix.dirname(filePath), filePath);
      inode = new Inode();
      this.linkName({ kind: 'link', name: filePath, inode });
    } else if (mode === 'create-truncate') {
      inode.truncate(0);
    }
    return new FaultyFileHandle(this, filePath, inode, this.generation, mode === 'read');
  }

  async readFile(filePath: string): Promise<Uint8Array> {
    const handle = await this.open(filePath, 'read');
    const size = await handle.size();
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const got = await handle.read(bytes, done, size - done, done);
      assert(got > 0, 'readFile: no progress');
      done += got;
    }
    return bytes;
  }

  async fsyncDir(directory: string): Promise<void> {
    this.check('sync', directory, true);
    this.requireDirectory(directory, directory);
    const remaining: NameOperation[] = [];
    for (const operation of this.pendingNameOperations) {
      if (nameDirectory(operation) === directory) applyNameOperation(this.durableNames, operation);
      else remaining.push(operation);
    }
    this.pendingNameOperations = remaining;
  }

  async rename(source: string, target: string): Promise<void> {
    this.check('rename', source, true);
    if (!this.names.has(source)) throw new FsError('ENOENT', 'no such file', source);
    this.requireDirectory(path.posix.dirname(target), target);
    this.linkName({ kind: 'rename', source, target });
  }

  async unlink(filePath: string): Promise<void> {
    this.check('unlink', filePath, true);
    if (!this.names.has(filePath)) throw new FsError('ENOENT', 'no such file', filePath);
    this.linkName({ kind: 'unlink', name: filePath });
  }

  async readdir(directory: string): Promise<string[]> {
    this.requireDirectory(directory, directory);
    const entries: string[] = [];
    for (const name of this.names.keys()) {
      if (path.posix.dirname(name) === directory) entries.push(path.posix.basename(name));
    }
    for (const name of this.directories) {
      if (name !== '/' && path.posix.dirname(name) === directory) {
        entries.push(path.posix.basename(name));
      }
    }
    return entries.sort();
  }

  async mkdirp(directory: string): Promise<void> {
    assert(path.posix.isAbsolute(directory), 'paths must be absolute');
    for (let at = path.posix.normalize(directory); at !== '/'; at = path.posix.dirname(at)) {
      if (this.names.has(at)) throw new FsError('ENOTDIR', 'a file is in the way', at);
      this.directories.add(at);
    }
  }

  async stat(filePath: string): Promise<FileStat> {
    if (this.directories.has(filePath)) return { sizeBytes: 0, isDirectory: true };
    const inode = this.names.get(filePath);
    if (inode === undefined) throw new FsError('ENOENT', 'no such file', filePath);
    return { sizeBytes: inode.current.size, isDirectory: false };
  }

  async exists(filePath: string): Promise<boolean> {
    return this.directories.has(filePath) || this.names.has(filePath);
  }

  /** Common gate of every operation: stale handles, the halt point, injected errors. */
  check(
    operation: FaultyOperation | null,
    filePath: string,
    mutates: boolean,
    generation?: number,
  ): void {
    if (generation !== undefined && generation !== this.generation) {
      throw new FsError('EBADF', 'handle from before a crash', filePath);
    }
    if (mutates) {
      if (this.mutationsLeft <= 0) throw new FsError('EIO', 'halted before a crash', filePath);
      this.mutationsLeft--;
      this.mutationCount++;
    }
    if (operation === null) return;
    const index = this.failures.findIndex((failure) => failure.operation === operation);
    if (index >= 0) {
      const [failure] = this.failures.splice(index, 1);
      throw new FsError(failure.code, `injected ${operation} failure`, filePath);
    }
    const ioFaulty = operation === 'write' || operation === 'sync';
    if (ioFaulty && this.faults.ioErrorProbability > 0) {
      if (this.random.chance(this.faults.ioErrorProbability)) {
        throw new FsError('EIO', `injected ${operation} error`, filePath);
      }
    }
  }

  /** Takes up to `bytes` of free space; returns how many were granted (ENOSPC beyond). */
  reserveSpace(bytes: number): number {
    const granted = Math.min(bytes, this.faults.spaceBytes);
    this.faults = { ...this.faults, spaceBytes: this.faults.spaceBytes - granted };
    return granted;
  }

  readFaults(): FaultOptions {
    return this.faults;
  }

  chance(probability: number): boolean {
    return probability > 0 && this.random.chance(probability);
  }

  int(maxExclusive: number): number {
    return this.random.int(maxExclusive);
  }

  private keptCount(pendingCount: number, options: CrashOptions): number {
    if (options.keepUnsynced === 'all') return pendingCount;
    if (options.keepUnsynced === 'none') return 0;
    return this.random.int(pendingCount + 1);
  }

  private linkName(operation: NameOperation): void {
    applyNameOperation(this.names, operation);
    this.pendingNameOperations.push(operation);
  }

  private requireDirectory(directory: string, filePath: string): void {
    if (!this.directories.has(directory)) {
      throw new FsError('ENOENT', 'no such directory', filePath);
    }
  }
}

class FaultyFileHandle implements FileHandle {
  private closed = false;

  constructor(
    private readonly fs: FaultyFileSystem,
    readonly path: string,
    private readonly inode: Inode,
    private readonly generation: number,
    private readonly readOnly: boolean,
  ) {}

  async read(target: Uint8Array, offset: number, length: number, position: number) {
    this.gate('read', false);
    assert(offset >= 0 && length >= 0 && offset + length <= target.length, 'read: bad range');
    let count = Math.max(0, Math.min(length, this.inode.current.size - position));
    const faults = this.fs.readFaults();
    if (count > 1 && this.fs.chance(faults.shortReadProbability)) count = 1 + this.fs.int(count);
    target.set(this.inode.current.bytes.subarray(position, position + count), offset);
    if (count > 0 && this.fs.chance(faults.readBitFlipProbability)) {
      target[offset + this.fs.int(count)] ^= 1 << this.fs.int(8);
    }
    return count;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.gate('write', true);
    assert(position >= 0, 'write: negative position');
    const growth = Math.max(0, position + data.length - this.inode.current.size);
    const granted = this.fs.reserveSpace(growth);
    if (granted < growth) {
      // Like a real disk filling up: what fits is written, then the call fails.
      const fits = Math.max(0, this.inode.current.size + granted - position);
      if (fits > 0) this.inode.write(new Uint8Array(data.subarray(0, fits)), position);
      throw new FsError('ENOSPC', 'no space left on device', this.path);
    }
    // A copy, as the page cache takes one: `Buffer#slice` would only alias the caller's bytes,
    // and a caller that reuses its buffer after an unsynced write (the WAL does) would
    // otherwise rewrite history that a crash then replays.
    this.inode.write(new Uint8Array(data), position);
  }

  async append(data: Uint8Array): Promise<void> {
    await this.write(data, this.inode.current.size);
  }

  async sync(): Promise<void> {
    this.gate('sync', true);
    this.inode.sync();
  }

  async writeAndSync(data: Uint8Array, position: number): Promise<void> {
    await this.write(data, position);
    await this.sync();
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.gate('truncate', true);
    assert(sizeBytes >= 0, 'truncate: negative size');
    const growth = Math.max(0, sizeBytes - this.inode.current.size);
    if (this.fs.reserveSpace(growth) < growth) {
      throw new FsError('ENOSPC', 'no space left on device', this.path);
    }
    this.inode.truncate(sizeBytes);
  }

  async preallocate(sizeBytes: number): Promise<void> {
    if (sizeBytes <= this.inode.current.size) return;
    await this.truncate(sizeBytes);
  }

  async size(): Promise<number> {
    this.gate(null, false);
    return this.inode.current.size;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private gate(operation: FaultyOperation | null, mutates: boolean): void {
    if (this.closed) throw new FsError('EBADF', 'handle is closed', this.path);
    if (mutates && this.readOnly) throw new FsError('EBADF', 'opened read-only', this.path);
    this.fs.check(operation, this.path, mutates, this.generation);
  }
}
