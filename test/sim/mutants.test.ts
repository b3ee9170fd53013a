import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MUTANTS } from '../../src/raft/index.ts';
import { simulate } from './simulate.ts';

/** Each mutant must be caught within this many seeds (the target is well under it). */
const SEEDS_MAX = 200;

for (const mutant of MUTANTS) {
  test(`simulator catches the ${mutant} mutant within ${SEEDS_MAX} seeds`, async (context) => {
    for (let seed = 0; seed < SEEDS_MAX; seed++) {
      const mutated = await simulate({ seed, mutant });
      if (mutated.violations.length === 0) continue;
      // A catch counts only if the same world passes with the unmodified core, so an unrelated
      // bug cannot make this test pass.
      const baseline = await simulate({ seed });
      if (baseline.violations.length > 0) continue;
      const first = mutated.violations[0];
      context.diagnostic(`caught at seed ${seed} by ${first.property}: ${first.detail}`);
      return;
    }
    assert.fail(`${mutant} survived ${SEEDS_MAX} seeds`);
  });
}
