import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asMemberId } from '../../src/base/index.ts';
import {
  encodeFrame,
  encodeFrameHeader,
  FRAME_BYTES_MAX,
  FrameDecoder,
  FrameKind,
  HANDSHAKE_FRAME_BYTES_MAX,
  type Frame,
} from '../../src/transport/frame-codec.ts';
import { FrameDecodeError } from '../../src/transport/frame-decode-error.ts';
import {
  decodeHello,
  decodeHelloAck,
  decodeMessageBatch,
  decodeSnapshotAck,
  decodeSnapshotBegin,
  encodeHello,
  encodeMessageBatch,
  encodeSnapshotBegin,
} from '../../src/transport/peer-protocol.ts';
import { messageArbitrary } from './message-arbitrary.ts';
import { entry, message, snapshotOf } from './transport-fixtures.ts';

const frameArbitrary = fc.record(
  {
    kind: fc.constantFrom(...Object.values(FrameKind)),
    body: fc.uint8Array({ maxLength: 200 }),
  },
  { noNullPrototype: true },
);

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    parts.push(bytes.subarray(start, offset));
    start = offset;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

test('frames split at arbitrary points decode to the frames that were sent', () => {
  fc.assert(
    fc.property(fc.array(frameArbitrary, { maxLength: 8 }), fc.array(fc.nat()), (frames, cuts) => {
      const stream = Uint8Array.from(frames.flatMap((f) => [...encodeFrame(f.kind, f.body)]));
      const decoder = new FrameDecoder(FRAME_BYTES_MAX);
      const decoded: Frame[] = [];
      for (const part of split(stream, cuts)) decoded.push(...decoder.push(part));
      assert.deepEqual(
        decoded.map((f) => ({ kind: f.kind, body: Uint8Array.from(f.body) })),
        frames,
      );
      assert.equal(decoder.pendingBytes, 0);
    }),
  );
});

test('an oversized frame is refused from its header alone', () => {
  const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  const header = encodeFrameHeader(FrameKind.messages, HANDSHAKE_FRAME_BYTES_MAX + 1);
  assert.throws(() => decoder.push(header), /frame of 257 bytes/);
  const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, FrameKind.messages);
  assert.throws(() => new FrameDecoder(FRAME_BYTES_MAX).push(huge), FrameDecodeError);
});

test('unknown versions and kinds are refused', () => {
  const header = encodeFrameHeader(FrameKind.messages, 0);
  assert.throws(
    () => new FrameDecoder(100).push(Uint8Array.of(...header.subarray(0, 4), 9, 3)),
    /version/,
  );
  assert.throws(
    () => new FrameDecoder(100).push(Uint8Array.of(...header.subarray(0, 5), 99)),
    /kind/,
  );
});

test('message batches round-trip, in order', () => {
  fc.assert(
    fc.property(fc.array(messageArbitrary, { minLength: 1, maxLength: 20 }), (messages) => {
      const { frame, next } = encodeMessageBatch(messages, 0);
      assert.equal(next, messages.length);
      const [decoded] = new FrameDecoder(FRAME_BYTES_MAX).push(frame);
      assert.equal(decoded.kind, FrameKind.messages);
      assert.deepEqual(decodeMessageBatch(decoded.body), messages);
    }),
    { numRuns: 300 },
  );
});

test('a streamed snapshot begins with its message and carries no inline data', () => {
  const one = asMemberId(1n);
  const two = asMemberId(2n);
  const data = new Uint8Array(1000).fill(7);
  const snap = message('MsgSnap', one, two, { snapshot: snapshotOf(data, [one, two]) });
  const [frame] = new FrameDecoder(FRAME_BYTES_MAX).push(encodeSnapshotBegin(snap));
  assert.deepEqual(decodeSnapshotBegin(frame.body), {
    ...snap,
    snapshot: { ...snap.snapshot, data: new Uint8Array(0) },
  });
});

test('the hello carries the magic, cluster and both member ids', () => {
  const hello = { clusterId: (1n << 64n) - 1n, from: asMemberId(3n), to: asMemberId(4n) };
  const [frame] = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX).push(encodeHello(hello));
  assert.deepEqual(decodeHello(frame.body), hello);
  const badMagic = frame.body.slice();
  badMagic[0] ^= 0xff;
  assert.throws(() => decodeHello(badMagic), /magic/);
});

test('random frame bodies never crash a body decoder with anything but FrameDecodeError', () => {
  const decoders = [
    decodeHello,
    decodeHelloAck,
    decodeMessageBatch,
    decodeSnapshotBegin,
    decodeSnapshotAck,
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
      for (const decode of decoders) {
        try {
          decode(body);
        } catch (error) {
          if (!(error instanceof FrameDecodeError)) throw error;
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('random byte streams never crash the frame decoder with anything but FrameDecodeError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const decoder = new FrameDecoder(4096);
      try {
        for (const chunk of chunks) decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof FrameDecodeError)) throw error;
      }
      // Whatever was not yet a frame is at most one header plus one maximal body.
      assert.ok(decoder.pendingBytes <= 6 + 4096);
    }),
    { numRuns: 3000 },
  );
});

test('a decoded batch shares no memory with the receive buffer', () => {
  const original = message('MsgApp', asMemberId(1n), asMemberId(2n), {
    entries: [entry(1, Uint8Array.of(1, 2, 3))],
  });
  const [frame] = new FrameDecoder(FRAME_BYTES_MAX).push(
    Buffer.from(encodeMessageBatch([original], 0).frame),
  );
  const [decoded] = decodeMessageBatch(frame.body);
  assert.equal(Object.getPrototypeOf(decoded.entries[0].data), Uint8Array.prototype);
  frame.body.fill(0);
  assert.deepEqual(decoded.entries[0].data, Uint8Array.of(1, 2, 3));
});
