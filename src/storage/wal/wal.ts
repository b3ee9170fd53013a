/**
 * The write-ahead log: create it, open (recover) it, and append raft state to it.
 *
 * Layout (etcd's): `<data-dir>/member/wal/%016x-%016x.wal` segments (sequence-firstIndex), plus
 * `segment.tmp`, the next segment being preallocated. Recovery reads every segment in order,
 * checks the crc chain across them, cuts a torn tail off the last one (it was never
 * acknowledged), and stops with a WalCorruptError naming the file and offset on anything else.
 */
import * as path from 'node:path';
import { assert, asLogIndex, asTerm, type LogIndex } from '../../base/index.ts';
import type { Entry, HardState } from '../../raft/types.ts';
import type { FileSystem } from '../fs/index.ts';
import { RecoveredLog } from './recovered-log.ts';
import { scanSegment, type ScannedSegment } from './segment-scanner.ts';
import { encodeHeaderRecords, installSegment, prepareSpare } from './segment-file.ts';
import { readSegmentBytes } from './segment-reader.ts';
import {
  formatSegmentName,
  listSegments,
  spareSegmentName,
  type SegmentName,
} from './segment-name.ts';
import { WalCorruptError } from './wal-errors.ts';
import type { WalRecord, WalSnapshotMarker } from './wal-record.ts';
import { WalWriter, type AppendOptions, type WalStats } from './wal-writer.ts';

export const defaultSegmentBytes = 64 * 1024 * 1024;

export interface WalOptions {
  /** Size of each preallocated segment (default 64 MiB; tests use a few KiB). */
  readonly segmentBytes?: number;
  /** See WalWriterOptions.yieldToAppenders; default: one event-loop turn (setImmediate). */
  readonly yieldToAppenders?: () => Promise<void>;
}

export interface OpenedWal {
  readonly wal: Wal;
  readonly metadata: Uint8Array;
  readonly hardState: HardState;
  /** The latest snapshot the WAL knows to be durable ({0, 0} if none). */
  readonly snapshot: WalSnapshotMarker;
  /** The entries after `snapshot`, contiguous. */
  readonly entries: readonly Entry[];
}

