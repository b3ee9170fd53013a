import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsError } from '../../src/storage/index.ts';
import { faultyDisk } from './wal-test-kit.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

async function setUp(seed = 1) {
  const fs = faultyDisk(seed);
  await fs.mkdirp('/d');
  const file = await fs.open('/d/f', 'create-exclusive');
  await fs.fsyncDir('/d');
  return { fs, file };
}

test('a crash loses unsynced writes and keeps synced ones', async () => {
  const { fs, file } = await setUp();
  await file.write(bytes(1, 2, 3), 0);
  await file.sync();
  await file.write(bytes(9, 9), 1);
  await file.append(bytes(4));
  assert.deepEqual(await fs.readFile('/d/f'), bytes(1, 9, 9, 4));
  fs.crash();
  assert.deepEqual(await fs.readFile('/d/f'), bytes(1, 2, 3));
  await assert.rejects(file.write(bytes(1), 0), /EBADF/, 'handles die with the crash');
});

test('writeAndSync: its bytes survive a crash, as write() then sync() would', async () => {
  const { fs, file } = await setUp();
  await file.writeAndSync(bytes(1, 2, 3), 0);
  await file.write(bytes(7), 3);
  await file.writeAndSync(bytes(4, 5), 4);
  fs.crash();
  // The second writeAndSync synced the whole file, the unsynced byte before it included.
  assert.deepEqual(await fs.readFile('/d/f'), bytes(1, 2, 3, 7, 4, 5));
  await assert.rejects(file.writeAndSync(bytes(1), 0), /EBADF/, 'handles die with the crash');
});

test('a create, rename or unlink is lost unless its directory was fsynced', async () => {
  const { fs, file } = await setUp();
  await file.sync();
  await fs.rename('/d/f', '/d/g');
  const other = await fs.open('/d/h', 'create-exclusive');
  await other.sync();
  assert.deepEqual(await fs.readdir('/d'), ['g', 'h']);
  fs.crash();
  assert.deepEqual(await fs.readdir('/d'), ['f']);
  await fs.rename('/d/f', '/d/g');
  await fs.fsyncDir('/d');
  await fs.unlink('/d/g');
  fs.crash();
  assert.deepEqual(await fs.readdir('/d'), ['g'], 'the rename was synced, the unlink was not');
});

test('a torn write keeps only a prefix of the first lost write', async () => {
  const data = new Uint8Array(100).fill(7);
  let sawPartial = false;
  for (let seed = 1; seed <= 20; seed++) {
    const { fs, file } = await setUp(seed);
    await file.sync();
    await file.write(data, 0);
    fs.crash({ keepUnsynced: 'none', tornWrite: true });
    const survived = await fs.readFile('/d/f');
    assert.ok(survived.length < 100, 'a torn write is never whole');
    assert.ok(survived.every((value) => value === 7));
    if (survived.length > 0) sawPartial = true;
  }
  assert.ok(sawPartial);
});

test('ENOSPC writes what fits and then fails', async () => {
  const { fs, file } = await setUp();
  fs.setFaults({ spaceBytes: 3 });
  await assert.rejects(file.write(bytes(1, 2, 3, 4, 5), 0), (error: unknown) => {
    assert.ok(error instanceof FsError);
    assert.equal(error.code, 'ENOSPC');
    return true;
  });
  assert.deepEqual(await fs.readFile('/d/f'), bytes(1, 2, 3));
  await file.write(bytes(8), 0); // overwriting needs no new space
  await assert.rejects(file.preallocate(10), /ENOSPC/);
});

test('injected EIO, bit flips, short reads and read corruption', async () => {
  const { fs, file } = await setUp();
  await file.write(new Uint8Array(64), 0);
  await file.sync();
  fs.failNext('sync', 'EIO');
  await assert.rejects(file.sync(), /EIO/);
  await file.sync();
  fs.flipBit('/d/f', 10, 2);
  fs.crash();
  const stored = await fs.readFile('/d/f');
  assert.equal(stored[10], 4, 'a flip in stored data is durable');
  fs.setFaults({ shortReadProbability: 1 });
  const handle = await fs.open('/d/f', 'read');
  const target = new Uint8Array(64);
  assert.ok((await handle.read(target, 0, 64, 0)) < 64);
  fs.setFaults({ shortReadProbability: 0, readBitFlipProbability: 1 });
  await handle.read(target, 0, 64, 0);
  const ones = target.reduce((sum, value, k) => sum + (k === 10 ? 0 : value), 0);
  assert.ok(ones > 0, 'a read flip corrupts the returned bytes');
  fs.setFaults({ readBitFlipProbability: 0 });
  assert.deepEqual(await fs.readFile('/d/f'), stored, 'but not the stored ones');
});

test('the same seed replays the same faults', async () => {
  const run = async (seed: number): Promise<number[]> => {
    const { fs, file } = await setUp(seed);
    await file.write(new Uint8Array(256), 0);
    fs.setFaults({ readBitFlipProbability: 0.5, shortReadProbability: 0.5 });
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const target = new Uint8Array(256);
      seen.push(await file.read(target, 0, 256, 0), target.indexOf(0) === 0 ? 0 : 1);
      seen.push(target.findIndex((value) => value !== 0));
    }
    return seen;
  };
  assert.deepEqual(await run(5), await run(5));
  assert.notDeepEqual(await run(5), await run(6));
});

test('a write copies its bytes: reusing the caller Buffer cannot rewrite an unsynced write', async () => {
  const { fs, file } = await setUp();
  const buffer = Buffer.from([1, 2, 3, 4]);
  await file.write(buffer, 0);
  buffer.fill(9);
  await file.write(buffer.subarray(0, 2), 4);
  fs.crash({ keepUnsynced: 'all', tornWrite: false });
  assert.deepEqual(await fs.readFile('/d/f'), bytes(1, 2, 3, 4, 9, 9));
});
