/**
 * Snapshot files in `<data-dir>/member/snap/`, named like etcd's `%016x-%016x.snap` (term-index).
 * A snapshot is written atomically: to a temporary file, fsynced, renamed into place, and the
 * directory fsynced. A crash at any point leaves either the complete new file or no new file,
 * and never touches older snapshots.
 */
import * as path from 'node:path';
import { assert, asLogIndex, asTerm, type LogIndex, type Term } from '../../base/index.ts';
import type { Snapshot } from '../../raft/types.ts';
import type { FileSystem } from '../fs/index.ts';
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-codec.ts';

export class SnapshotFileCorruptError extends Error {
  override readonly name = 'SnapshotFileCorruptError';
  readonly code = 'ESNAPCORRUPT';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`snapshot: corrupt file ${file}: ${reason}`);
  }
}

export interface SnapshotFileName {
  readonly term: Term;
  readonly index: LogIndex;
  readonly fileName: string;
}

const namePattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const temporarySuffix = '.tmp';

export const snapDirectory = (dataDirectory: string): string =>
  path.posix.join(dataDirectory, 'member', 'snap');

export function formatSnapshotName(term: number, index: number): string {
  const hex = (value: number): string => value.toString(16).padStart(16, '0');
  return `${hex(term)}-${hex(index)}.snap`;
}

function parseSnapshotName(fileName: string): SnapshotFileName | null {
  const match = namePattern.exec(fileName);
  if (match === null) return null;
  const term = asTerm(Number.parseInt(match[1], 16));
  const index = asLogIndex(Number.parseInt(match[2], 16));
  return { term, index, fileName };
}

export class Snapshotter {
  constructor(
    private readonly fs: FileSystem,
    readonly directory: string,
  ) {}

  /** Writes `snapshot` durably; returns its path. */
  async save(snapshot: Snapshot): Promise<string> {
    const { index, term } = snapshot.metadata;
    const bytes = encodeSnapshotFile(snapshot);
    // Pair assertion: what we are about to write must read back as what we were given.
    const check = decodeSnapshotFile(bytes);
    assert(typeof check !== 'string' && check.metadata.index === index, 'snapshot round-trips');
    await this.fs.mkdirp(this.directory);
    const fileName = formatSnapshotName(term, index);
    const target = path.posix.join(this.directory, fileName);
    const temporary = target + temporarySuffix;
    const handle = await this.fs.open(temporary, 'create-truncate');
    try {
      await handle.write(bytes, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.fs.rename(temporary, target);
    await this.fs.fsyncDir(this.directory);
    return target;
  }

  /** Snapshot files, newest (highest index, then term) first. */
  async list(): Promise<SnapshotFileName[]> {
    if (!(await this.fs.exists(this.directory))) return [];
    const names: SnapshotFileName[] = [];
    for (const fileName of await this.fs.readdir(this.directory)) {
      const name = parseSnapshotName(fileName);
      if (name !== null) names.push(name);
    }
    return names.sort((left, right) => right.index - left.index || right.term - left.term);
  }

  /** The newest snapshot, or null if there is none. A corrupt newest file is an error (we do
   *  not fall back to an older one: the WAL may no longer hold the entries in between). */
  async loadNewest(): Promise<Snapshot | null> {
    const [newest] = await this.list();
    if (newest === undefined) return null;
    return await this.load(newest.fileName);
  }

  async load(fileName: string): Promise<Snapshot> {
    const file = path.posix.join(this.directory, fileName);
    const name = parseSnapshotName(fileName);
    assert(name !== null, `not a snapshot file name: ${fileName}`);
    const decoded = decodeSnapshotFile(await this.fs.readFile(file));
    if (typeof decoded === 'string') throw new SnapshotFileCorruptError(file, decoded);
    if (decoded.metadata.index !== name.index || decoded.metadata.term !== name.term) {
      throw new SnapshotFileCorruptError(file, 'content does not match the file name');
    }
    return decoded;
  }

  /** Deletes all but the newest `retain` snapshot files and any leftover temporary files;
   *  returns the deleted names. */
  async purge(retain: number): Promise<string[]> {
    assert(Number.isInteger(retain) && retain >= 1, 'keep at least one snapshot');
    if (!(await this.fs.exists(this.directory))) return [];
    const doomed = (await this.list()).slice(retain).map((name) => name.fileName);
    for (const fileName of await this.fs.readdir(this.directory)) {
      if (fileName.endsWith(temporarySuffix)) doomed.push(fileName);
    }
    for (const fileName of doomed) await this.fs.unlink(path.posix.join(this.directory, fileName));
    if (doomed.length > 0) await this.fs.fsyncDir(this.directory);
    return doomed;
  }
}
