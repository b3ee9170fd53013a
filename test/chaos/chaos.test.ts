/**
 * Short chaos runs on real sigild processes (the long ones: `npm run chaos -- --time-limit 600`
 * and `npm run chaos -- --scenario restarts --cycles 50`). Each fails with the run's report when
 * any checker finds a violation: non-linearizable history, a lost acknowledged write, a broken
 * watch guarantee, HashKV divergence, or a member that died on its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultChaosOptions } from './chaos-options.ts';
import { runChaos } from './chaos-run.ts';

test('chaos: about a minute of mixed faults on a 3-member cluster', async (t) => {
  const seed = Number(process.env.SIGIL_CHAOS_SEED ?? Date.now() % 2 ** 31);
  const result = await runChaos(
    defaultChaosOptions({ timeLimitS: 45, seed, progress: (line) => t.diagnostic(line) }),
  );
  const report = result.lines.join('\n');
  assert.ok(result.passed, `chaos run (seed ${seed}) found violations:\n${report}`);
  assert.equal(result.linearizable, 'yes', report);
  assert.equal(result.lostWrites, 0, report);
});

test('restarts under load: 10 kill/restart cycles keep the cluster writing', async (t) => {
  const seed = Number(process.env.SIGIL_CHAOS_SEED ?? Date.now() % 2 ** 31);
  const result = await runChaos(
    defaultChaosOptions({
      scenario: 'restarts',
      cycles: 10,
      seed,
      progress: (line) => t.diagnostic(line),
    }),
  );
  const report = result.lines.join('\n');
  assert.ok(result.passed, `restart run (seed ${seed}) found violations:\n${report}`);
  assert.equal(result.lostWrites, 0, report);
  // A quorum is always up; the only pauses are elections after a leader's death (1 s election
  // timeout) and the client's retry. Generous for a loaded 2-core machine.
  assert.ok(
    result.longestWriteGapMs < 8_000,
    `longest write gap ${result.longestWriteGapMs} ms\n${report}`,
  );
});
