/** The real disk: the same WAL and snapshot code through NodeFileSystem on a temp directory. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { asLogIndex, asTerm } from '../../src/base/index.ts';
import {
  createWal,
  NodeFileSystem,
  openWal,
  Snapshotter,
  snapDirectory,
  walDirectory,
} from '../../src/storage/index.ts';
import { makeEntry, makeHardState, metadata } from './wal-test-kit.ts';

test('WAL and snapshots round-trip on a real disk', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sigil-storage-'));
  try {
    const fs = new NodeFileSystem();
    const options = { segmentBytes: 64 * 1024 };
    const { wal } = await createWal(fs, walDirectory(dataDir), metadata, options);
    const saves = [];
    for (let i = 1; i <= 500; i++)
      saves.push(wal.save(makeHardState(1, i), [makeEntry(i, 1, 300)]));
    await Promise.all(saves);
    assert.ok(wal.stats().batches < 500, 'concurrent saves were batched');
    await wal.saveSnapshot({ index: asLogIndex(400), term: asTerm(1) });
    assert.ok((await wal.releaseTo(asLogIndex(400))) > 0);
    await wal.close();
    const opened = await openWal(fs, walDirectory(dataDir), options);
    assert.equal(opened.snapshot.index, 400);
    assert.deepEqual(
      opened.entries.map((entry) => entry.index),
      Array.from({ length: 100 }, (_, k) => 401 + k),
    );
    assert.deepEqual(opened.entries[99], makeEntry(500, 1, 300));
    assert.deepEqual(opened.hardState, makeHardState(1, 500));
    await opened.wal.close();
    const snapshotter = new Snapshotter(fs, snapDirectory(dataDir));
    const snapshot = {
      metadata: {
        index: asLogIndex(400),
        term: asTerm(1),
        confState: { voters: [], learners: [] },
      },
      data: new Uint8Array([1, 2, 3]),
    };
    await snapshotter.save(snapshot);
    assert.deepEqual(await snapshotter.loadNewest(), snapshot);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('writeAndSync writes at its position on a real disk and fails as a rejection', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sigil-storage-'));
  try {
    const fs = new NodeFileSystem();
    const file = await fs.open(join(dataDir, 'f'), 'create-exclusive');
    await file.preallocate(4096);
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    await file.writeAndSync(new Uint8Array([1, 2, 3]), 10);
    await file.writeAndSync(big, 4000);
    const content = new Uint8Array(await fs.readFile(join(dataDir, 'f')));
    assert.equal(content.length, 304_000);
    assert.deepEqual(content.subarray(8, 14), new Uint8Array([0, 0, 1, 2, 3, 0]));
    assert.deepEqual(content.subarray(4000), big);
    await file.close();
    // A closed descriptor: the synchronous write's EBADF must reject, never throw at the caller.
    const pending = file.writeAndSync(new Uint8Array([1]), 0);
    await assert.rejects(pending, /EBADF/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
