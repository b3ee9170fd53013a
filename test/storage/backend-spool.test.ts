import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/index.ts';
import { BackendSpool, FaultyFileSystem, formatSpoolName } from '../../src/storage/index.ts';

const DIRECTORY = '/data/m/member/snap';

async function readAll(spool: BackendSpool, term: number, index: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of spool.read(term, index)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7) & 0xff;
  return bytes;
}

test('a committed spool survives a power cut and reads back whole', async () => {
  const fs = new FaultyFileSystem(new SeededRandom(1));
  const spool = new BackendSpool(fs, DIRECTORY);
  const data = pattern(3 * 1024 * 1024 + 17);
  const writer = await spool.create(2, 500);
  for (let at = 0; at < data.length; at += 100_000) {
    await writer.write(data.subarray(at, at + 100_000));
  }
  await writer.commit();
  fs.crash({ keepUnsynced: 'none', tornWrite: false });
  assert.equal(await spool.exists(2, 500), true);
  assert.deepEqual(await readAll(spool, 2, 500), Buffer.from(data));
  assert.equal(formatSpoolName(2, 500), '0000000000000002-00000000000001f4.snap.db');
});

test('a spool cut off before its commit leaves no complete name behind', async () => {
  const fs = new FaultyFileSystem(new SeededRandom(2));
  const spool = new BackendSpool(fs, DIRECTORY);
  const writer = await spool.create(2, 500);
  await writer.write(pattern(1000));
  fs.crash({ keepUnsynced: 'all', tornWrite: false });
  assert.equal(await spool.exists(2, 500), false);
  // The leftover part file is removed by a purge at start, never by a purge while receiving.
  const before = await fs.readdir(DIRECTORY);
  assert.deepEqual(await spool.purge(1000), []);
  assert.deepEqual(await fs.readdir(DIRECTORY), before);
  assert.deepEqual(await spool.purge(0, { partial: true }), before);
});

test('purge removes spools at or below the index and keeps newer ones and other files', async () => {
  const fs = new FaultyFileSystem(new SeededRandom(3));
  const spool = new BackendSpool(fs, DIRECTORY);
  for (const index of [10, 20, 30]) {
    const writer = await spool.create(1, index);
    await writer.write(pattern(10));
    await writer.commit();
  }
  const other = await fs.open(
    `${DIRECTORY}/0000000000000001-0000000000000014.snap`,
    'create-truncate',
  );
  await other.close();
  const deleted = await spool.purge(20);
  assert.deepEqual(deleted.sort(), [formatSpoolName(1, 10), formatSpoolName(1, 20)]);
  assert.deepEqual(
    (await spool.list()).map((name) => name.index),
    [30],
  );
  assert.ok((await fs.readdir(DIRECTORY)).includes('0000000000000001-0000000000000014.snap'));
});

test('an aborted spool is dropped', async () => {
  const fs = new FaultyFileSystem(new SeededRandom(4));
  const spool = new BackendSpool(fs, DIRECTORY);
  const writer = await spool.create(3, 7);
  await writer.write(pattern(100));
  await writer.abort();
  assert.deepEqual(await fs.readdir(DIRECTORY), []);
});
