/**
 * Helpers of LmdbBackend: opening the environment with every option explicit, Buffer views
 * for lmdb-js, and directory syncs for the reclaim renames.
 */
import * as fs from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { BUCKET_NAMES, type BucketName } from './backend.ts';

export type Bytes = Database<Buffer, Buffer>;

/** The last Uint8Array wrapped and its wrapper: hot paths pass the same scratch key each time. */
let wrappedSource: Uint8Array | undefined;
let wrappedBuffer: Buffer | undefined;

/** A Buffer view of the same bytes (lmdb-js wants Buffers), without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (wrappedSource !== bytes || wrappedBuffer === undefined) {
    wrappedSource = bytes;
    wrappedBuffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return wrappedBuffer;
}

/** A write recorded while reclaimSpace() copies the file, to replay into the copy. */
export interface JournalRecord {
  readonly bucket: BucketName;
  readonly key: Buffer;
  readonly value: Buffer | undefined;
}

export interface Environment {
  readonly root: RootDatabase;
  readonly databases: ReadonlyMap<BucketName, Bytes>;
}

export function openEnvironment(file: string, syncMode: 'overlapping' | 'none'): Environment {
  const root = open({
    path: file,
    noSubdir: true,
    maxDbs: BUCKET_NAMES.length + 2,
    overlappingSync: syncMode === 'overlapping',
    noSync: syncMode === 'none',
    // Explicit so a library default change cannot silently change what is on disk.
    compression: false,
    cache: false,
  });
  const databases = new Map<BucketName, Bytes>();
  for (const name of BUCKET_NAMES) {
    databases.set(
      name,
      root.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }),
    );
  }
  return { root, databases };
}

/** Makes renames inside `directory` durable. */
export function syncDirectory(directory: string): void {
  const descriptor = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}
