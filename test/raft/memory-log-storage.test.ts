/** The reference storage: the app-side mutators and the read-only contract raft relies on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asTerm } from '../../src/base/index.ts';
import { MemoryLogStorage, type Entry } from '../../src/raft/index.ts';
import { m } from './cluster-fixture.ts';

const entry = (index: number, term: number, size = 1): Entry => ({
  index: asLogIndex(index),
  term: asTerm(term),
  type: 'normal',
  data: new Uint8Array(size),
});
const i = asLogIndex;
const conf = { voters: [m(1)], learners: [] };

test('append replaces a conflicting suffix', () => {
  const storage = new MemoryLogStorage(conf);
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  storage.append([entry(2, 2)]);
  assert.equal(storage.lastIndex(), 2);
  assert.equal(storage.term(i(2)), 2);
  assert.equal(storage.term(i(3)), 'unavailable');
  assert.throws(() => storage.append([entry(5, 2)]), /gap/);
});

test('entries respects the size limit but returns at least one entry', () => {
  const storage = new MemoryLogStorage(conf);
  storage.append([entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)]);
  assert.equal((storage.entries(i(1), i(4), 25) as Entry[]).length, 2);
  assert.equal((storage.entries(i(1), i(4), 1) as Entry[]).length, 1);
  assert.equal(storage.entries(i(1), i(5), 100), 'unavailable');
});

test('snapshot, compact and their errors', () => {
  const storage = new MemoryLogStorage(conf);
  storage.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
  const snapshot = storage.createSnapshot(i(3), conf, new Uint8Array([7]));
  assert.equal(snapshot.metadata.term, 2);
  assert.deepEqual(storage.compact(i(3)), { ok: true });
  assert.equal(storage.firstIndex(), 4);
  assert.equal(storage.term(i(3)), 2, 'the snapshot index keeps its term');
  assert.equal(storage.term(i(2)), 'compacted');
  assert.equal(storage.entries(i(3), i(5), 100), 'compacted');
  assert.deepEqual(storage.compact(i(2)), { ok: false, reason: 'compacted' });
  assert.equal(storage.createSnapshot(i(2), conf, new Uint8Array()), snapshot, 'older is a no-op');
  // Appending entries that overlap the compacted prefix keeps only the new part.
  storage.append([entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 2)]);
  assert.equal(storage.lastIndex(), 5);
  assert.equal(storage.firstIndex(), 4);
});

test('applySnapshot replaces the log and refuses older snapshots', () => {
  const storage = new MemoryLogStorage(conf);
  storage.append([entry(1, 1), entry(2, 1)]);
  const incoming = {
    metadata: { index: i(10), term: asTerm(3), confState: { voters: [m(1), m(2)], learners: [] } },
    data: new Uint8Array(),
  };
  assert.deepEqual(storage.applySnapshot(incoming), { ok: true });
  assert.equal(storage.firstIndex(), 11);
  assert.equal(storage.lastIndex(), 10);
  assert.deepEqual(storage.initialState().confState.voters, [m(1), m(2)]);
  const older = { ...incoming, metadata: { ...incoming.metadata, index: i(5) } };
  assert.deepEqual(storage.applySnapshot(older), { ok: false, reason: 'snapshot-out-of-date' });
});

test('entries handed out do not change when the log is later truncated, appended or compacted', () => {
  // append() and compact() change the log array in place: a caller's earlier result must be a
  // copy, not a view of it.
  const storage = new MemoryLogStorage(conf);
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
  const before = storage.entries(i(1), i(5), Infinity) as Entry[];
  storage.append([entry(3, 2), entry(4, 2), entry(5, 2)]);
  storage.createSnapshot(i(3), conf, new Uint8Array(0));
  storage.compact(i(3));
  assert.deepEqual(
    before.map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
    ],
  );
  assert.deepEqual(
    (storage.entries(i(4), i(6), Infinity) as Entry[]).map((e) => [e.index, e.term]),
    [
      [4, 2],
      [5, 2],
    ],
  );
  assert.equal(storage.firstIndex(), 4);
  assert.equal(storage.term(i(3)), 2);
});

test('append costs the appended entries, not the length of the log', () => {
  // 100,000 single-entry appends (a member appends every Ready; --snapshot-count lets the log
  // reach 100,000 entries). Copying the log per append made this take minutes; in place it
  // takes well under a second, so the generous bound only trips on the quadratic behaviour.
  const storage = new MemoryLogStorage(conf);
  const started = performance.now();
  for (let index = 1; index <= 100_000; index++) storage.append([entry(index, 1)]);
  const elapsedMs = performance.now() - started;
  assert.equal(storage.lastIndex(), 100_000);
  assert.ok(elapsedMs < 10_000, `100,000 appends took ${elapsedMs.toFixed(0)} ms`);
});
