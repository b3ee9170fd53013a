import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asMemberId, asTerm, SeededRandom } from '../../src/base/index.ts';
import type { Entry, HardState } from '../../src/raft/index.ts';
import { SimDisk } from './sim-disk.ts';

const entry = (index: number, term: number): Entry => ({
  index: asLogIndex(index),
  term: asTerm(term),
  type: 'normal',
  data: new Uint8Array([index]),
});
const hardState = (term: number, commit: number): HardState => ({
  term: asTerm(term),
  vote: asMemberId(1n),
  commit: asLogIndex(commit),
});
const noTear = { tornWrite: false, corrupt: false };
const indexes = (entries: readonly Entry[]): number[] => entries.map((e) => e.index);

test('sim disk: synced writes survive a crash, unsynced ones do not', () => {
  const disk = new SimDisk();
  disk.persist(
    { snapshot: null, entries: [entry(1, 1), entry(2, 1)], hardState: hardState(1, 1) },
    true,
  );
  disk.persist({ snapshot: null, entries: [entry(3, 1)], hardState: hardState(1, 3) }, false);
  const report = disk.crash(new SeededRandom(1), noTear);
  assert.equal(report.unsyncedWrites, 2);
  const recovered = disk.recover();
  assert.deepEqual(indexes(recovered.entries), [1, 2]);
  assert.equal(recovered.hardState?.commit, 1);
});

test('sim disk: an fsync makes every earlier write durable', () => {
  const disk = new SimDisk();
  disk.persist({ snapshot: null, entries: [entry(1, 1)], hardState: null }, false);
  disk.persist({ snapshot: null, entries: [entry(2, 1)], hardState: hardState(1, 2) }, true);
  disk.crash(new SeededRandom(1), noTear);
  assert.deepEqual(indexes(disk.recover().entries), [1, 2]);
});

test('sim disk: appending at an index truncates the conflicting suffix', () => {
  const disk = new SimDisk();
  disk.persist(
    { snapshot: null, entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: null },
    true,
  );
  disk.persist({ snapshot: null, entries: [entry(2, 2)], hardState: null }, true);
  const recovered = disk.recover().entries;
  assert.deepEqual(indexes(recovered), [1, 2]);
  assert.equal(recovered[1].term, 2);
});

test('sim disk: a torn write keeps a prefix of the unsynced writes, in order', () => {
  let sawPartialBatch = false;
  let sawSomeSurvive = false;
  for (let seed = 0; seed < 200; seed++) {
    const disk = new SimDisk();
    disk.persist({ snapshot: null, entries: [entry(1, 1)], hardState: hardState(1, 1) }, true);
    disk.persist(
      {
        snapshot: null,
        entries: [entry(2, 1), entry(3, 1), entry(4, 1)],
        hardState: hardState(1, 4),
      },
      false,
    );
    const report = disk.crash(new SeededRandom(seed), { tornWrite: true, corrupt: false });
    const recovered = disk.recover();
    const last = recovered.entries[recovered.entries.length - 1].index;
    assert.deepEqual(
      indexes(recovered.entries),
      Array.from({ length: last }, (_, i) => i + 1),
    );
    // The hard state is written after its entries, so it survives only with all of them.
    if (recovered.hardState?.commit === 4) assert.equal(last, 4);
    if (report.tornEntries) sawPartialBatch = true;
    if (last > 1) sawSomeSurvive = true;
  }
  assert.ok(sawPartialBatch, 'some crash tore a batch of entries');
  assert.ok(sawSomeSurvive, 'some crash kept unsynced entries');
});

test('sim disk: an application snapshot releases the log before it', () => {
  const disk = new SimDisk();
  disk.persist(
    {
      snapshot: null,
      entries: [entry(1, 1), entry(2, 1), entry(3, 1)],
      hardState: hardState(1, 3),
    },
    false,
  );
  disk.saveSnapshot({
    metadata: { index: asLogIndex(2), term: asTerm(1), confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  });
  disk.crash(new SeededRandom(1), noTear);
  const recovered = disk.recover();
  assert.equal(recovered.snapshot?.metadata.index, 2);
  assert.deepEqual(indexes(recovered.entries), [3]);
});
