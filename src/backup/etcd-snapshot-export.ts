/**
 * Maintenance.Snapshot in etcd's format: a member's state at one point, as an etcd bbolt
 * database followed by the SHA-256 of the database bytes (what `etcdctl snapshot save` stores).
 *
 * A bbolt file must start with meta pages naming its root page and page count, which are known
 * only once every bucket is written. So the database is built into a spool file first (one pass
 * over the member's backend dump, which is read from one consistent view while writes go on),
 * then streamed from the file in chunks. Neither step holds more than a few pages in memory.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSnapshot } from '../storage/index.ts';
import { DEFAULT_PAGE_SIZE } from './bbolt-layout.ts';
import { BboltWriter } from './bbolt-writer.ts';
import { type ExportSummary, SnapshotExportError, writeEtcdDatabase } from './etcd-export.ts';
import { FilePageSink } from './file-page-sink.ts';

export const SHA256_BYTES = 32;
/** Bytes per streamed chunk: large enough to amortise framing, far below gRPC's 4 MiB limit. */
export const SNAPSHOT_STREAM_CHUNK_BYTES = 128 * 1024;

export interface EtcdSnapshot {
  /** Size of the database; the stream is this plus the 32-byte SHA-256. */
  readonly databaseBytes: number;
  readonly summary: ExportSummary;
  /** The database in chunks, then its SHA-256. Removes the spool file when it ends or is
   *  abandoned (return() on the iterator). */
  stream(chunkBytes?: number): AsyncGenerator<Uint8Array>;
  /** Removes the spool file without streaming. */
  dispose(): void;
}

/**
 * Strips and checks the SHA-256 trailer a member appends to its backend dump
 * (ServerApi.snapshot()), so a dump damaged on its way is never turned into a snapshot.
 */
export async function* withoutSha256Trailer(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const digest = createHash('sha256');
  let held = new Uint8Array(0);
  for await (const chunk of chunks) {
    const joined = new Uint8Array(held.length + chunk.length);
    joined.set(held);
    joined.set(chunk, held.length);
    const release = joined.length - SHA256_BYTES;
    if (release > 0) {
      const out = joined.subarray(0, release);
      digest.update(out);
      yield out;
      held = joined.slice(release);
    } else {
      held = joined;
    }
  }
  if (held.length !== SHA256_BYTES) throw new SnapshotExportError('member snapshot ended early');
  if (!Buffer.from(held).equals(digest.digest())) {
    throw new SnapshotExportError('member snapshot failed its SHA-256 check');
  }
}

/** Builds the etcd database of `memberSnapshot` (ServerApi.snapshot()) in a spool file. */
export async function spoolEtcdSnapshot(
  memberSnapshot: AsyncIterable<Uint8Array>,
  directory: string = tmpdir(),
): Promise<EtcdSnapshot> {
  const dir = mkdtempSync(join(directory, 'sigil-snapshot-'));
  const path = join(dir, 'db');
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  let summary: ExportSummary;
  try {
    const sink = new FilePageSink(path, DEFAULT_PAGE_SIZE);
    try {
      const records = decodeSnapshot(withoutSha256Trailer(memberSnapshot));
      summary = await writeEtcdDatabase(records, new BboltWriter(sink));
    } finally {
      sink.close();
    }
  } catch (error) {
    remove();
    throw error;
  }
  return {
    databaseBytes: summary.sizeBytes,
    summary,
    stream: (chunkBytes = SNAPSHOT_STREAM_CHUNK_BYTES) => streamFile(path, chunkBytes, remove),
    dispose: remove,
  };
}

async function* streamFile(
  path: string,
  chunkBytes: number,
  remove: () => void,
): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const digest = createHash('sha256');
    for (let position = 0; ;) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunkBytes, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const out = chunk.subarray(0, bytesRead);
      digest.update(out);
      yield out;
    }
    yield new Uint8Array(digest.digest());
  } finally {
    await handle.close();
    remove();
  }
}