export const walDirectory = (dataDirectory: string): string =>
  path.posix.join(dataDirectory, 'member', 'wal');

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Wal {
  constructor(private readonly writer: WalWriter) {}

  /** Appends entries, then the hard state; resolves when they are durable. With
   *  `{sync: false}` (raft's MustSync=false) it resolves once they are written, unsynced. */
  save(
    hardState: HardState | null,
    entries: readonly Entry[],
    options: AppendOptions = {},
  ): Promise<void> {
    const sync = options.sync ?? true;
    const records: WalRecord[] = [];
    for (const entry of entries) records.push({ kind: 'entry', entry });
    if (hardState !== null) records.push({ kind: 'hard-state', hardState });
    if (records.length === 0) return sync ? this.writer.sync() : Promise.resolve();
    return this.writer.append(records, { sync });
  }

  /** Records that a snapshot at `marker` is durable (write the snapshot file first). */
  saveSnapshot(marker: WalSnapshotMarker): Promise<void> {
    return this.writer.append([{ kind: 'snapshot', snapshot: marker }]);
  }

  append(records: readonly WalRecord[]): Promise<void> {
    return this.writer.append(records);
  }

  /** Deletes segments holding only entries ≤ `index`; returns how many were deleted. */
  releaseTo(index: LogIndex): Promise<number> {
    return this.writer.releaseTo(index);
  }

  failed(): Error | null {
    return this.writer.failed();
  }

  stats(): Readonly<WalStats> {
    return this.writer.stats;
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

export async function walExists(fs: FileSystem, directory: string): Promise<boolean> {
  if (!(await fs.exists(directory))) return false;
  return listSegments(await fs.readdir(directory)).length > 0;
}

/** Creates an empty WAL whose segments carry `metadata`, and opens it. */
export async function createWal(
  fs: FileSystem,
  directory: string,
  metadata: Uint8Array,
  options: WalOptions = {},
): Promise<OpenedWal> {
  const segmentBytes = options.segmentBytes ?? defaultSegmentBytes;
  await fs.mkdirp(directory);
  await fs.fsyncDir(path.posix.dirname(directory));
  if (await walExists(fs, directory)) throw new Error(`wal: already exists in ${directory}`);
  const header = encodeHeaderRecords(
    [
      { kind: 'crc-seed', previousCrc: 0 },
      { kind: 'metadata', data: metadata },
      { kind: 'snapshot', snapshot: { index: asLogIndex(0), term: asTerm(0) } },
      { kind: 'hard-state', hardState: new RecoveredLog().hardState },
    ],
    0,
  );
  const spare = await prepareSpare(fs, directory, segmentBytes);
  const first = { sequence: 0, firstIndex: asLogIndex(0) };
  const segment = await installSegment(fs, directory, spare, first, header.bytes, segmentBytes);
  await segment.handle.close();
  return await openWal(fs, directory, options);
}

/** Recovers the WAL in `directory` and returns its content and a writer at its end. */
export async function openWal(
  fs: FileSystem,
  directory: string,
  options: WalOptions = {},
): Promise<OpenedWal> {
  const listing = await fs.readdir(directory);
  if (listing.includes(spareSegmentName)) {
    await fs.unlink(path.posix.join(directory, spareSegmentName));
  }
  const segments = listSegments(listing);
  if (segments.length === 0) throw new Error(`wal: no segments in ${directory}`);
  const log = new RecoveredLog();
  let previousCrc: number | null = null;
  let last: ScannedSegment | null = null;
  for (let i = 0; i < segments.length; i++) {
    const file = path.posix.join(directory, formatSegmentName(segments[i]));
    if (segments[i].sequence !== segments[0].sequence + i) {
      throw new WalCorruptError(file, 0, 'a segment before this one is missing');
    }
    const isLast = i === segments.length - 1;
    last = await readSegment(fs, file, isLast, previousCrc, log);
    previousCrc = last.lastCrc;
  }
  assert(last !== null, 'at least one segment was read');
  const problem = log.finish();
  if (problem !== null) throw new WalCorruptError(directory, 0, problem);
  if (log.metadata === null) throw new WalCorruptError(directory, 0, 'no metadata record');
  const writer = await openWriter(fs, directory, segments[segments.length - 1], last, log, {
    segmentBytes: options.segmentBytes ?? defaultSegmentBytes,
    yieldToAppenders: options.yieldToAppenders ?? nextTurn,
  });
  return {
    wal: new Wal(writer),
    metadata: log.metadata,
    hardState: log.hardState,
    snapshot: log.snapshot,
    entries: log.entries,
  };
}

async function readSegment(
  fs: FileSystem,
  file: string,
  isLast: boolean,
  previousCrc: number | null,
  log: RecoveredLog,
): Promise<ScannedSegment> {
  const scanned = scanSegment(await readSegmentBytes(fs, file), file, isLast, previousCrc);
  if (scanned.records.length === 0) {
    throw new WalCorruptError(file, 0, 'segment has no header records');
  }
  for (const record of scanned.records) {
    const problem = log.apply(record);
    // The checksums held, so an inconsistent sequence means a bug or a foreign file.
    if (problem !== null) throw new WalCorruptError(file, scanned.validEndOffset, problem);
  }
  return scanned;
}

async function openWriter(
  fs: FileSystem,
  directory: string,
  name: SegmentName,
  scanned: ScannedSegment,
  log: RecoveredLog,
  options: { segmentBytes: number; yieldToAppenders: () => Promise<void> },
): Promise<WalWriter> {
  const file = path.posix.join(directory, formatSegmentName(name));
  const handle = await fs.open(file, 'read-write');
  const sizeBytes = await handle.size();
  assert(scanned.validEndOffset <= sizeBytes, 'valid data lies within the file');
  if (scanned.torn) {
    // Zero the torn tail (cut, then re-extend with zeros) and make that durable before any
    // new record lands there: stale bytes after new records would later read as corruption.
    await handle.truncate(scanned.validEndOffset);
    await handle.preallocate(sizeBytes);
    await handle.sync();
  }
  const segment = {
    name,
    path: file,
    handle,
    offset: scanned.validEndOffset,
    capacityBytes: sizeBytes,
  };
  return new WalWriter(
    fs,
    directory,
    {
      segment,
      crc: scanned.lastCrc,
      lastIndex: asLogIndex(log.lastIndex()),
      metadata: log.metadata ?? new Uint8Array(0),
      hardState: log.hardState,
      snapshot: log.snapshot,
    },
    options,
  );
}
