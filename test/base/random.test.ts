import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/index.ts';

test('the same seed gives the same stream', () => {
  const left = new SeededRandom(42);
  const right = new SeededRandom(42);
  for (let i = 0; i < 1000; i++) assert.equal(left.nextUint32(), right.nextUint32());
});

test('neighbouring seeds give different streams', () => {
  const left = new SeededRandom(1);
  const right = new SeededRandom(2);
  let same = 0;
  for (let i = 0; i < 1000; i++) if (left.nextUint32() === right.nextUint32()) same++;
  assert.ok(same < 5, `streams overlap in ${same} of 1000 draws`);
});

test('int stays in bounds and covers every value', () => {
  const random = new SeededRandom(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const value = random.int(10);
    assert.ok(Number.isInteger(value) && value >= 0 && value < 10, `out of range: ${value}`);
    seen.add(value);
  }
  assert.equal(seen.size, 10);
  assert.throws(() => random.int(0), RangeError);
});
