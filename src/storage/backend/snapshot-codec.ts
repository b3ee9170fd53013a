/**
 * The backend snapshot stream: a logical dump (bucket, key, value records) rather than a copy of
 * the LMDB file, so that a snapshot from one implementation restores into any other (the
 * simulator's MemoryBackend and production's LmdbBackend read the same format), and so that a
 * truncated or corrupted transfer is detected before the member trusts it.
 *
 * Layout: MAGIC, then records `[bucket u8][key length u32][value length u32][key][value]`, then a
 * trailer `[0xff][record count u32 as two halves: high u32, low u32][crc32c u32]`; the CRC covers
 * every byte before it.
 */
import { crc32c } from '@node-rs/crc32';
import { assert } from '../../base/index.ts';
import { BUCKET_NAMES, type BucketName } from './backend.ts';

const MAGIC = new TextEncoder().encode('SIGILBK1');
const TRAILER_TAG = 0xff;
const TRAILER_BYTES = 1 + 8 + 4;
const RECORD_HEADER_BYTES = 9;
/** Chunks handed to the transport; big enough to amortise framing, small enough to stream. */
export const SNAPSHOT_CHUNK_BYTES_MAX = 256 * 1024;
/** Keys and values larger than this cannot come from a valid backend; reject as corruption. */
const RECORD_PART_BYTES_MAX = 64 * 1024 * 1024;

export interface SnapshotRecord {
  readonly bucket: BucketName;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
  readonly code = 'snapshot-corrupt';
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Encodes records into chunks of at most about SNAPSHOT_CHUNK_BYTES_MAX bytes. */
export async function* encodeSnapshot(
  records: AsyncIterable<SnapshotRecord> | Iterable<SnapshotRecord>,
): AsyncGenerator<Uint8Array> {
  let crc = crc32c(asBuffer(MAGIC));
  let count = 0;
  let parts: Uint8Array[] = [MAGIC];
  let pending = MAGIC.length;
  const flush = (): Uint8Array => {
    const chunk = Buffer.concat(parts.map(asBuffer), pending);
    parts = [];
    pending = 0;
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  };
  for await (const record of records) {
    const header = new Uint8Array(RECORD_HEADER_BYTES);
    const view = new DataView(header.buffer);
    const bucketIndex = BUCKET_NAMES.indexOf(record.bucket);
    assert(bucketIndex >= 0, `unknown bucket ${record.bucket}`);
    view.setUint8(0, bucketIndex);
    view.setUint32(1, record.key.length);
    view.setUint32(5, record.value.length);
    for (const part of [header, record.key, record.value]) {
      crc = crc32c(asBuffer(part), crc);
      parts.push(part);
      pending += part.length;
    }
    count++;
    if (pending >= SNAPSHOT_CHUNK_BYTES_MAX) yield flush();
  }
  const trailer = new Uint8Array(TRAILER_BYTES);
  const view = new DataView(trailer.buffer);
  view.setUint8(0, TRAILER_TAG);
  view.setUint32(1, Math.floor(count / 2 ** 32));
  view.setUint32(5, count >>> 0);
  crc = crc32c(asBuffer(trailer.subarray(0, 9)), crc);
  view.setUint32(9, crc);
  parts.push(trailer);
  pending += trailer.length;
  yield flush();
}

/** Growable byte queue for parsing a stream whose chunks cut records anywhere. */
class ByteQueue {
  private buffer = new Uint8Array(0);
  private start = 0;

  get available(): number {
    return this.buffer.length - this.start;
  }

  push(chunk: Uint8Array): void {
    const rest = this.buffer.subarray(this.start);
    const next = new Uint8Array(rest.length + chunk.length);
    next.set(rest, 0);
    next.set(chunk, rest.length);
    this.buffer = next;
    this.start = 0;
  }

  peek(length: number): Uint8Array {
    assert(length <= this.available, 'ByteQueue.peek beyond available bytes');
    return this.buffer.subarray(this.start, this.start + length);
  }

  take(length: number): Uint8Array {
    const bytes = this.peek(length).slice();
    this.start += length;
    return bytes;
  }
}

/**
 * Decodes and verifies a snapshot stream. Records are yielded as they arrive (a restore can
 * write them in batches); the CRC and record count are checked at the end, so a consumer must
 * not treat the restore as complete until the generator has returned without throwing.
 */
export async function* decodeSnapshot(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<SnapshotRecord> {
  const queue = new ByteQueue();
  let crc = 0;
  let count = 0;
  let magicChecked = false;
  let finished = false;
  for await (const chunk of chunks) {
    if (finished) throw new SnapshotCorruptError('snapshot: bytes after the trailer');
    queue.push(chunk);
    if (!magicChecked) {
      if (queue.available < MAGIC.length) continue;
      const magic = queue.take(MAGIC.length);
      if (Buffer.compare(asBuffer(magic), asBuffer(MAGIC)) !== 0) {
        throw new SnapshotCorruptError('snapshot: bad magic');
      }
      crc = crc32c(asBuffer(magic));
      magicChecked = true;
    }
    while (queue.available >= 1) {
      if (queue.peek(1)[0] === TRAILER_TAG) {
        if (queue.available < TRAILER_BYTES) break;
        const trailer = queue.take(TRAILER_BYTES);
        const view = new DataView(trailer.buffer);
        crc = crc32c(asBuffer(trailer.subarray(0, 9)), crc);
        const wantCount = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
        if (view.getUint32(9) !== crc) throw new SnapshotCorruptError('snapshot: CRC mismatch');
        if (wantCount !== count) throw new SnapshotCorruptError('snapshot: record count mismatch');
        finished = true;
        if (queue.available !== 0) throw new SnapshotCorruptError('snapshot: bytes after trailer');
        break;
      }
      if (queue.available < RECORD_HEADER_BYTES) break;
      const headerView = new DataView(queue.peek(RECORD_HEADER_BYTES).slice().buffer);
      const bucketIndex = headerView.getUint8(0);
      const keyLength = headerView.getUint32(1);
      const valueLength = headerView.getUint32(5);
      if (bucketIndex >= BUCKET_NAMES.length) throw new SnapshotCorruptError('snapshot: bucket');
      if (keyLength > RECORD_PART_BYTES_MAX || valueLength > RECORD_PART_BYTES_MAX) {
        throw new SnapshotCorruptError('snapshot: record length out of bounds');
      }
      if (queue.available < RECORD_HEADER_BYTES + keyLength + valueLength) break;
      crc = crc32c(asBuffer(queue.take(RECORD_HEADER_BYTES)), crc);
      const key = queue.take(keyLength);
      const value = queue.take(valueLength);
      crc = crc32c(asBuffer(value), crc32c(asBuffer(key), crc));
      count++;
      yield { bucket: BUCKET_NAMES[bucketIndex], key, value };
    }
  }
  if (!finished) throw new SnapshotCorruptError('snapshot: truncated stream');
}
