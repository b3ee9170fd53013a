import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asTerm } from '../../src/base/index.ts';
import {
  createWal,
  openWal,
  parseSegmentName,
  WalCorruptError,
  type FaultyFileSystem,
} from '../../src/storage/index.ts';
import {
  faultyDisk,
  makeEntry,
  makeHardState,
  metadata,
  smallSegmentBytes,
  walDir,
} from './wal-test-kit.ts';

const options = { segmentBytes: smallSegmentBytes };

async function segmentFiles(fs: FaultyFileSystem): Promise<string[]> {
  return (await fs.readdir(walDir)).filter((name) => parseSegmentName(name) !== null);
}

test('a fresh WAL recovers its metadata, an empty log and a zero hard state', async () => {
  const fs = faultyDisk();
  const created = await createWal(fs, walDir, metadata, options);
  await created.wal.close();
  fs.crash();
  const opened = await openWal(fs, walDir, options);
  assert.deepEqual(opened.metadata, metadata);
  assert.deepEqual(opened.entries, []);
  assert.deepEqual(opened.hardState, makeHardState(0, 0));
  assert.equal(opened.snapshot.index, 0);
  await assert.rejects(createWal(fs, walDir, metadata, options), /already exists/);
  await opened.wal.close();
});

test('saved entries and hard state survive a crash, across segment cuts', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  for (let i = 1; i <= 60; i++) await wal.save(makeHardState(2, i - 1, 7n), [makeEntry(i, 2, 100)]);
  assert.ok((await segmentFiles(fs)).length >= 3, 'small segments must have been cut');
  fs.crash();
  const opened = await openWal(fs, walDir, options);
  assert.equal(opened.entries.length, 60);
  opened.entries.forEach((entry, k) => assert.deepEqual(entry, makeEntry(k + 1, 2, 100)));
  assert.deepEqual(opened.hardState, makeHardState(2, 59, 7n));
  // The writer continues where recovery stopped, and a second recovery sees both parts.
  await opened.wal.save(null, [makeEntry(61, 3)]);
  fs.crash();
  const again = await openWal(fs, walDir, options);
  assert.equal(again.entries.length, 61);
  assert.equal(again.entries[60].term, 3);
  await again.wal.close();
});

test('a later entry at a lower index replaces it and everything after it', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  await wal.save(
    null,
    [1, 2, 3, 4, 5].map((i) => makeEntry(i, 1)),
  );
  await wal.save(null, [makeEntry(3, 2), makeEntry(4, 2)]);
  fs.crash();
  const opened = await openWal(fs, walDir, options);
  assert.deepEqual(
    opened.entries.map((entry) => [entry.index, entry.term]),
    [
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ],
  );
  await opened.wal.close();
});

test('concurrent appends share fsyncs (group commit)', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, { segmentBytes: 1 << 20 });
  const saves = [];
  for (let i = 1; i <= 200; i++) saves.push(wal.save(null, [makeEntry(i)]));
  await Promise.all(saves);
  const stats = wal.stats();
  assert.equal(stats.appends, 200);
  assert.ok(stats.batches <= 2, `200 concurrent appends took ${stats.batches} batches`);
  await wal.close();
});

test('no append resolves before the fsync that covers it', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, { segmentBytes: 1 << 20 });
  let acknowledged = false;
  const saving = wal.save(null, [makeEntry(1)]).then(() => (acknowledged = true));
  // Crash the moment the write has happened but before its sync: halt after one mutation.
  fs.haltAfter(1);
  await assert.rejects(saving, /EIO/);
  assert.equal(acknowledged, false);
  fs.crash();
  const opened = await openWal(fs, walDir, options);
  assert.deepEqual(opened.entries, [], 'an unsynced write is lost by the crash');
  await opened.wal.close();
});

test('after ENOSPC every pending and later append fails, and nothing unacknowledged is claimed', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  await wal.save(null, [makeEntry(1, 1, 100)]);
  fs.setFaults({ spaceBytes: 0 });
  // Enough to force a cut into the next segment, which needs new space.
  const big = [];
  for (let i = 2; i <= 80; i++) big.push(wal.save(null, [makeEntry(i, 1, 100)]));
  const results = await Promise.allSettled(big);
  assert.ok(results.every((result) => result.status === 'rejected'));
  assert.match(String((results[0] as PromiseRejectedResult).reason), /ENOSPC/);
  await assert.rejects(wal.save(null, [makeEntry(81)]), /ENOSPC/);
  assert.notEqual(wal.failed(), null);
  fs.crash({ keepUnsynced: 'all', tornWrite: false });
  fs.setFaults({ spaceBytes: Number.MAX_SAFE_INTEGER });
  const opened = await openWal(fs, walDir, options);
  // Nothing after entry 1 was acknowledged; whatever else survived must be a clean prefix.
  assert.ok(opened.entries.length >= 1);
  opened.entries.forEach((entry, k) => assert.deepEqual(entry, makeEntry(k + 1, 1, 100)));
  await opened.wal.close();
});

