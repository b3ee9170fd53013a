import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWal, openWal, parseSegmentName, WalCorruptError } from '../../src/storage/index.ts';
import {
  faultyDisk,
  makeEntry,
  makeHardState,
  metadata,
  smallSegmentBytes,
  walDir,
} from './wal-test-kit.ts';

const options = { segmentBytes: smallSegmentBytes };
const indexes = (entries: readonly { index: number }[]): number[] => entries.map((e) => e.index);

test('save({sync: false}) resolves without an fsync: a crash loses it, a later sync keeps it', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  await wal.save(makeHardState(1, 0), [makeEntry(1)]);
  await wal.save(makeHardState(1, 1), [], { sync: false });
  fs.crash();
  let opened = await openWal(fs, walDir, options);
  assert.deepEqual(indexes(opened.entries), [1]);
  assert.deepEqual(opened.hardState, makeHardState(1, 0), 'the unsynced commit was lost');

  await opened.wal.save(makeHardState(1, 1), [makeEntry(2)], { sync: false });
  // An empty durable save is an fsync of everything written before it.
  await opened.wal.save(null, []);
  fs.crash();
  opened = await openWal(fs, walDir, options);
  assert.deepEqual(indexes(opened.entries), [1, 2]);
  assert.deepEqual(opened.hardState, makeHardState(1, 1));
  await opened.wal.close();
});

test('the default save stays durable, and close() syncs what sync: false left behind', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  await wal.save(null, [makeEntry(1)]);
  fs.crash();
  let opened = await openWal(fs, walDir, options);
  assert.deepEqual(indexes(opened.entries), [1]);
  await opened.wal.save(null, [makeEntry(2)], { sync: false });
  await opened.wal.close();
  fs.crash();
  opened = await openWal(fs, walDir, options);
  assert.deepEqual(indexes(opened.entries), [1, 2], 'a clean close made it durable');
  await opened.wal.close();
});

test('a segment cut inside unsynced saves syncs the closed segment, so recovery stays clean', async () => {
  for (const tornWrite of [false, true]) {
    const fs = faultyDisk(tornWrite ? 7 : 3);
    const { wal } = await createWal(fs, walDir, metadata, options);
    const total = 120;
    for (let i = 1; i <= total; i++) {
      await wal.save(makeHardState(1, i - 1), [makeEntry(i, 1, 100)], { sync: false });
    }
    const segments = (await fs.readdir(walDir))
      .map((name) => parseSegmentName(name))
      .filter((name) => name !== null);
    assert.ok(segments.length >= 3, 'the unsynced saves crossed several cuts');
    const lastSegmentFirstIndex = Math.max(...segments.map((name) => name.firstIndex));
    fs.crash({ keepUnsynced: tornWrite ? 'random' : 'none', tornWrite });
    // No WalCorruptError: every closed segment was synced before the next one began.
    const opened = await openWal(fs, walDir, options);
    const recovered = indexes(opened.entries);
    assert.deepEqual(
      recovered,
      Array.from({ length: recovered.length }, (_, k) => k + 1),
    );
    assert.ok(recovered.length >= lastSegmentFirstIndex - 1, 'closed segments survived whole');
    if (!tornWrite) {
      assert.equal(recovered.length, lastSegmentFirstIndex - 1, 'the open tail was lost');
      assert.ok(recovered.length < total);
    }
    await opened.wal.close();
  }
});

test('a flipped bit in the first segment crc seed is corrupt, never silently accepted', async () => {
  // Regression: the seed record's checksum was seeded with its own value, and crc32c(v, v) is
  // one constant for every v, so nothing checked these four bytes in the oldest segment.
  for (let bit = 0; bit < 32; bit++) {
    const fs = faultyDisk();
    const { wal } = await createWal(fs, walDir, metadata, options);
    await wal.save(makeHardState(1, 1), [makeEntry(1)]);
    await wal.close();
    const [first] = (await fs.readdir(walDir)).filter((name) => parseSegmentName(name) !== null);
    const file = `${walDir}/${first}`;
    // Frame header (16 bytes), then the seed's 4-byte payload.
    fs.flipBit(file, 16 + (bit >> 3), bit & 7);
    fs.crash();
    await assert.rejects(openWal(fs, walDir, options), (error: unknown) => {
      assert.ok(error instanceof WalCorruptError, String(error));
      assert.equal(error.file, file);
      assert.equal(error.offset, 0);
      return true;
    });
  }
});
