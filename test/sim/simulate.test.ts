import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate, type SimResult } from './simulate.ts';

/** Seeds run on every `npm test`; `npm run sim -- --seeds 10000` runs the long sweep. */
const SEEDS = 300;

/** World events every sweep must have exercised, or the seeds tested less than they claim. */
const COVERAGE = [
  'crash',
  'torn-write',
  'restart',
  'partition isolate-leader',
  'partition isolate-one',
  'partition split',
  'asymmetric',
  'pause',
  'burst',
  'add',
  'promote',
  'remove',
  'transfer',
  'snapshot',
  'probe',
  // The real WAL disk: a crash flipped a synced bit, and the restart reported it.
  'bit-rot',
  'disk-failed',
];

test(`simulator: ${SEEDS} seeds across all fault classes violate nothing`, async () => {
  const failures: string[] = [];
  const totals = new Map<string, number>();
  const sizes = new Set<number>();
  const disks = new Set<string>();
  let opsChecked = 0;
  for (let seed = 0; seed < SEEDS; seed++) {
    const result: SimResult = await simulate({ seed });
    opsChecked += result.opsChecked;
    sizes.add(Number(/members=(\d+)/.exec(result.description)?.[1]));
    disks.add(/disk=(\w+)/.exec(result.description)?.[1] ?? '?');
    // Every injected bit flip made its member's restart fail: corruption is never skipped.
    const injected = result.stats['bit-rot'] ?? 0;
    if (result.violations.length === 0 && injected !== (result.stats['disk-failed'] ?? 0)) {
      failures.push(
        `seed ${seed}: ${injected} bit flips injected, ${result.stats['disk-failed']} detected`,
      );
    }
    for (const [kind, count] of Object.entries(result.stats)) {
      totals.set(kind, (totals.get(kind) ?? 0) + count);
    }
    const first = result.violations[0];
    if (first !== undefined) {
      failures.push(
        `seed ${seed}: ${first.property}: ${first.detail}\n` +
          `  replay: npm run sim -- --seeds 1 --start ${seed} --trace`,
      );
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  for (const kind of COVERAGE) {
    assert.ok((totals.get(kind) ?? 0) > 0, `no seed exercised "${kind}"`);
  }
  assert.deepEqual([...sizes].sort(), [1, 3, 5, 7], 'every cluster size was drawn');
  assert.deepEqual([...disks].sort(), ['model', 'wal'], 'both disks were drawn');
  assert.ok(opsChecked > SEEDS * 50, `only ${opsChecked} client operations were checked`);
});

test('simulator: single-member and seven-member clusters', async () => {
  for (const memberCount of [1, 7]) {
    for (let seed = 0; seed < 10; seed++) {
      const result = await simulate({ seed, memberCount });
      assert.deepEqual(result.violations, [], `--members ${memberCount} --start ${seed}`);
    }
  }
});
