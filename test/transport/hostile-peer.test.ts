import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { asMemberId, asTerm, type MemberId } from '../../src/base/index.ts';
import { encodeFrame, FrameKind } from '../../src/transport/frame-codec.ts';
import { encodeHello, encodeMessageBatch } from '../../src/transport/peer-protocol.ts';
import {
  CLUSTER_ID,
  connectAll,
  message,
  startNode,
  waitFor,
  type Node,
} from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 15_000;
/** A member id that the victim knows as a peer but that no real transport plays. */
const IMPOSTOR = asMemberId(9n);

/** Connects a raw socket, writes `bytes`, and resolves once the remote side has closed it. */
async function sendRaw(t: TestContext, port: number, chunks: readonly Uint8Array[]): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  // Read (and ignore) whatever the victim answers; a paused socket would never see the close.
  socket.resume();
  for (const chunk of chunks) socket.write(chunk);
  await closed;
}

function hello(from: MemberId, to: MemberId): Uint8Array {
  return encodeHello({ clusterId: CLUSTER_ID, from, to });
}

async function pair(t: TestContext): Promise<[Node, Node]> {
  const a = await startNode(1, { limits: { handshakeTimeoutMs: 300 } });
  const b = await startNode(2, { limits: { handshakeTimeoutMs: 300 } });
  t.after(() => Promise.all([a.transport.stop(), b.transport.stop()]));
  connectAll([a, b]);
  // The impostor's URL points nowhere useful; b only needs to recognise the id.
  b.transport.addPeer(IMPOSTOR, ['http://127.0.0.1:1']);
  return [a, b];
}

/** After whatever abuse b suffered, a's messages must still arrive. */
async function assertStillServing(a: Node, b: Node, term: number): Promise<void> {
  a.transport.send([message('MsgHeartbeat', a.id, b.id, { term: asTerm(term) })]);
  await waitFor(`heartbeat of term ${term}`, () => b.received.some((m) => m.term === term));
}

const garbageCases: { name: string; chunks: () => Uint8Array[] }[] = [
  {
    name: 'an HTTP request',
    chunks: () => [new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  },
  {
    name: 'a hello with bad magic',
    chunks: () => {
      const frame = hello(IMPOSTOR, asMemberId(2n));
      frame[6] ^= 0xff;
      return [frame];
    },
  },
  {
    name: 'a message batch before any hello',
    chunks: () => [
      encodeMessageBatch([message('MsgHeartbeat', IMPOSTOR, asMemberId(2n))], 0).frame,
    ],
  },
  {
    name: 'a valid hello, then a frame of random bytes',
    chunks: () => [
      hello(IMPOSTOR, asMemberId(2n)),
      encodeFrame(FrameKind.messages, Uint8Array.of(0, 0, 0, 9, 1, 2, 3)),
    ],
  },
  {
    name: 'a valid hello, then a message claiming another sender',
    chunks: () => [
      hello(IMPOSTOR, asMemberId(2n)),
      encodeMessageBatch([message('MsgVote', asMemberId(1n), asMemberId(2n))], 0).frame,
    ],
  },
  {
    name: 'a batch whose second message claims another sender',
    chunks: () => [
      hello(IMPOSTOR, asMemberId(2n)),
      encodeMessageBatch(
        [
          message('MsgHeartbeat', IMPOSTOR, asMemberId(2n)),
          message('MsgVote', asMemberId(1n), asMemberId(2n)),
        ],
        0,
      ).frame,
    ],
  },
  {
    name: 'a valid hello, then a 1 GiB frame header',
    chunks: () => [
      hello(IMPOSTOR, asMemberId(2n)),
      Uint8Array.of(0x40, 0, 0, 0, 1, FrameKind.snapshotChunk),
    ],
  },
  {
    name: 'a valid hello, then a snapshot chunk with no snapshot',
    chunks: () => [
      hello(IMPOSTOR, asMemberId(2n)),
      encodeFrame(FrameKind.snapshotChunk, Uint8Array.of(1)),
    ],
  },
  { name: 'nothing at all (handshake timeout)', chunks: () => [] },
];

test(
  'garbage closes the connection and the transport keeps serving good peers',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await pair(t);
    await assertStillServing(a, b, 1);
    let term = 2;
    for (const { name, chunks } of garbageCases) {
      const warningsBefore = b.logger.lines.filter((line) => line.level === 'warn').length;
      await sendRaw(t, b.transport.listeningPort(), chunks());
      const warnings =
        b.logger.lines.filter((line) => line.level === 'warn').length - warningsBefore;
      assert.ok(warnings >= 1, `${name}: the closed connection was logged`);
      await assertStillServing(a, b, term++);
    }
    assert.ok(
      b.received.every((m) => m.from === a.id),
      'nothing from the impostor was delivered',
    );
  },
);

test('a hello for another member is refused', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const [a, b] = await pair(t);
  await sendRaw(t, b.transport.listeningPort(), [hello(IMPOSTOR, asMemberId(77n))]);
  assert.ok(b.logger.lines.some((line) => line.fields.status === 'wrong-recipient'));
  await assertStillServing(a, b, 5);
});

test(
  'a hello from a member that is not a peer is refused',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await pair(t);
    await sendRaw(t, b.transport.listeningPort(), [hello(asMemberId(1234n), asMemberId(2n))]);
    assert.ok(b.logger.lines.some((line) => line.fields.status === 'unknown-sender'));
    await assertStillServing(a, b, 6);
  },
);
