import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asMemberId } from '../../src/base/index.ts';
import { connectAll, fakePeer, message, startNode, waitFor } from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 10_000;
const limits = { pingIntervalMs: 20, peerIdleTimeoutMs: 100 };

test('pings keep an idle stream up in both directions', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await startNode(1, { limits });
  const b = await startNode(2, { limits });
  t.after(() => Promise.all([a.transport.stop(), b.transport.stop()]));
  connectAll([a, b]);
  a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
  await waitFor('stream up', () => b.received.length === 1);
  // Five idle timeouts without a single raft message.
  await new Promise((resolve) => setTimeout(resolve, 5 * limits.peerIdleTimeoutMs));
  assert.ok(a.transport.peerStats(b.id)?.connected);
  for (const node of [a, b]) {
    assert.ok(!node.logger.has('warn', 'silent'), 'no side gave up on a live peer');
    assert.equal(
      node.logger.lines.filter((line) => line.message === 'peer stream connected').length,
      1,
    );
  }
});

test(
  'a peer that stops answering is dropped, reported and redialled',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    // Completes the handshake, then swallows everything: a host that vanished mid-connection.
    const url = await fakePeer(t, () => {});
    const a = await startNode(1, { limits });
    t.after(() => a.transport.stop());
    const silent = asMemberId(2n);
    a.transport.addPeer(silent, [url]);
    await waitFor('stream up', () => a.transport.peerStats(silent)?.connected === true);
    await waitFor('the silence noticed', () => a.logger.has('warn', 'peer stream silent'));
    await waitFor('unreachable report', () => a.unreachable.includes(silent));
    await waitFor(
      'a redial',
      () => a.logger.lines.filter((line) => line.message === 'peer stream connected').length >= 2,
    );
  },
);

test(
  'a member that was busy does not blame its peers for its own silence',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const a = await startNode(1, { limits });
    const b = await startNode(2, { limits });
    t.after(() => Promise.all([a.transport.stop(), b.transport.stop()]));
    connectAll([a, b]);
    a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
    await waitFor('stream up', () => b.received.length === 1);
    for (let round = 0; round < 3; round++) {
      // Block the event loop for three idle timeouts, like a long synchronous apply would.
      const until = performance.now() + 3 * limits.peerIdleTimeoutMs;
      while (performance.now() < until) {
        // Busy on purpose.
      }
      await new Promise((resolve) => setTimeout(resolve, limits.pingIntervalMs * 2));
    }
    for (const node of [a, b])
      assert.ok(!node.logger.has('warn', 'silent'), 'a stall is not a dead peer');
    assert.ok(a.transport.peerStats(b.id)?.connected);
  },
);
