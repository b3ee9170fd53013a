/**
 * An etcd snapshot file on disk: a bbolt database, normally followed by the 32-byte SHA-256 of
 * the database (what Maintenance.Snapshot streams). A database copied straight out of a data
 * dir has no hash; etcd tells the two apart by size, since a database is a whole number of
 * pages: size % 512 === 32 means a hash follows. This module checks the hash, and computes
 * `etcdctl snapshot status`'s figures: a CRC-32C over every bucket name, key and value, the
 * newest revision in the `key` bucket, the number of entries, and the database size.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32c } from '@node-rs/crc32';
import { BboltReader, type BucketRef, FilePageSource } from './bbolt-reader.ts';
import { decodeEtcdRevisionKey, ETCD_BUCKETS } from './etcd-records.ts';
import { SHA256_BYTES } from './etcd-snapshot-export.ts';

export class SnapshotFileError extends Error {
  override readonly name = 'SnapshotFileError';
}

const READ_CHUNK_BYTES = 1024 * 1024;

export interface VerifiedSnapshotFile {
  readonly path: string;
  /** Bytes of the database (the file without its hash). */
  readonly databaseBytes: number;
  readonly hasHash: boolean;
}

/**
 * What to do with the hash: `require` it and check it (restore), check it `if-present`
 * (status), or `skip` it (restore --skip-hash-check, for databases copied from a data dir).
 */
export type HashPolicy = 'require' | 'if-present' | 'skip';

/** Checks the file's SHA-256 as `policy` says and returns where its database ends. */
export function verifySnapshotFile(path: string, policy: HashPolicy): VerifiedSnapshotFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const hasHash = size % 512 === SHA256_BYTES;
    if (!hasHash) {
      if (policy === 'require') {
        throw new SnapshotFileError(
          `${path}: snapshot missing hash (${size} bytes: truncated, or a database copied ` +
            'from a data dir, which needs --skip-hash-check)',
        );
      }
      return { path, databaseBytes: size, hasHash };
    }
    const databaseBytes = size - SHA256_BYTES;
    if (policy === 'skip') return { path, databaseBytes, hasHash };
    const digest = createHash('sha256');
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (let offset = 0; offset < databaseBytes;) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, databaseBytes - offset), offset);
      if (read === 0) throw new SnapshotFileError(`${path}: file shrank while being read`);
      digest.update(buffer.subarray(0, read));
      offset += read;
    }
    const stored = Buffer.alloc(SHA256_BYTES);
    readSync(fd, stored, 0, SHA256_BYTES, databaseBytes);
    const computed = digest.digest();
    if (!computed.equals(stored)) {
      throw new SnapshotFileError(
        `${path}: SHA-256 mismatch (expected ${stored.toString('hex')}, got ` +
          `${computed.toString('hex')}): the file is corrupted or truncated`,
      );
    }
    return { path, databaseBytes, hasHash };
  } finally {
    closeSync(fd);
  }
}

/** Opens the database of a verified snapshot file. */
export function openSnapshotDatabase(file: VerifiedSnapshotFile): BboltReader {
  const source = new FilePageSource(file.path, file.databaseBytes);
  try {
    return BboltReader.open(source);
  } catch (error) {
    source.close();
    throw error;
  }
}

export interface SnapshotStatus {
  /** CRC-32C (Castagnoli) over bucket names, keys and values, as etcdctl computes it. */
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

function walkNested(reader: BboltReader, bucket: BucketRef, visited: Set<number>): void {
  for (const entry of reader.entries(bucket, visited)) {
    if (entry.bucket !== undefined) walkNested(reader, entry.bucket, visited);
  }
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** etcdctl's snapshot status, after checking the hash (if any) and walking every page. */
export function snapshotStatus(path: string): SnapshotStatus {
  const file = verifySnapshotFile(path, 'if-present');
  const reader = openSnapshotDatabase(file);
  try {
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    const visited = new Set<number>();
    for (const top of reader.entries(reader.root(), visited)) {
      if (top.bucket === undefined) {
        throw new SnapshotFileError(`${path}: the root holds a value, not a bucket`);
      }
      hash = crc32c(asBuffer(top.key), hash);
      const isKeyBucket = Buffer.from(top.key).toString() === ETCD_BUCKETS.key;
      const nested = [];
      for (const entry of reader.entries(top.bucket, visited)) {
        hash = crc32c(asBuffer(entry.key), hash);
        // A nested bucket's value is not hashed (bbolt's ForEach hands it over as nil).
        if (entry.bucket === undefined) hash = crc32c(asBuffer(entry.value), hash);
        else nested.push(entry.bucket);
        if (isKeyBucket) revision = decodeEtcdRevisionKey(entry.key).main;
        totalKey++;
      }
      // Nested buckets do not count, but their pages must be sound too.
      for (const bucket of nested) walkNested(reader, bucket, visited);
    }
    reader.freePages();
    return { hash, revision, totalKey, totalSize: reader.sizeBytes };
  } finally {
    reader.close();
  }
}
