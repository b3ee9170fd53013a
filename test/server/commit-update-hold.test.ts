/**
 * A leader holds back its commit-index updates (src/server/commit-update-hold.ts): they leave
 * after the answer to the put they commit, the next append to the same follower makes them
 * redundant, and they leave on their own after COMMIT_UPDATE_HOLD_MS. A follower whose forwarded
 * put they commit gets its update at once, before the leader's own apply.
 *
 * The cluster's clock is manual: settling lets messages, WAL writes and applies run while no
 * timer can fire, so "without time passing" is exact here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/raft/index.ts';
import { COMMIT_UPDATE_HOLD_MS } from '../../src/server/commit-update-hold.ts';
import { settle } from '../support/test-clock.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';

interface Routed {
  readonly message: Message;
  /** How many of the test's puts had been answered when the message was routed. */
  readonly answered: number;
}

/** Starts a 3-member cluster with a warmed-up leader and a log of every routed message. */
async function startRecording(): Promise<{
  cluster: TestCluster;
  routed: Routed[];
  answers: { count: number };
}> {
  const cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  await cluster.drive(leader.put({ key: bytes('warm'), value: bytes('up') }));
  await everyMemberApplied(cluster, leader.appliedIndex, 'the warm-up');
  const routed: Routed[] = [];
  const answers = { count: 0 };
  const network = cluster.network;
  const route = network.route.bind(network);
  network.route = (message: Message): void => {
    routed.push({ message, answered: answers.count });
    route(message);
  };
  return { cluster, routed, answers };
}

function everyMemberApplied(cluster: TestCluster, index: number, what: string): Promise<void> {
  return cluster.until(
    () => cluster.slots.every((_, i) => cluster.member(i).appliedIndex >= index),
    `every member applied ${what}`,
  );
}

/** Settles until `promise` resolves; fails if it needs time to pass. */
async function withoutTime<T>(cluster: TestCluster, promise: Promise<T>, what: string): Promise<T> {
  const startedMs = cluster.clock.nowMs();
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  for (let turn = 0; turn < 200 && !done; turn++) await settle(1);
  assert.ok(done, `${what} did not finish without time passing`);
  assert.equal(cluster.clock.nowMs(), startedMs);
  return await tracked;
}

const isCommitUpdate = (message: Message): boolean =>
  message.type === 'MsgApp' && message.entries.length === 0;

/** The index of the put replicated by the first append with entries in `routed`. */
function appendedIndex(routed: readonly Routed[], from: bigint): number {
  const append = routed.find(({ message }) => message.from === from && message.entries.length > 0);
  assert.ok(append !== undefined, 'the leader replicated the put');
  return append.message.index + append.message.entries.length;
}

async function assertEveryMemberReads(cluster: TestCluster, key: string, value: string) {
  for (let i = 0; i < cluster.slots.length; i++) {
    const read = await cluster.drive(
      cluster.member(i).range({ key: bytes(key), serializable: true }),
    );
    assert.equal(text(read.kvs[0].value), value, `member ${i} applied the put`);
  }
}

test("a leader's commit-index updates leave after the answer, held until the clock moves", async () => {
  const { cluster, routed, answers } = await startRecording();
  try {
    const leader = cluster.member(cluster.leaderIndex());
    await withoutTime(cluster, leader.put({ key: bytes('k'), value: bytes('v') }), 'the put');
    answers.count = 1;
    const putIndex = appendedIndex(routed, leader.memberId);
    await settle(20);
    const early = routed.filter(
      ({ message }) => isCommitUpdate(message) && message.commit >= putIndex,
    );
    assert.deepEqual(early, [], 'no commit-index update leaves before the clock moves');
    const followers = cluster.slots.map((_, i) => cluster.member(i)).filter((m) => m !== leader);
    for (const follower of followers) assert.ok(follower.appliedIndex < putIndex);

    cluster.clock.advance(COMMIT_UPDATE_HOLD_MS);
    await settle(20);
    const updates = routed.filter(
      ({ message }) => isCommitUpdate(message) && message.commit >= putIndex,
    );
    assert.equal(updates.length, 2, 'one update per follower once the hold ran out');
    for (const { message, answered } of updates) {
      assert.equal(answered, 1, `the update to ${message.to} left before the put was answered`);
    }
    for (const follower of followers) assert.ok(follower.appliedIndex >= putIndex);
    await assertEveryMemberReads(cluster, 'k', 'v');
  } finally {
    await cluster.stopAll();
  }
});

test('the next append carries the commit index, so the held update is never sent', async () => {
  const { cluster, routed } = await startRecording();
  try {
    const leader = cluster.member(cluster.leaderIndex());
    await withoutTime(cluster, leader.put({ key: bytes('a'), value: bytes('1') }), 'the first put');
    const firstIndex = appendedIndex(routed, leader.memberId);
    routed.length = 0;
    await withoutTime(
      cluster,
      leader.put({ key: bytes('b'), value: bytes('2') }),
      'the second put',
    );
    const appends = routed.filter(
      ({ message }) => message.from === leader.memberId && message.entries.length > 0,
    );
    assert.equal(appends.length, 2, 'the second put went to both followers');
    for (const { message } of appends) assert.ok(message.commit >= firstIndex);
    const redundant = routed.filter(
      ({ message }) => isCommitUpdate(message) && message.commit === firstIndex,
    );
    assert.deepEqual(redundant, [], 'no separate update for the first put');

    await everyMemberApplied(cluster, leader.appliedIndex, 'both puts');
    await assertEveryMemberReads(cluster, 'a', '1');
    await assertEveryMemberReads(cluster, 'b', '2');
  } finally {
    await cluster.stopAll();
  }
});

test('a follower whose forwarded put commits is told at once, the other follower is not', async () => {
  const { cluster, routed } = await startRecording();
  try {
    const leaderIndex = cluster.leaderIndex();
    const leader = cluster.member(leaderIndex);
    const forwarder = cluster.member((leaderIndex + 1) % 3);
    const other = cluster.member((leaderIndex + 2) % 3);
    await withoutTime(
      cluster,
      forwarder.put({ key: bytes('f'), value: bytes('x') }),
      'the put through a follower',
    );
    const putIndex = appendedIndex(routed, leader.memberId);
    const updates = routed.filter(
      ({ message }) => isCommitUpdate(message) && message.commit >= putIndex,
    );
    assert.deepEqual(
      updates.map(({ message }) => message.to),
      [forwarder.memberId],
      'only the forwarding follower was told of the commit',
    );
    assert.ok(other.appliedIndex < putIndex, 'the other follower waits for the held update');
    await cluster.until(() => other.appliedIndex >= putIndex, 'the other follower applied the put');
    await assertEveryMemberReads(cluster, 'f', 'x');

    // Told of its commit, the forwarder waits for nothing more: the update for a put the
    // leader serves is held for it like for any follower.
    routed.length = 0;
    await withoutTime(cluster, leader.put({ key: bytes('l'), value: bytes('y') }), 'a leader put');
    const leaderPutIndex = appendedIndex(routed, leader.memberId);
    await settle(20);
    const early = routed.filter(
      ({ message }) => isCommitUpdate(message) && message.commit >= leaderPutIndex,
    );
    assert.deepEqual(early, [], 'no update left for the leader put before the clock moved');
  } finally {
    await cluster.stopAll();
  }
});
