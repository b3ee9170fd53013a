/**
 * Reads a WAL segment for recovery without making its zero tail resident.
 *
 * Segments are preallocated with zeros (64 MiB by default) and the newest is mostly zeros. Reading
 * one whole with readFile filled a 64 MiB buffer that stayed resident until the next full
 * garbage collection: most of a fresh member's memory. Here the zero tail is found by probing
 * backwards a chunk at a time, only the bytes before it are read, and they land in a zero-filled
 * buffer of the file's full size. Such a buffer is calloc'd, so its pages past the data are never
 * touched by a write and cost no memory, while the scanner sees exactly the bytes it saw before,
 * zeros included (their meaning, clean end or torn tail, is the scanner's to judge).
 */
import { assert } from '../../base/index.ts';
import type { FileHandle, FileSystem } from '../fs/index.ts';
import { isAllZero } from './segment-scanner.ts';

const PROBE_BYTES = 1024 * 1024;
/** The piece compared natively against zeros while looking for the last non-zero byte. */
const PIECE_BYTES = 4096;

export async function readSegmentBytes(fs: FileSystem, file: string): Promise<Buffer> {
  const handle = await fs.open(file, 'read');
  try {
    const sizeBytes = await handle.size();
    const dataEnd = await endOfData(handle, sizeBytes);
    const bytes = Buffer.alloc(sizeBytes);
    await readFully(handle, bytes.subarray(0, dataEnd), 0);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** One past the last non-zero byte of the file (0 if it holds only zeros). */
async function endOfData(handle: FileHandle, sizeBytes: number): Promise<number> {
  const probe = Buffer.alloc(Math.min(PROBE_BYTES, sizeBytes));
  let end = sizeBytes;
  while (end > 0) {
    const start = Math.max(0, end - probe.length);
    const window = probe.subarray(0, end - start);
    await readFully(handle, window, start);
    const last = lastNonZeroByte(window);
    if (last >= 0) return start + last + 1;
    end = start;
  }
  return 0;
}

function lastNonZeroByte(bytes: Buffer): number {
  for (let end = bytes.length; end > 0; end -= PIECE_BYTES) {
    const start = Math.max(0, end - PIECE_BYTES);
    if (isAllZero(bytes, start, end)) continue;
    for (let at = end - 1; at >= start; at--) if (bytes[at] !== 0) return at;
  }
  return -1;
}

async function readFully(handle: FileHandle, target: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const got = await handle.read(target, done, target.length - done, position + done);
    // The file cannot shrink during recovery; a short file here is a bug, not torn data.
    assert(got > 0, 'WAL segment read: no progress');
    done += got;
  }
}
