import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerError } from '../../src/server/index.ts';
import { settle } from '../support/test-clock.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';

const followerIndex = (cluster: TestCluster): number =>
  cluster.slots.findIndex((slot) => slot.member !== null && !slot.member.isLeader);

describe('three members', { timeout: 30_000 }, () => {
  it("elect one leader, replicate writes and forward a follower's writes", async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const leaders = cluster.running().filter((member) => member.isLeader);
    assert.equal(leaders.length, 1);
    await cluster.drive(leader.put({ key: bytes('from-leader'), value: bytes('1') }));
    const follower = cluster.member(followerIndex(cluster));
    const forwarded = await cluster.drive(
      follower.put({ key: bytes('from-follower'), value: bytes('2') }),
    );
    assert.equal(forwarded.header.memberId, follower.memberId);
    assert.equal(forwarded.header.revision, 3);
    await cluster.until(
      () => cluster.running().every((member) => member.appliedIndex === leader.appliedIndex),
      'every member to apply everything',
    );
    for (const member of cluster.running()) {
      const all = await member.range({ key: bytes('f'), rangeEnd: bytes('g'), serializable: true });
      assert.deepEqual(
        all.kvs.map((kv) => text(kv.key)),
        ['from-follower', 'from-leader'],
      );
    }
    await cluster.stopAll();
  });

  it('a linearizable read on a follower sees a write just acknowledged by the leader', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.member(followerIndex(cluster));
    for (let i = 0; i < 5; i++) {
      await cluster.drive(leader.put({ key: bytes('x'), value: bytes(`${i}`) }));
      const reads = await cluster.drive(
        Promise.all([follower.range({ key: bytes('x') }), follower.range({ key: bytes('x') })]),
      );
      for (const read of reads) assert.equal(text(read.kvs[0].value), `${i}`);
    }
    await cluster.stopAll();
  });

  it('fails pending proposals with leader-changed when the leader is replaced', async () => {
    const cluster = await TestCluster.start(3);
    await cluster.waitForLeader();
    const oldLeaderIndex = cluster.leaderIndex();
    const oldLeader = cluster.member(oldLeaderIndex);
    cluster.network.isolate(oldLeader.memberId as never);
    const pending = oldLeader.put({ key: bytes('lost'), value: bytes('?') });
    pending.catch(() => undefined);
    await cluster.until(
      () => cluster.running().some((m) => m.isLeader && m.memberId !== oldLeader.memberId),
      'a new leader on the majority side',
    );
    cluster.network.heal();
    await cluster.until(
      () => !oldLeader.isLeader && oldLeader.leaderId !== 0n,
      'old leader steps down',
    );
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.code, 'leader-changed');
      return true;
    });
    await cluster.stopAll();
  });

  it('fails fast with no-leader when a member cannot find a leader', async () => {
    const cluster = await TestCluster.start(3);
    await cluster.waitForLeader();
    const index = followerIndex(cluster);
    const follower = cluster.member(index);
    cluster.network.isolate(follower.memberId as never);
    await cluster.until(
      () => follower.leaderId === 0n,
      'the isolated member to lose its leader',
      60_000,
    );
    await assert.rejects(cluster.drive(follower.put({ key: bytes('k') })), /no leader|timed out/);
    cluster.network.heal();
    await cluster.stopAll();
  });

  it('a restarted member catches up on what it missed and keeps what it acknowledged', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const index = followerIndex(cluster);
    await cluster.drive(leader.put({ key: bytes('before'), value: bytes('1') }));
    await cluster.crash(index, { loseBackend: true });
    await cluster.drive(leader.put({ key: bytes('during'), value: bytes('2') }));
    const restarted = await cluster.startMember(index);
    await cluster.until(
      () => restarted.appliedIndex >= cluster.member(cluster.leaderIndex()).appliedIndex,
      'the restarted member to catch up',
    );
    const read = await cluster.drive(restarted.range({ key: bytes('a'), rangeEnd: bytes('z') }));
    assert.deepEqual(
      read.kvs.map((kv) => text(kv.key)),
      ['before', 'during'],
    );
    await cluster.stopAll();
  });

  it('snapshots after snapshot-count entries, releases WAL, and a lagging member catches up by snapshot', async () => {
    const cluster = await TestCluster.start(3, {
      snapshotCount: 50,
      snapshotCatchUpEntries: 10,
      walSegmentBytes: 8 * 1024,
    });
    const leader = await cluster.waitForLeader();
    const laggard = followerIndex(cluster);
    const laggardId = cluster.slots[laggard].id;
    await cluster.stop(laggard);
    for (let i = 0; i < 120; i++) {
      await cluster.drive(
        leader.put({ key: bytes(`k${i % 30}`), value: bytes(`${i}`.padEnd(200, '.')) }),
      );
    }
    const leaderSlot = cluster.slots[cluster.leaderIndex()];
    const snapFiles = await leaderSlot.fs.readdir(`/data/${leaderSlot.name}/member/snap`);
    assert.ok(
      snapFiles.some((name) => name.endsWith('.snap')),
      `snap files: ${snapFiles}`,
    );
    const walFiles = await leaderSlot.fs.readdir(`/data/${leaderSlot.name}/member/wal`);
    const firstSegment = walFiles.filter((name) => name.endsWith('.wal')).sort()[0];
    assert.notEqual(firstSegment, '0000000000000000-0000000000000000.wal', 'old segments released');
    const restarted = await cluster.startMember(laggard);
    assert.equal(restarted.memberId, laggardId);
    await cluster.until(
      () => restarted.appliedIndex >= leader.appliedIndex,
      'the laggard to catch up through a snapshot',
    );
    const laggardSlot = cluster.slots[laggard];
    const installed = await laggardSlot.fs.readdir(`/data/${laggardSlot.name}/member/snap`);
    assert.ok(
      installed.some((name) => name.endsWith('.snap')),
      'the laggard got a snapshot',
    );
    const read = await restarted.range({
      key: bytes('k'),
      rangeEnd: bytes('l'),
      serializable: true,
    });
    assert.equal(read.count, 30);
    assert.equal(
      text(read.kvs.find((kv) => text(kv.key) === 'k29')!.value).replace(/\.+$/, ''),
      '119',
    );
    // The leader restarts from its own snapshot plus the WAL after it.
    await cluster.crash(cluster.leaderIndex());
    await settle();
    await cluster.startMember(cluster.slots.indexOf(leaderSlot));
    const next = await cluster.waitForLeader();
    const after = await cluster.drive(next.range({ key: bytes('k'), rangeEnd: bytes('l') }));
    assert.equal(after.count, 30);
    await cluster.stopAll();
  });
});
