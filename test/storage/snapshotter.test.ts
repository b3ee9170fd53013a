import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asMemberId, asTerm } from '../../src/base/index.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import { SnapshotFileCorruptError, Snapshotter } from '../../src/storage/index.ts';
import { faultyDisk } from './wal-test-kit.ts';

const snapDir = '/data/member/snap';

function makeSnapshot(index: number, term: number, size = 1000): Snapshot {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + index) & 0xff;
  return {
    metadata: {
      index: asLogIndex(index),
      term: asTerm(term),
      confState: {
        voters: [asMemberId(1n), asMemberId(0xfeedfacecafebeefn)],
        learners: [asMemberId(9n)],
      },
    },
    data,
  };
}

test('a saved snapshot survives a crash and loads back identically', async () => {
  const fs = faultyDisk();
  const snapshotter = new Snapshotter(fs, snapDir);
  assert.equal(await snapshotter.loadNewest(), null);
  await snapshotter.save(makeSnapshot(10, 2));
  await snapshotter.save(makeSnapshot(20, 3));
  fs.crash();
  assert.deepEqual(await snapshotter.loadNewest(), makeSnapshot(20, 3));
});

test('a crash at any point of a snapshot write leaves the older snapshot intact', async () => {
  for (const keepUnsynced of ['none', 'random', 'all'] as const) {
    for (let haltAfter = 0; haltAfter < 8; haltAfter++) {
      const fs = faultyDisk(haltAfter + 1);
      const snapshotter = new Snapshotter(fs, snapDir);
      await snapshotter.save(makeSnapshot(10, 2));
      fs.haltAfter(haltAfter);
      const finished = await snapshotter.save(makeSnapshot(20, 3)).then(
        () => true,
        () => false,
      );
      fs.crash({ keepUnsynced, tornWrite: true });
      const newest = await snapshotter.loadNewest();
      if (finished) assert.deepEqual(newest, makeSnapshot(20, 3));
      else assert.ok(newest !== null && [10, 20].includes(newest.metadata.index));
      assert.deepEqual(
        await snapshotter.load(`${'0'.repeat(15)}2-${'0'.repeat(14)}0a.snap`),
        makeSnapshot(10, 2),
      );
    }
  }
});

test('a corrupt snapshot file is reported by name', async () => {
  const fs = faultyDisk();
  const snapshotter = new Snapshotter(fs, snapDir);
  const file = await snapshotter.save(makeSnapshot(5, 1));
  fs.flipBit(file, 100, 1);
  await assert.rejects(snapshotter.loadNewest(), (error: unknown) => {
    assert.ok(error instanceof SnapshotFileCorruptError);
    assert.equal(error.file, file);
    assert.match(error.message, /corrupt/);
    return true;
  });
});

test('purge keeps the newest snapshots and removes leftovers', async () => {
  const fs = faultyDisk();
  const snapshotter = new Snapshotter(fs, snapDir);
  for (const index of [3, 1, 4, 15, 9]) await snapshotter.save(makeSnapshot(index, 1, 10));
  const stray = await fs.open(`${snapDir}/junk.snap.tmp`, 'create-exclusive');
  await stray.close();
  const deleted = await snapshotter.purge(2);
  assert.equal(deleted.length, 4);
  assert.deepEqual(
    (await snapshotter.list()).map((name) => name.index),
    [15, 9],
  );
  assert.deepEqual(
    await fs.readdir(snapDir),
    (await snapshotter.list()).map((n) => n.fileName).sort(),
  );
});
