import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { asLogIndex, asMemberId, asTerm } from '../../src/base/index.ts';
import {
  CLUSTER_ID,
  connectAll,
  entry,
  message,
  startNode,
  waitFor,
  type Node,
} from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 15_000;

/** Starts nodes that are stopped when the test ends, whatever its outcome. */
async function cluster(t: TestContext, ids: readonly number[]): Promise<Node[]> {
  const nodes = await Promise.all(ids.map((id) => startNode(id)));
  t.after(() => Promise.all(nodes.map((node) => node.transport.stop())));
  return nodes;
}

test(
  'two transports exchange messages in order, both ways',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await cluster(t, [1, 2]);
    connectAll([a, b]);
    for (let i = 1; i <= 50; i++) {
      a.transport.send([message('MsgApp', a.id, b.id, { index: asLogIndex(i) })]);
      b.transport.send([message('MsgAppResp', b.id, a.id, { index: asLogIndex(i) })]);
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(
      '50 messages each way',
      () => a.received.length === 50 && b.received.length === 50,
    );
    assert.deepEqual(
      b.received.map((m) => m.index),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.ok(b.received.every((m) => m.type === 'MsgApp' && m.from === a.id && m.to === b.id));
    assert.deepEqual(
      a.received.map((m) => m.index),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  },
);

test(
  'three transports talk all-to-all with entries intact',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const nodes = await cluster(t, [11, 12, 13]);
    connectAll(nodes);
    const payload = new Uint8Array(300).map((_, i) => i % 251);
    for (const from of nodes) {
      const messages = nodes
        .filter((to) => to !== from)
        .map((to) =>
          message('MsgApp', from.id, to.id, { entries: [entry(7, payload)], term: asTerm(3) }),
        );
      from.transport.send(messages);
    }
    await waitFor('two messages at each node', () =>
      nodes.every((node) => node.received.length === 2),
    );
    for (const node of nodes) {
      const senders = node.received.map((m) => m.from).sort();
      assert.deepEqual(
        senders,
        nodes.filter((other) => other !== node).map((other) => other.id),
      );
      for (const received of node.received) assert.deepEqual(received.entries, [entry(7, payload)]);
    }
  },
);

test(
  "a turn's first send is written at once, the rest of the turn's sends in one write",
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await cluster(t, [21, 22]);
    connectAll([a, b]);
    a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
    await waitFor('the stream to be up', () => b.received.length === 1);
    const before = a.transport.peerStats(b.id);
    assert.ok(before?.connected);
    const app = (i: number) =>
      message('MsgApp', a.id, b.id, {
        index: asLogIndex(i),
        entries: [entry(i, new Uint8Array(20))],
      });
    // One send() is one Ready's messages: they leave before the turn goes on (no setImmediate).
    a.transport.send([app(0), app(1)]);
    const early = a.transport.peerStats(b.id);
    assert.equal(early!.sentMessages - before.sentMessages, 2, 'written within send()');
    assert.equal(early!.sentBatches - before.sentBatches, 1);
    for (let i = 2; i < 2000; i++) a.transport.send([app(i)]);
    const queued = a.transport.peerStats(b.id);
    assert.equal(queued!.sentMessages - before.sentMessages, 2, 'later sends wait for the turn');
    await waitFor('2000 more messages', () => b.received.length === 2001);
    const after = a.transport.peerStats(b.id);
    assert.equal(after!.sentMessages - before.sentMessages, 2000);
    assert.equal(after!.sentBatches - before.sentBatches, 2, 'one early write, one for the rest');
    assert.deepEqual(
      b.received.slice(1).map((m) => m.index),
      Array.from({ length: 2000 }, (_, i) => i),
    );
  },
);

test(
  'a peer that restarts is reconnected to, and unreachability is reported meanwhile',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await cluster(t, [31, 32]);
    connectAll([a, b]);
    a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
    await waitFor('first delivery', () => b.received.length === 1);
    const port = b.transport.listeningPort();
    await b.transport.stop();
    await waitFor('a to notice', () => a.transport.peerStats(b.id)?.connected === false);
    a.transport.send([message('MsgHeartbeat', a.id, b.id, { term: asTerm(2) })]);
    await waitFor('unreachable report', () => a.unreachable.includes(b.id));

    const restarted = await startNode(32, { port });
    t.after(() => restarted.transport.stop());
    restarted.transport.addPeer(a.id, [a.url]);
    a.transport.send([message('MsgHeartbeat', a.id, b.id, { term: asTerm(3) })]);
    await waitFor('delivery after restart', () => restarted.received.some((m) => m.term === 3));
    assert.ok(a.transport.peerStats(b.id)?.connected);
  },
);

