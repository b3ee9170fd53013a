import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asMemberId, asTerm, SeededRandom } from '../../src/base/index.ts';
import type { Entry, HardState } from '../../src/raft/index.ts';
import { DiskUnreadableError, type DurableState } from './sim-disk.ts';
import { simulate } from './simulate.ts';
import { WalDisk } from './wal-disk.ts';

const entry = (index: number, term: number): Entry => ({
  index: asLogIndex(index),
  term: asTerm(term),
  type: 'normal',
  data: new Uint8Array(40).fill(index),
});
const hardState = (term: number, commit: number): HardState => ({
  term: asTerm(term),
  vote: asMemberId(1n),
  commit: asLogIndex(commit),
});
const indexes = (state: DurableState): number[] => state.entries.map((e) => e.index);
const keep = { tornWrite: false, corrupt: false };

/** A WAL disk formatted with entries 1..3 and settled, as a founder's before its first start. */
async function formattedDisk(seed = 1): Promise<WalDisk> {
  const disk = new WalDisk({ random: new SeededRandom(seed), segmentBytes: 4096, memberId: 1 });
  disk.format({
    hardState: hardState(1, 3),
    snapshot: null,
    entries: [entry(1, 1), entry(2, 1), entry(3, 1)],
  });
  await disk.settled();
  return disk;
}

test('wal disk: what format wrote is what the first start reads', async () => {
  const disk = await formattedDisk();
  const recovered = disk.recover();
  assert.deepEqual(indexes(recovered), [1, 2, 3]);
  assert.equal(recovered.hardState?.commit, 3);
});

test('wal disk: mustSync=false writes are lost by a crash, synced ones are not', async () => {
  const disk = await formattedDisk();
  disk.recover();
  disk.persist({ snapshot: null, entries: [entry(4, 2)], hardState: hardState(2, 3) }, true);
  disk.persist({ snapshot: null, entries: [], hardState: hardState(2, 4) }, false);
  await disk.settled();
  const report = disk.crash(new SeededRandom(1), keep);
  assert.equal(report.unsyncedWrites, 1);
  await disk.settled();
  const recovered = disk.recover();
  assert.deepEqual(indexes(recovered), [1, 2, 3, 4]);
  assert.equal(recovered.hardState?.commit, 3, 'the unsynced commit index was lost');
});

test('wal disk: an application snapshot releases the log and survives a restart', async () => {
  const disk = await formattedDisk();
  disk.recover();
  for (let i = 4; i <= 200; i++) {
    disk.persist({ snapshot: null, entries: [entry(i, 1)], hardState: hardState(1, i) }, true);
  }
  await disk.settled();
  const segmentsBefore = (await disk.fs.readdir('/data/member/wal')).length;
  disk.saveSnapshot({
    metadata: { index: asLogIndex(190), term: asTerm(1), confState: { voters: [], learners: [] } },
    data: new Uint8Array([7]),
  });
  await disk.settled();
  assert.ok((await disk.fs.readdir('/data/member/wal')).length < segmentsBefore, 'released');
  disk.crash(new SeededRandom(1), keep);
  await disk.settled();
  const recovered = disk.recover();
  assert.equal(recovered.snapshot?.metadata.index, 190);
  assert.deepEqual(indexes(recovered), [191, 192, 193, 194, 195, 196, 197, 198, 199, 200]);
});

test('wal disk: an injected bit flip fails the restart with the file and offset, every time', async () => {
  for (let seed = 0; seed < 40; seed++) {
    const disk = await formattedDisk(seed);
    disk.recover();
    for (let i = 4; i <= 40 + seed; i++) {
      disk.persist({ snapshot: null, entries: [entry(i, 1)], hardState: hardState(1, i) }, true);
    }
    disk.persist({ snapshot: null, entries: [], hardState: hardState(1, 41 + seed) }, false);
    await disk.settled();
    const report = disk.crash(new SeededRandom(seed), { tornWrite: seed % 2 === 0, corrupt: true });
    assert.ok(report.corrupted);
    await disk.settled();
    const flip = disk.injectedFlip;
    assert.ok(flip !== null);
    assert.throws(
      () => disk.recover(),
      (error: unknown) =>
        error instanceof DiskUnreadableError &&
        error.message.includes(flip.file) &&
        /at offset \d+/.test(error.message),
      `seed ${seed}: flip in ${flip.file} at ${flip.offset} must be reported`,
    );
  }
});

test('simulator: every bit flip injected into a WAL is detected at the restart', async () => {
  let injected = 0;
  let excused = 0;
  for (let seed = 0; seed < 12; seed++) {
    const result = await simulate({ seed, disk: 'wal', memberCount: 3 });
    assert.deepEqual(result.violations, [], `npm run sim -- --seeds 1 --start ${seed} --disk wal`);
    const flips = result.stats['bit-rot'] ?? 0;
    assert.equal(result.stats['disk-failed'] ?? 0, flips, `seed ${seed}: a flip went undetected`);
    injected += flips;
    excused += result.stats['liveness'] ?? 0;
  }
  assert.ok(injected >= 3, `only ${injected} flips were injected`);
  assert.ok(excused < 12, 'most seeds still owed (and delivered) liveness');
});
