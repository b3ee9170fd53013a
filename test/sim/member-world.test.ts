/**
 * The member world: real SigilMembers under the deterministic simulator. A batch of seeds must
 * pass every checker, a seed must replay to the same trace, and deliberately broken glue
 * (test/sim/member-world/glue-mutants.ts) must be caught, or the checkers have no teeth.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyGlueMutant, GLUE_MUTANTS } from './member-world/glue-mutants.ts';
import {
  simulateMemberWorld,
  type MemberWorldResult,
} from './member-world/simulate-member-world.ts';

const SEEDS = 20;
const DETERMINISM_SEEDS = 10;
/** A mutant must be caught within this many seeds (each is caught by seed 2 today). */
const MUTANT_SEEDS_MAX = 8;

const failure = (result: MemberWorldResult): string =>
  `seed ${result.seed}: ${result.violations.map((v) => `${v.property}: ${v.detail}`).join('; ')}\n` +
  `  world: ${result.description}\n` +
  `  replay: npm run sim -- --world member --seeds 1 --start ${result.seed} --trace`;

describe('member world', { timeout: 300_000 }, () => {
  const firstRun = new Map<number, string>();

  it(`passes every checker on seeds 0..${SEEDS - 1}`, async () => {
    let opsChecked = 0;
    for (let seed = 0; seed < SEEDS; seed++) {
      const result = await simulateMemberWorld({ seed });
      assert.deepEqual(result.violations, [], failure(result));
      opsChecked += result.opsChecked;
      firstRun.set(seed, result.traceHash);
    }
    // The workload really ran: a world where clients never got through would pass vacuously.
    assert.ok(opsChecked > SEEDS * 20, `only ${opsChecked} operations checked`);
  });

  it(`replays ${DETERMINISM_SEEDS} seeds to the same trace`, async () => {
    for (let seed = 0; seed < DETERMINISM_SEEDS; seed++) {
      const first = firstRun.get(seed) ?? (await simulateMemberWorld({ seed })).traceHash;
      const again = await simulateMemberWorld({ seed });
      assert.equal(again.traceHash, first, `seed ${seed} did not replay exactly`);
    }
  });

  for (const mutant of GLUE_MUTANTS) {
    it(`catches the glue mutant ${mutant}`, async () => {
      const restore = applyGlueMutant(mutant);
      try {
        let caught: MemberWorldResult | null = null;
        for (let seed = 0; seed < MUTANT_SEEDS_MAX && caught === null; seed++) {
          const result = await simulateMemberWorld({ seed });
          if (result.violations.length > 0) caught = result;
        }
        assert.ok(caught !== null, `${mutant} survived ${MUTANT_SEEDS_MAX} seeds`);
      } finally {
        restore();
      }
    });
  }
});
