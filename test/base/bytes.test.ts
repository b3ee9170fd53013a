import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareBytes, concatBytes, utf8Encode } from '../../src/base/index.ts';

test('compareBytes orders like unsigned lexicographic comparison', () => {
  fc.assert(
    fc.property(fc.uint8Array(), fc.uint8Array(), (left, right) => {
      const expected = Buffer.compare(Buffer.from(left), Buffer.from(right));
      assert.equal(Math.sign(compareBytes(left, right)), expected);
    }),
  );
});

test('concatBytes joins parts in order', () => {
  assert.deepEqual(
    concatBytes([utf8Encode('ab'), new Uint8Array(), utf8Encode('c')]),
    utf8Encode('abc'),
  );
});
