import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asLogIndex, asMemberId, asTerm, BugError } from '../../src/base/index.ts';
import {
  decodeMessage,
  encodeMessage,
  estimateMessageBytes,
  FrameDecodeError,
  isLocalMessageType,
} from '../../src/transport/index.ts';
import { messageArbitrary } from './message-arbitrary.ts';
import { message } from './transport-fixtures.ts';

/** Runs `decode` and reports whether it failed the only way it may: with FrameDecodeError. */
function decodesOrRejectsCleanly(input: Uint8Array): boolean {
  try {
    decodeMessage(input);
    return true;
  } catch (error) {
    if (error instanceof FrameDecodeError) return false;
    throw error;
  }
}

test('every message survives an encode/decode round trip', () => {
  fc.assert(
    fc.property(messageArbitrary, (original) => {
      const encoded = encodeMessage(original);
      assert.ok(encoded.length <= estimateMessageBytes(original), 'the estimate is an upper bound');
      assert.deepEqual(decodeMessage(encoded), original);
    }),
    { numRuns: 1000 },
  );
});

test('encoding is canonical: re-encoding a decoded message gives the same bytes', () => {
  fc.assert(
    fc.property(messageArbitrary, (original) => {
      const encoded = encodeMessage(original);
      assert.deepEqual(encodeMessage(decodeMessage(encoded)), encoded);
    }),
  );
});

test('small messages stay small on the wire', () => {
  const one = asMemberId(1n);
  const two = asMemberId(2n);
  const heartbeat = message('MsgHeartbeat', one, two, { term: asTerm(5), commit: asLogIndex(90) });
  // type + two ids + five varints + flags + entry count + context length.
  assert.equal(encodeMessage(heartbeat).length, 1 + 16 + 5 + 1 + 1 + 1);
});

test('member ids use all 64 bits', () => {
  const max = asMemberId((1n << 64n) - 1n);
  const decoded = decodeMessage(encodeMessage(message('MsgVote', max, asMemberId(1n))));
  assert.equal(decoded.from, max);
});

test('local message types are refused on both sides', () => {
  const one = asMemberId(1n);
  assert.ok(isLocalMessageType('MsgHup'));
  assert.throws(() => encodeMessage(message('MsgBeat', one, one)), BugError);
  const encoded = encodeMessage(message('MsgHeartbeat', one, one));
  encoded[0] = 0; // MsgHup's code
  assert.throws(() => decodeMessage(encoded), FrameDecodeError);
});

const hostileCases: { name: string; mutate: (encoded: Uint8Array) => Uint8Array }[] = [
  { name: 'unknown message type', mutate: (e) => withByte(e, 0, 200) },
  { name: 'trailing byte', mutate: (e) => Uint8Array.of(...e, 0) },
  { name: 'truncated', mutate: (e) => e.subarray(0, e.length - 1) },
  { name: 'unknown flag bit', mutate: (e) => withByte(e, 22, 0x80) },
  { name: 'empty input', mutate: () => new Uint8Array(0) },
];

function withByte(encoded: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = encoded.slice();
  copy[offset] = value;
  return copy;
}

test('malformed messages are rejected with FrameDecodeError', () => {
  const one = asMemberId(1n);
  const base = encodeMessage(message('MsgHeartbeat', one, asMemberId(2n)));
  for (const { name, mutate } of hostileCases) {
    assert.throws(() => decodeMessage(mutate(base)), FrameDecodeError, name);
  }
});

test('an absurd entry count fails before allocating for it', () => {
  const one = asMemberId(1n);
  const encoded = encodeMessage(message('MsgApp', one, asMemberId(2n)));
  // Replace the entry count (offset 23) with a 2^49 varint followed by the context length.
  const hostile = Uint8Array.of(
    ...encoded.subarray(0, 23),
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x80,
    0x01,
    0,
  );
  assert.throws(() => decodeMessage(hostile), /entry count/);
});

test('a length prefix beyond the input is rejected, not trusted', () => {
  const one = asMemberId(1n);
  const encoded = encodeMessage(message('MsgReadIndex', one, asMemberId(2n)));
  // The last byte is the context length (0); claim 50 bytes that are not there.
  assert.throws(() => decodeMessage(withByte(encoded, encoded.length - 1, 50)), FrameDecodeError);
});

test('overlong varints are rejected so every value has one encoding', () => {
  const one = asMemberId(1n);
  const encoded = encodeMessage(message('MsgHeartbeat', one, one, { term: asTerm(0) }));
  // term sits at offset 17; 0x80 0x00 is an overlong zero.
  const hostile = Uint8Array.of(...encoded.subarray(0, 17), 0x80, 0x00, ...encoded.subarray(18));
  assert.throws(() => decodeMessage(hostile), /overlong/);
});

test('random bytes never crash the decoder with anything but FrameDecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (input) => {
      decodesOrRejectsCleanly(input);
    }),
    { numRuns: 10_000 },
  );
});

test('mutated valid messages never crash the decoder with anything but FrameDecodeError', () => {
  const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(messageArbitrary, mutation, fc.nat(8), (original, flips, cut) => {
      const encoded = encodeMessage(original).slice();
      for (const [position, value] of flips) encoded[position % encoded.length] = value;
      const input = encoded.subarray(0, Math.max(0, encoded.length - cut));
      if (decodesOrRejectsCleanly(input)) {
        // Whatever decodes must re-encode to exactly the same bytes: no silent coercion.
        assert.deepEqual(encodeMessage(decodeMessage(input)), input);
      }
    }),
    { numRuns: 3000 },
  );
});

test('decoding from a Buffer yields plain, unaliased byte arrays', () => {
  const one = asMemberId(1n);
  const original = message('MsgApp', one, asMemberId(2n), {
    entries: [
      { term: asTerm(1), index: asLogIndex(1), type: 'normal', data: Uint8Array.of(1, 2, 3) },
    ],
  });
  const received = Buffer.from(encodeMessage(original));
  const decoded = decodeMessage(received);
  assert.equal(Object.getPrototypeOf(decoded.entries[0].data), Uint8Array.prototype);
  received.fill(0);
  assert.deepEqual(decoded.entries[0].data, Uint8Array.of(1, 2, 3));
});
