/**
 * readSegmentBytes must hand the scanner exactly the bytes readFile would, zeros included, while
 * reading only up to the last non-zero byte: data that ends in zeros (a value of zero bytes, a
 * zero counter) and data across probe boundaries are the cases a wrong end would cut.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readSegmentBytes } from '../../src/storage/wal/segment-reader.ts';
import { faultyDisk } from './wal-test-kit.ts';

const MIB = 1024 * 1024;

async function roundTrip(content: Uint8Array): Promise<void> {
  const fs = faultyDisk();
  await fs.mkdirp('/wal');
  const handle = await fs.open('/wal/segment', 'create-exclusive');
  await handle.write(content, 0);
  await handle.close();
  const expected = Buffer.from(await fs.readFile('/wal/segment'));
  const read = await readSegmentBytes(fs, '/wal/segment');
  assert.equal(read.length, expected.length);
  assert.ok(read.equals(expected), 'the same bytes as readFile');
}

function withDataAt(sizeBytes: number, ranges: readonly [number, number][]): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (const [start, end] of ranges)
    for (let at = start; at < end; at++) bytes[at] = (at % 251) + 1;
  return bytes;
}

test('a segment of zeros, one of data only, and data ending at probe and piece edges', async () => {
  await roundTrip(new Uint8Array(0));
  await roundTrip(new Uint8Array(3 * MIB));
  await roundTrip(withDataAt(2 * MIB + 5, [[0, 2 * MIB + 5]]));
  for (const end of [1, 4095, 4096, 4097, MIB - 1, MIB, MIB + 1, 2 * MIB + 3]) {
    await roundTrip(withDataAt(3 * MIB + 17, [[0, end]]));
  }
  // The last non-zero byte alone at the very end, and far before it with zeros in the data.
  await roundTrip(withDataAt(3 * MIB, [[3 * MIB - 1, 3 * MIB]]));
  await roundTrip(
    withDataAt(3 * MIB, [
      [10, 20],
      [MIB + 7, MIB + 9],
    ]),
  );
});

test('any mix of data and zero runs reads back as readFile reads it', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 3 * MIB }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 70_000 })), { maxLength: 6 }),
      async (sizeBytes, runs) => {
        const ranges = runs.map(([at, length]): [number, number] => {
          const start = sizeBytes === 0 ? 0 : at % sizeBytes;
          return [start, Math.min(sizeBytes, start + length)];
        });
        await roundTrip(withDataAt(sizeBytes, ranges));
      },
    ),
    { numRuns: 40 },
  );
});
