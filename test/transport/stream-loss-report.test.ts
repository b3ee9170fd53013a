/**
 * The loss of an established stream is always reported to raft at once, even within the
 * unreachable-report rate limit: it is how a follower learns that its leader's process died
 * (the kernel closed the leader's sockets) and campaigns without waiting an election timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asTerm } from '../../src/base/index.ts';
import { connectAll, message, startNode, waitFor } from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 15_000;

test(
  'every lost stream is reported, whatever the rate limit',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    // A rate limit far longer than the test: only the stream losses may get through it.
    const a = await startNode(51, { limits: { unreachableReportIntervalMs: 60_000 } });
    t.after(() => a.transport.stop());
    let b = await startNode(52);
    const port = b.transport.listeningPort();
    connectAll([a, b]);
    for (let outage = 1; outage <= 2; outage++) {
      a.transport.send([message('MsgHeartbeat', a.id, b.id, { term: asTerm(outage) })]);
      const receiver = b;
      await waitFor(`delivery ${outage}`, () => receiver.received.length === 1);
      assert.ok(a.transport.peerStats(b.id)?.connected);
      await b.transport.stop();
      await waitFor(`report of lost stream ${outage}`, () => a.unreachable.length === outage);
      assert.ok(a.logger.has('warn', 'peer stream lost'));
      b = await startNode(52, { port });
      b.transport.addPeer(a.id, [a.url]);
    }
    const last = b;
    t.after(() => last.transport.stop());
    assert.deepEqual(a.unreachable, [b.id, b.id]);
  },
);
