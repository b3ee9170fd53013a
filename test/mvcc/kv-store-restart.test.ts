/**
 * Restart: a KvStore reopened over the same LMDB file rebuilds its key index and answers
 * exactly as before; the consistent index survives, and a batch at or below it is skipped.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { hashKv, KvStore, WatchableStore } from '../../src/mvcc/index.ts';
import { LmdbBackend, MemoryBackend } from '../../src/storage/index.ts';
import { plain } from './mvcc-model-runner.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const everything = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };

test('restart rebuilds the index and keeps the consistent index', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-mvcc-restart-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let backend = new LmdbBackend({ dataDir });
  let store = new KvStore(backend);
  // Raft indexes 10..14: several requests per batch, as the apply loop does.
  for (let index = 10; index < 15; index++) {
    const result = store.applyBatch(index, (writer) => {
      writer.put({ key: bytes(`k${index % 3}`), value: bytes(`v${index}`) });
      writer.deleteRange({ key: bytes('k1') });
      return writer.put({ key: bytes(`x${index}`), value: bytes('x'), lease: BigInt(index) });
    });
    assert.equal(result.applied, true);
  }
  store.compact({ revision: 6 });
  await store.runCompaction(2);
  const before = {
    all: plain(store.range(everything)),
    atEight: plain(store.range({ ...everything, revision: 8 })),
    hash: hashKv(store, 0),
    revision: store.currentRevision,
    consistentIndex: store.consistentIndex(),
  };
  assert.equal(before.consistentIndex, 15, 'compact via applyOne took index 15');
  await backend.close();

  backend = new LmdbBackend({ dataDir });
  store = new KvStore(backend);
  assert.equal(store.consistentIndex(), 15);
  assert.equal(store.currentRevision, before.revision);
  assert.equal(store.compactRevision, 6);
  assert.deepEqual(plain(store.range(everything)), before.all);
  assert.deepEqual(plain(store.range({ ...everything, revision: 8 })), before.atEight);
  assert.deepEqual(hashKv(store, 0), before.hash);
  assert.throws(() => store.range({ ...everything, revision: 5 }), /has been compacted/);

  // Replaying an already applied raft index must not apply it again.
  let ran = false;
  const replay = store.applyBatch(12, () => (ran = true));
  assert.deepEqual(replay, { applied: false });
  assert.equal(ran, false);
  assert.equal(store.currentRevision, before.revision);
  const next = store.applyBatch(16, (writer) =>
    writer.put({ key: bytes('k0'), value: bytes('new') }),
  );
  assert.equal(next.applied, true);
  assert.equal(store.currentRevision, before.revision + 1);
  await backend.close();
});

test('an interrupted compaction resumes after restart', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-mvcc-resume-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let backend = new LmdbBackend({ dataDir });
  let store = new KvStore(backend);
  for (let i = 0; i < 50; i++) store.put({ key: bytes(`k${i % 5}`), value: bytes(`${i}`) });
  store.deleteRange({ key: bytes('k3') });
  store.compact({ revision: store.currentRevision });
  store.compactionStep(7); // Crash after one small batch.
  const want = plain(store.range(everything));
  const hash = hashKv(store, 0);
  await backend.close();
  backend = new LmdbBackend({ dataDir });
  store = new KvStore(backend);
  assert.equal(store.compactionPending, true);
  assert.deepEqual(hashKv(store, 0), hash, 'hash ignores physical compaction progress');
  await store.runCompaction();
  assert.equal(store.compactionPending, false);
  assert.deepEqual(plain(store.range(everything)), want);
  // Only the newest live revision of the four remaining keys is left on disk.
  const remaining = backend.read((reader) => reader.range('key', new Uint8Array(0), undefined));
  assert.equal(remaining.length, 4);
  await backend.close();
});

test('a lagging store restores from a snapshot stream; watchers re-sync', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-mvcc-install-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const leader = new KvStore(new MemoryBackend());
  for (let i = 0; i < 30; i++) leader.put({ key: bytes(`k${i % 4}`), value: bytes(`${i}`) });
  leader.compact({ revision: 20 });
  await leader.runCompaction();
  const follower = new KvStore(new LmdbBackend({ dataDir }));
  follower.put({ key: bytes('k0'), value: bytes('old') });
  const watchers = new WatchableStore(follower, { schedule: () => {} });
  const live = watchers.watch({ key: bytes('k1') }); // Wants revisions >= 3.
  const future = watchers.watch({ key: bytes('k2'), startRevision: 40 });
  await follower.restoreSnapshot(leader.backend.snapshot());
  assert.equal(follower.currentRevision, leader.currentRevision);
  assert.equal(follower.compactRevision, 20);
  assert.equal(follower.consistentIndex(), leader.consistentIndex());
  assert.deepEqual(plain(follower.range(everything)), plain(leader.range(everything)));
  assert.deepEqual(hashKv(follower, 0), hashKv(leader, 0));
  while (watchers.syncStep());
  const cancelled = live.poll();
  assert.equal(cancelled?.canceled, true, 'its next revision was compacted in the new history');
  assert.equal(cancelled?.compactRevision, 20);
  assert.equal(future.poll(), undefined);
  follower.applyBatch(follower.consistentIndex() + 1, (w) => w.put({ key: bytes('k2') })); // 32
  for (let i = 0; i < 8; i++) follower.put({ key: bytes('k2') });
  assert.deepEqual(
    future.poll()?.events.map((e) => e.kv.modRevision),
    [40],
    'a future start still waits for its revision',
  );
  await follower.backend.close();
});

test('reopening or installing a compacted store keeps each key creation and version', async (t) => {
  // Found by the chaos suite: a rebuilt index counted versions from the oldest revision that
  // survived compaction, so puts replayed after a restart were stamped differently than on
  // members that never restarted (and a VERSION/CREATE compare could go either way).
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-mvcc-restore-put-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const reference = new KvStore(new MemoryBackend());
  let backend = new LmdbBackend({ dataDir });
  let reopened = new KvStore(backend);
  // Closed even when an assertion fails: an open LMDB backend keeps its commit timer running.
  t.after(() => backend.close());
  const bothPut = (key: string, value: string) => {
    for (const store of [reference, reopened]) store.put({ key: bytes(key), value: bytes(value) });
  };
  for (let i = 0; i < 50; i++) bothPut(`k${i % 7}`, `v${i}`);
  for (const store of [reference, reopened]) {
    store.deleteRange({ key: bytes('k3') });
    store.compact({ revision: 40 });
    await store.runCompaction();
  }
  bothPut('k3', 'recreated');
  await backend.close();
  backend = new LmdbBackend({ dataDir });
  reopened = new KvStore(backend);
  const installed = new KvStore(new MemoryBackend());
  await installed.restoreSnapshot(reopened.backend.snapshot());
  for (let i = 0; i < 20; i++) {
    for (const store of [reference, reopened, installed]) {
      store.put({ key: bytes(`k${i % 7}`), value: bytes(`w${i}`) });
    }
  }
  const want = plain(reference.range(everything));
  const k0 = reference.range({ key: bytes('k0') }).kvs[0];
  assert.equal(k0.version, 11, 'k0: 8 puts, then 3 more');
  assert.equal(k0.createRevision, 2);
  assert.deepEqual(plain(reopened.range(everything)), want, 'after reopening');
  assert.deepEqual(plain(installed.range(everything)), want, 'after a snapshot install');
  assert.deepEqual(hashKv(reopened, 0), hashKv(reference, 0));
  assert.deepEqual(hashKv(installed, 0), hashKv(reference, 0));
});
