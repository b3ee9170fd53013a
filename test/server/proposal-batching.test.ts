/**
 * Proposals made together travel together: the raft loop steps every proposal of one
 * microtask checkpoint as one MsgProp, so a follower forwards one message for all of them and
 * the leader replicates them in one append per follower, not one per request. At 100
 * concurrent clients the per-message cost of the one-by-one path was a tenth of the leader's
 * CPU (see bench/compare-etcd.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/raft/index.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';

test('concurrent puts on a follower reach the leader as one proposal and one append', async () => {
  const cluster = await TestCluster.start(3);
  try {
    const leader = await cluster.waitForLeader();
    const followerIndex = cluster.slots.findIndex(
      (slot) => slot.member !== null && slot.member !== leader,
    );
    const follower = cluster.member(followerIndex);
    const sent: Message[] = [];
    const network = cluster.network;
    const route = network.route.bind(network);
    network.route = (message: Message): void => {
      sent.push(message);
      route(message);
    };
    const count = 20;
    const puts = Array.from({ length: count }, (_, i) =>
      follower.put({ key: bytes(`batch/${i}`), value: bytes(`v${i}`) }),
    );
    await cluster.drive(Promise.all(puts));

    const proposals = sent.filter((message) => message.type === 'MsgProp');
    assert.equal(proposals.length, 1, 'one forwarded proposal');
    assert.equal(proposals[0].entries.length, count, 'carrying every put');
    const appendsWithEntries = sent.filter(
      (message) =>
        message.type === 'MsgApp' && message.from === leader.memberId && message.entries.length > 0,
    );
    assert.equal(appendsWithEntries.length, 2, 'one append per follower');
    for (const append of appendsWithEntries) assert.equal(append.entries.length, count);

    const read = await cluster.drive(
      leader.range({ key: bytes('batch/'), rangeEnd: bytes('batch0') }),
    );
    assert.equal(read.kvs.length, count);
    assert.deepEqual(
      read.kvs.map((kv) => text(kv.value)).sort(),
      Array.from({ length: count }, (_, i) => `v${i}`).sort(),
    );
  } finally {
    await cluster.stopAll();
  }
});