test('an fsync error (EIO) fails the WAL for good', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  fs.failNext('sync', 'EIO');
  await assert.rejects(wal.save(null, [makeEntry(1)]), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'EIO');
    return true;
  });
  await assert.rejects(wal.save(null, [makeEntry(2)]), /EIO/);
  await wal.close();
});

test('a torn tail in the last segment is cut off and later appends are readable', async () => {
  const fs = faultyDisk(3);
  const { wal } = await createWal(fs, walDir, metadata, { segmentBytes: 1 << 16 });
  await wal.save(null, [makeEntry(1, 1, 500)]);
  fs.haltAfter(1); // the next batch is written but never synced
  await assert.rejects(wal.save(null, [makeEntry(2, 1, 500), makeEntry(3, 1, 500)]));
  fs.crash({ keepUnsynced: 'none', tornWrite: true });
  const opened = await openWal(fs, walDir, { segmentBytes: 1 << 16 });
  assert.deepEqual(
    opened.entries.map((entry) => entry.index),
    [1],
  );
  await opened.wal.save(null, [makeEntry(2, 2, 20)]);
  fs.crash();
  const again = await openWal(fs, walDir, { segmentBytes: 1 << 16 });
  assert.deepEqual(
    again.entries.map((entry) => [entry.index, entry.term]),
    [
      [1, 1],
      [2, 2],
    ],
  );
  await again.wal.close();
});

test('a bit flip in the middle of the log is reported as corrupt with file and offset', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, { segmentBytes: 1 << 16 });
  for (let i = 1; i <= 10; i++) await wal.save(null, [makeEntry(i, 1, 100)]);
  await wal.close();
  const [segment] = await segmentFiles(fs);
  const file = `${walDir}/${segment}`;
  // Entry 5's payload: the header records come first, then 117-byte frames per entry.
  const flipped = 400 + 4 * 133 + 30;
  fs.flipBit(file, flipped, 3);
  await assert.rejects(openWal(fs, walDir, options), (error: unknown) => {
    assert.ok(error instanceof WalCorruptError);
    assert.match(error.message, /corrupt/);
    assert.match(error.message, new RegExp(segment));
    assert.equal(error.file, file);
    assert.ok(error.offset <= flipped && flipped < error.offset + 133, `offset ${error.offset}`);
    assert.match(error.message, new RegExp(`offset ${error.offset}`));
    return true;
  });
});

test('a bit flip in an earlier, full segment is corrupt, never a torn tail', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  for (let i = 1; i <= 60; i++) await wal.save(null, [makeEntry(i, 1, 100)]);
  await wal.close();
  const segments = await segmentFiles(fs);
  assert.ok(segments.length >= 3);
  // The last record of the first segment: ambiguous only if it were in the last segment.
  const first = `${walDir}/${segments[0]}`;
  const bytes = await fs.readFile(first);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  fs.flipBit(first, end - 5, 0);
  await assert.rejects(openWal(fs, walDir, options), /corrupt record in .*0000000000000000-/);
});

test('a missing middle segment is corrupt; releaseTo drops only whole old segments', async () => {
  const fs = faultyDisk();
  const { wal } = await createWal(fs, walDir, metadata, options);
  for (let i = 1; i <= 100; i++) await wal.save(makeHardState(1, i), [makeEntry(i, 1, 100)]);
  const before = await segmentFiles(fs);
  assert.ok(before.length >= 4);
  const keepFrom = parseSegmentName(before[2]);
  assert.ok(keepFrom !== null);
  const snapshotIndex = keepFrom.firstIndex + 1;
  await wal.saveSnapshot({ index: asLogIndex(snapshotIndex), term: asTerm(1) });
  assert.equal(await wal.releaseTo(asLogIndex(snapshotIndex)), 2);
  assert.deepEqual(await segmentFiles(fs), before.slice(2));
  fs.crash();
  const opened = await openWal(fs, walDir, options);
  assert.equal(opened.snapshot.index, snapshotIndex);
  assert.equal(opened.entries[0].index, snapshotIndex + 1);
  assert.equal(opened.entries[opened.entries.length - 1].index, 100);
  assert.deepEqual(opened.hardState, makeHardState(1, 100));
  await opened.wal.close();
  await fs.unlink(`${walDir}/${before[3]}`);
  await assert.rejects(openWal(fs, walDir, options), /corrupt.*segment before this one is missing/);
});
