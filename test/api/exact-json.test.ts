/** JSON parsing for the gateway keeps 64-bit integers exact and leaves everything else alone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJsonExact, quoteLongIntegers } from '../../src/api/gateway/exact-json.ts';

test('integer literals beyond 2^53 become exact decimal strings', () => {
  assert.deepEqual(parseJsonExact('{"ID":7587855141790572293,"TTL":60}'), {
    ID: '7587855141790572293',
    TTL: 60,
  });
  assert.deepEqual(
    parseJsonExact('[-9223372036854775808, 9007199254740993, 999999999999999, 1e300, 0.5]'),
    ['-9223372036854775808', '9007199254740993', 999999999999999, 1e300, 0.5],
  );
});

test('digits inside strings, escapes included, are left as they are', () => {
  const text = '{"a\\"12345678901234567890":"x\\\\","b":"98765432109876543210"}';
  assert.equal(quoteLongIntegers(text), text);
  assert.deepEqual(parseJsonExact(text), {
    'a"12345678901234567890': 'x\\',
    b: '98765432109876543210',
  });
});

test('malformed JSON still fails to parse', () => {
  assert.throws(() => parseJsonExact('{"ID":12345678901234567890'), SyntaxError);
});
