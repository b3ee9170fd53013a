/** The conf-change codec and the one-member-at-a-time transitions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asMemberId, BugError } from '../../src/base/index.ts';
import {
  decodeConfChange,
  encodeConfChange,
  nextConfState,
  type ConfChangeType,
} from '../../src/raft/index.ts';
import { m } from './cluster-fixture.ts';

test('encode/decode round-trips every change', () => {
  const types: ConfChangeType[] = ['add-voter', 'add-learner', 'remove-member'];
  fc.assert(
    fc.property(
      fc.constantFrom(...types),
      fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
      fc.uint8Array({ maxLength: 64 }),
      (type, id, context) => {
        const change = { type, memberId: asMemberId(id), context };
        assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
      },
    ),
    { numRuns: 2_000 },
  );
});

test('malformed encodings are bugs, not silently accepted', () => {
  const good = encodeConfChange({ type: 'add-voter', memberId: m(4), context: new Uint8Array(3) });
  assert.throws(() => decodeConfChange(good.slice(0, 5)), BugError);
  assert.throws(() => decodeConfChange(good.slice(0, good.length - 1)), BugError);
  const badType = good.slice();
  badType[1] = 9;
  assert.throws(() => decodeConfChange(badType), BugError);
});

test('transitions: add, promote, remove, and the refused ones', () => {
  const base = { voters: [m(1), m(2)], learners: [m(3)] };
  const change = (type: ConfChangeType, id: number) => ({
    type,
    memberId: m(id),
    context: new Uint8Array(),
  });
  assert.deepEqual(nextConfState(base, change('add-voter', 4))?.voters, [m(1), m(2), m(4)]);
  assert.deepEqual(nextConfState(base, change('add-voter', 3)), {
    voters: [m(1), m(2), m(3)],
    learners: [],
  });
  assert.deepEqual(nextConfState(base, change('remove-member', 2)), {
    voters: [m(1)],
    learners: [m(3)],
  });
  assert.equal(nextConfState(base, change('add-voter', 1)), null, 'already a voter');
  assert.equal(nextConfState(base, change('add-learner', 1)), null, 'no demotion');
  assert.equal(nextConfState(base, change('remove-member', 9)), null, 'not a member');
  const last = { voters: [m(1)], learners: [] };
  assert.equal(nextConfState(last, change('remove-member', 1)), null, 'keeps a voter');
});
