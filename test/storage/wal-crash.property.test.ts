/**
 * Property: for random workloads of concurrent saves and every crash point, recovery yields
 * every acknowledged record, possibly some later complete ones, in order, and never anything
 * that was not written. Crash points are enumerated by halting the faulty disk after n mutating
 * operations, then cutting the power (dropping, keeping a random prefix of, or tearing what was
 * not synced).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Entry, HardState } from '../../src/raft/types.ts';
import { createWal, openWal, type CrashOptions } from '../../src/storage/index.ts';
import { faultyDisk, makeEntry, makeHardState, metadata, settle, walDir } from './wal-test-kit.ts';

interface SaveSpec {
  readonly entryCount: number;
  readonly entryBytes: number;
  readonly withHardState: boolean;
}

interface Scenario {
  readonly batches: readonly (readonly SaveSpec[])[];
  readonly crash: CrashOptions;
  readonly seed: number;
}

interface IssuedSave {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** Entries issued up to and including this save. */
  readonly entriesThrough: number;
}

const segmentBytes = 4096;
const options = { segmentBytes };

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  batches: fc.array(
    fc.array(
      fc.record({
        entryCount: fc.integer({ min: 0, max: 3 }),
        entryBytes: fc.integer({ min: 0, max: 900 }),
        withHardState: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    { minLength: 1, maxLength: 6 },
  ),
  crash: fc.record({
    keepUnsynced: fc.constantFrom<CrashOptions['keepUnsynced']>('none', 'random', 'all'),
    tornWrite: fc.boolean(),
  }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

function planSaves(scenario: Scenario): IssuedSave[][] {
  let nextIndex = 1;
  let saveNumber = 0;
  return scenario.batches.map((batch) =>
    batch.map((spec) => {
      saveNumber++;
      const entries: Entry[] = [];
      for (let i = 0; i < spec.entryCount; i++)
        entries.push(makeEntry(nextIndex++, 1, spec.entryBytes));
      // Commit doubles as the save's number, so a recovered hard state names its save.
      const hardState = spec.withHardState ? makeHardState(1, saveNumber) : null;
      return { entries, hardState, entriesThrough: nextIndex - 1 };
    }),
  );
}

/** Runs the workload, halting the disk after `haltAfter` mutations; returns acked saves. */
async function runWorkload(scenario: Scenario, haltAfter: number | null) {
  const fs = faultyDisk(scenario.seed);
  const { wal } = await createWal(fs, walDir, metadata, options);
  const start = fs.mutationCount;
  if (haltAfter !== null) fs.haltAfter(haltAfter);
  const plan = planSaves(scenario);
  const acknowledged: IssuedSave[] = [];
  for (const batch of plan) {
    const results = await Promise.allSettled(
      batch.map((save) => wal.save(save.hardState, save.entries).then(() => save)),
    );
    for (const result of results)
      if (result.status === 'fulfilled') acknowledged.push(result.value);
  }
  await settle();
  return { fs, wal, plan: plan.flat(), acknowledged, mutations: fs.mutationCount - start };
}

async function checkCrashPoint(scenario: Scenario, haltAfter: number): Promise<void> {
  const { fs, plan, acknowledged } = await runWorkload(scenario, haltAfter);
  fs.crash(scenario.crash);
  const recovered = await openWal(fs, walDir, options);
  const allEntries = plan.flatMap((save) => save.entries);
  const ackedEntries =
    acknowledged.length === 0 ? 0 : acknowledged[acknowledged.length - 1].entriesThrough;
  // Acknowledgements come in issue order, so the acknowledged saves are a prefix of the plan.
  acknowledged.forEach((save, k) => assert.equal(save, plan[k]));
  assert.ok(recovered.entries.length >= ackedEntries, 'an acknowledged entry was lost');
  recovered.entries.forEach((entry, k) => assert.deepEqual(entry, allEntries[k]));
  checkHardState(recovered.hardState, plan, acknowledged.length, recovered.entries.length);
  // The recovered WAL accepts new records and reads them back.
  await recovered.wal.save(null, [makeEntry(recovered.entries.length + 1, 2)]);
  fs.crash();
  const reopened = await openWal(fs, walDir, options);
  assert.equal(reopened.entries.length, recovered.entries.length + 1);
  await reopened.wal.close();
}

function checkHardState(
  hardState: HardState,
  plan: readonly IssuedSave[],
  acknowledgedCount: number,
  recoveredEntries: number,
): void {
  const saveNumber = hardState.commit; // 0: the initial hard state
  const lastAckedWithState = plan
    .slice(0, acknowledgedCount)
    .reduce((found, save, k) => (save.hardState !== null ? k + 1 : found), 0);
  assert.ok(saveNumber >= lastAckedWithState, 'an acknowledged hard state was lost');
  if (saveNumber > 0) {
    assert.notEqual(plan[saveNumber - 1].hardState, null, 'a hard state that was never written');
    assert.ok(recoveredEntries >= plan[saveNumber - 1].entriesThrough, 'state before entries');
  }
  // The next hard state after the recovered one was not recovered, so nothing after it was.
  const next = plan.findIndex((save, k) => k >= saveNumber && save.hardState !== null);
  if (next >= 0) assert.ok(recoveredEntries <= plan[next].entriesThrough, 'records out of order');
}

test('recovery after a crash at every point keeps exactly the acknowledged prefix', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArbitrary, async (scenario) => {
      const dryRun = await runWorkload(scenario, null);
      await dryRun.wal.close();
      // Every crash point up to the end, thinned out for long runs to bound the test's time.
      const step = Math.max(1, Math.floor(dryRun.mutations / 40));
      for (let haltAfter = 0; haltAfter <= dryRun.mutations; haltAfter += step) {
        await checkCrashPoint(scenario, haltAfter);
      }
    }),
    { numRuns: 40, seed: 20261125, includeErrorInReport: true },
  );
});
