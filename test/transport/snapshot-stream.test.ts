import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { asLogIndex, asTerm, bytesEqual, type MemberId } from '../../src/base/index.ts';
import {
  connectAll,
  fakePeer,
  message,
  snapshotOf,
  startNode,
  waitFor,
  type Node,
} from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 20_000;

function snapshotMessage(from: Node, to: MemberId, bytes: number) {
  // Position-dependent content, so a reordered or duplicated chunk cannot go unnoticed.
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4) new DataView(data.buffer).setUint32(i, i, true);
  return message('MsgSnap', from.id, to, {
    term: asTerm(2),
    snapshot: snapshotOf(data, [from.id, to]),
  });
}

async function connectedPair(t: TestContext, limits = {}): Promise<[Node, Node]> {
  const a = await startNode(1, { limits });
  const b = await startNode(2, { limits });
  t.after(() => Promise.all([a.transport.stop(), b.transport.stop()]));
  connectAll([a, b]);
  a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
  await waitFor('stream up', () => b.received.length === 1);
  return [a, b];
}

test(
  'a 20 MB snapshot arrives intact while heartbeats keep flowing',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await connectedPair(t);
    const snap = snapshotMessage(a, b.id, 20 * 1024 * 1024);
    a.transport.send([snap]);
    let commit = 0;
    let scanned = 0;
    const deadline = performance.now() + 15_000;
    // One heartbeat per event-loop turn until the snapshot lands, like a leader ticking.
    for (;;) {
      while (scanned < b.received.length && b.received[scanned].type !== 'MsgSnap') scanned++;
      if (scanned < b.received.length) break;
      if (performance.now() > deadline) {
        const logs = [...a.logger.lines, ...b.logger.lines].map((line) => line.message);
        assert.fail(
          `snapshot never arrived; a: ${JSON.stringify(a.transport.peerStats(b.id))} logs: ${logs.join(' | ')}`,
        );
      }
      a.transport.send([message('MsgHeartbeat', a.id, b.id, { commit: asLogIndex(++commit) })]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const snapshotPosition = b.received.findIndex((m) => m.type === 'MsgSnap');
    const heartbeatsBefore = b.received.slice(1, snapshotPosition).length;
    t.diagnostic(`${heartbeatsBefore} heartbeats overtook the 20 MB snapshot`);
    assert.ok(heartbeatsBefore >= 5, `only ${heartbeatsBefore} heartbeats overtook the snapshot`);
    const received = b.received[snapshotPosition];
    assert.ok(received.snapshot !== null && snap.snapshot !== null);
    assert.ok(bytesEqual(received.snapshot.data, snap.snapshot.data), 'snapshot data differs');
    assert.deepEqual(received.snapshot.metadata, snap.snapshot.metadata);
    await waitFor('snapshot status', () => a.snapshotStatuses.length === 1);
    assert.deepEqual(a.snapshotStatuses, [{ peer: b.id, ok: true }]);
    assert.equal(a.transport.peerStats(b.id)?.snapshotsSent, 1);
    // Heartbeats stay in order around the snapshot.
    const commits = b.received.filter((m) => m.type === 'MsgHeartbeat').map((m) => m.commit);
    assert.deepEqual(
      commits,
      [...commits].sort((x, y) => x - y),
    );
  },
);

test(
  'a snapshot for a peer that is down fails at once',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const a = await startNode(1);
    const b = await startNode(2);
    await b.transport.stop();
    t.after(() => a.transport.stop());
    a.transport.addPeer(b.id, [b.url]);
    a.transport.send([snapshotMessage(a, b.id, 1000)]);
    assert.equal(a.snapshotStatuses.length, 0, 'never reported from inside send');
    await waitFor('snapshot failure', () => a.snapshotStatuses.length === 1);
    assert.deepEqual(a.snapshotStatuses, [{ peer: b.id, ok: false }]);
    await waitFor('unreachable report', () => a.unreachable.includes(b.id));
  },
);

test(
  'a second snapshot while one streams fails; the first still succeeds',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const [a, b] = await connectedPair(t);
    a.transport.send([snapshotMessage(a, b.id, 4 * 1024 * 1024), snapshotMessage(a, b.id, 1000)]);
    await waitFor('two statuses', () => a.snapshotStatuses.length === 2);
    assert.deepEqual(a.snapshotStatuses, [
      { peer: b.id, ok: false },
      { peer: b.id, ok: true },
    ]);
    assert.equal(b.received.filter((m) => m.type === 'MsgSnap').length, 1);
  },
);

async function sendSnapshotToFake(t: TestContext, url: string, limits = {}): Promise<Node> {
  const a = await startNode(1, { limits });
  t.after(() => a.transport.stop());
  const fake = { id: 2n as MemberId };
  a.transport.addPeer(fake.id, [url]);
  await waitFor('stream up', () => a.transport.peerStats(fake.id)?.connected === true);
  a.transport.send([snapshotMessage(a, fake.id, 8 * 1024 * 1024)]);
  return a;
}

test('a connection lost mid-snapshot reports failure', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = await fakePeer(t, (socket, total) => {
    if (total > 1024 * 1024) socket.destroy();
  });
  const a = await sendSnapshotToFake(t, url);
  await waitFor('snapshot failure', () => a.snapshotStatuses.length === 1);
  assert.equal(a.snapshotStatuses[0].ok, false);
});

test(
  'a snapshot that is never acknowledged times out as failed',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const url = await fakePeer(t, () => {});
    const a = await sendSnapshotToFake(t, url, { snapshotStallTimeoutMs: 300 });
    await waitFor('snapshot failure', () => a.snapshotStatuses.length === 1);
    assert.equal(a.snapshotStatuses[0].ok, false);
    assert.ok(a.logger.lines.some((line) => line.fields.reason === 'stalled'));
  },
);

test(
  'through repeated restarts of the recipient, every snapshot gets exactly one status',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const a = await startNode(1, { limits: { snapshotChunkBytes: 64 * 1024 } });
    t.after(() => a.transport.stop());
    let b = await startNode(2);
    const port = b.transport.listeningPort();
    t.after(() => b.transport.stop());
    connectAll([a, b]);
    let snapshotsSent = 0;
    for (let round = 0; round < 8; round++) {
      await waitFor('stream up', () => a.transport.peerStats(b.id)?.connected === true);
      a.transport.send([snapshotMessage(a, b.id, 2 * 1024 * 1024)]);
      snapshotsSent++;
      for (let i = 0; i < 20; i++) {
        a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Kill the recipient at a different point of the stream each round.
      await b.transport.stop();
      b = await startNode(2, { port });
      b.transport.addPeer(a.id, [a.url]);
    }
    await waitFor('a status for every snapshot', () => a.snapshotStatuses.length === snapshotsSent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(a.snapshotStatuses.length, snapshotsSent, 'no snapshot reported twice');
    const stats = a.transport.peerStats(b.id)!;
    assert.equal(stats.snapshotsSent + stats.snapshotsFailed, snapshotsSent);
  },
);
