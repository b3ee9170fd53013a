/**
 * A leader answers its clients before it tells the followers the new commit index: the Ready
 * that applies a put carries only commit-index updates, and those socket writes used to sit in
 * front of the client's answer (raft-loop.ts, handleReady). The followers still learn the
 * commit and apply the put.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/raft/index.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';

test("a leader's commit-index updates leave after the answer to the put they commit", async () => {
  const cluster = await TestCluster.start(3);
  try {
    const leader = await cluster.waitForLeader();
    await cluster.drive(leader.put({ key: bytes('warm'), value: bytes('up') }));
    const routed: { message: Message; answered: boolean }[] = [];
    let answered = false;
    const network = cluster.network;
    const route = network.route.bind(network);
    network.route = (message: Message): void => {
      routed.push({ message, answered });
      route(message);
    };
    const put = leader.put({ key: bytes('k'), value: bytes('v') }).then(() => {
      answered = true;
    });
    await cluster.drive(put);
    // Every member applies the put, so every message it took has been routed.
    await cluster.until(
      () => cluster.slots.every((_, i) => cluster.member(i).appliedIndex >= leader.appliedIndex),
      'every member applied the put',
    );

    const fromLeader = routed.filter(({ message }) => message.from === leader.memberId);
    const append = fromLeader.find(({ message }) => message.entries.length > 0)?.message;
    assert.ok(append !== undefined, 'the leader replicated the put');
    const putIndex = append.index + append.entries.length;
    const commitUpdates = fromLeader.filter(
      ({ message }) =>
        (message.type === 'MsgApp' || message.type === 'MsgHeartbeat') &&
        message.entries.length === 0 &&
        message.commit >= putIndex,
    );
    assert.ok(commitUpdates.length > 0, 'the leader sent the new commit index');
    for (const { message, answered: afterAnswer } of commitUpdates) {
      assert.ok(afterAnswer, `${message.type} to ${message.to} left before the put was answered`);
    }
    for (let i = 0; i < cluster.slots.length; i++) {
      const read = await cluster.drive(
        cluster.member(i).range({ key: bytes('k'), serializable: true }),
      );
      assert.equal(text(read.kvs[0].value), 'v', `member ${i} applied the put`);
    }
  } finally {
    await cluster.stopAll();
  }
});
