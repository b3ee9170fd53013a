/**
 * Creating a segment file so that it appears whole or not at all: it is prepared (preallocated
 * with zeros) under a temporary name, gets its header records and an fsync, and only then its
 * final name, made durable with an fsync of the directory. A segment with a final name therefore
 * always starts with its crc seed, metadata, snapshot marker and hard state.
 */
import * as path from 'node:path';
import { assert } from '../../base/index.ts';
import type { FileHandle, FileSystem } from '../fs/index.ts';
import { formatSegmentName, spareSegmentName, type SegmentName } from './segment-name.ts';
import { encodeFrame, frameBytes } from './wal-codec.ts';
import type { WalRecord } from './wal-record.ts';

/** A segment open for appending. `offset` is where the next record goes. */
export interface OpenSegment {
  readonly name: SegmentName;
  readonly path: string;
  readonly handle: FileHandle;
  offset: number;
  readonly capacityBytes: number;
}

/** Opens (or recreates) the spare file and preallocates it; runs ahead of the next cut. */
export async function prepareSpare(
  fs: FileSystem,
  directory: string,
  sizeBytes: number,
): Promise<FileHandle> {
  const handle = await fs.open(path.posix.join(directory, spareSegmentName), 'create-truncate');
  try {
    await handle.preallocate(sizeBytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** Encodes header records; returns the bytes and the chain value after them. */
export function encodeHeaderRecords(
  records: readonly WalRecord[],
  previousCrc: number,
): { bytes: Buffer; crc: number } {
  assert(records.length > 0 && records[0].kind === 'crc-seed', 'a segment starts with a seed');
  let total = 0;
  for (const record of records) total += frameBytes(record);
  const bytes = Buffer.alloc(total);
  let crc = previousCrc;
  let at = 0;
  for (const record of records) {
    crc = encodeFrame(record, bytes, at, crc);
    at += frameBytes(record);
  }
  assert(at === total, 'header records fill their buffer');
  return { bytes, crc };
}

/** Turns the prepared spare into segment `name`, starting with `header`. */
export async function installSegment(
  fs: FileSystem,
  directory: string,
  spare: FileHandle,
  name: SegmentName,
  header: Buffer,
  capacityBytes: number,
): Promise<OpenSegment> {
  assert(header.length <= capacityBytes, 'segment header fits its segment');
  await spare.preallocate(capacityBytes);
  await spare.write(header, 0);
  await spare.sync();
  const target = path.posix.join(directory, formatSegmentName(name));
  await fs.rename(path.posix.join(directory, spareSegmentName), target);
  await fs.fsyncDir(directory);
  const size = await spare.size();
  assert(size >= capacityBytes, 'a segment is preallocated to its capacity');
  return { name, path: target, handle: spare, offset: header.length, capacityBytes: size };
}