test(
  'a bounded queue drops and counts messages for a peer that is down',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const a = await startNode(41, {
      limits: { queuedMessagesMax: 10, unreachableReportIntervalMs: 60_000 },
    });
    const nobody = await startNode(42);
    const deadUrl = nobody.url;
    await nobody.transport.stop();
    t.after(() => a.transport.stop());
    a.transport.addPeer(nobody.id, [deadUrl]);
    const messages = Array.from({ length: 25 }, (_, i) =>
      message('MsgApp', a.id, nobody.id, { index: asLogIndex(i) }),
    );
    a.transport.send(messages);
    const stats = a.transport.peerStats(nobody.id);
    assert.equal(stats?.queuedMessages, 10);
    assert.equal(stats?.droppedMessages, 15);
    assert.equal(stats?.sentMessages, 0);
    // Handlers never run inside send; the report arrives once per interval, not per message.
    assert.equal(a.unreachable.length, 0);
    await waitFor('unreachable report', () => a.unreachable.length === 1);
    a.transport.send([message('MsgApp', a.id, nobody.id)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(a.unreachable, [nobody.id]);
    assert.ok(a.logger.has('warn', 'queue full'));
  },
);

test(
  'a member of another cluster is rejected on both sides',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [b] = await cluster(t, [52]);
    const stranger = await startNode(51, { clusterId: CLUSTER_ID + 1n });
    t.after(() => stranger.transport.stop());
    connectAll([stranger, b]);
    stranger.transport.send([message('MsgVote', stranger.id, b.id, { term: asTerm(99) })]);
    await waitFor(
      'both sides to log the rejection',
      () =>
        stranger.logger.has('error', 'rejected our handshake') &&
        b.logger.has('error', 'rejected a peer handshake'),
    );
    assert.equal(b.received.length, 0);
    assert.equal(stranger.transport.peerStats(b.id)?.connected, false);
  },
);

test(
  'messages to unknown peers are dropped and counted, not thrown',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a] = await cluster(t, [61]);
    a.transport.send([message('MsgApp', a.id, asMemberId(999n))]);
    assert.equal(a.transport.droppedForUnknownPeers, 1);
  },
);

test(
  'a removed peer loses its streams in both directions',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await cluster(t, [71, 72]);
    connectAll([a, b]);
    b.transport.send([message('MsgHeartbeat', b.id, a.id)]);
    await waitFor('b to reach a', () => a.received.length === 1);
    a.transport.removePeer(b.id);
    assert.equal(a.transport.peerStats(b.id), undefined);
    await waitFor(
      'b to see its stream to a dropped',
      () => b.transport.peerStats(a.id)?.connected === false,
    );
    b.transport.send([message('MsgHeartbeat', b.id, a.id, { term: asTerm(2) })]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // a no longer knows b, so b's redials are refused and nothing more is delivered.
    assert.equal(a.received.length, 1);
    assert.ok(b.logger.has('warn', 'rejected our handshake'));
  },
);

test(
  'updatePeer redirects the next connection to the new address',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await cluster(t, [81, 82]);
    connectAll([a, b]);
    a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
    await waitFor('first delivery', () => b.received.length === 1);
    await b.transport.stop();
    const moved = await startNode(82);
    t.after(() => moved.transport.stop());
    moved.transport.addPeer(a.id, [a.url]);
    a.transport.updatePeer(b.id, [moved.url]);
    // Messages written into the dying connection are lost (raft retransmits); wait for a to notice.
    await waitFor('a to notice', () => a.transport.peerStats(b.id)?.connected === false);
    a.transport.send([message('MsgHeartbeat', a.id, b.id, { term: asTerm(4) })]);
    await waitFor('delivery at the new address', () => moved.received.some((m) => m.term === 4));
  },
);
