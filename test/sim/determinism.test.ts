import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate } from './simulate.ts';

test('simulator: a seed replays exactly (20 seeds, run twice)', () => {
  for (let seed = 500; seed < 520; seed++) {
    const first = simulate({ seed });
    const second = simulate({ seed });
    assert.equal(second.traceHash, first.traceHash, `seed ${seed} diverged`);
    assert.equal(second.steps, first.steps);
    assert.equal(second.opsChecked, first.opsChecked);
  }
});

test('simulator: different seeds give different traces', () => {
  const hashes = new Set<string>();
  for (let seed = 0; seed < 20; seed++) hashes.add(simulate({ seed }).traceHash);
  assert.equal(hashes.size, 20);
});

test('simulator: the kept trace is the hashed one', () => {
  const withLines = simulate({ seed: 3, keepTrace: true });
  const without = simulate({ seed: 3 });
  assert.equal(withLines.traceHash, without.traceHash);
  assert.ok(withLines.trace !== null && withLines.trace.length > 100);
  assert.ok(withLines.trace.some((line) => line.includes('deliver MsgApp')));
  assert.ok(withLines.trace.some((line) => line.includes('call c0')));
});
