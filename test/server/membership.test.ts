/**
 * Membership changes on in-process members (manual clock, memory network): bootstrap entries,
 * add learner → catch up → promote, add voter, remove follower and leader, update, join from a
 * snapshot, MoveLeader, and etcd's refusals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asMemberId, SeededRandom } from '../../src/base/index.ts';
import { decodeConfChange } from '../../src/raft/index.ts';
import {
  memberConfigDefaults,
  ServerError,
  startMember,
  type MemberConfig,
  type SigilMember,
} from '../../src/server/index.ts';
import { FaultyFileSystem, MemoryBackend, openWal, walDirectory } from '../../src/storage/index.ts';
import { silentLogger } from '../../src/transport/index.ts';
import { bytes, CLUSTER_ID, TestCluster, text } from './member-fixture.ts';

const rejects = (code: string) => (error: unknown) =>
  error instanceof ServerError && error.code === code;

interface Joiner {
  readonly member: SigilMember;
  readonly fs: FaultyFileSystem;
  readonly backend: MemoryBackend;
  readonly config: MemberConfig;
}

/** Starts the member MemberAdd announced, as `--initial-cluster-state existing` would. */
async function startJoiner(
  cluster: TestCluster,
  id: bigint,
  peerUrl: string,
  name = 'joiner',
  fs = new FaultyFileSystem(new SeededRandom(7)),
  backend = new MemoryBackend(),
): Promise<Joiner> {
  const founders = cluster.config(0).initialCluster;
  const config = memberConfigDefaults(
    {
      name,
      dataDir: `/data/${name}`,
      memberId: id,
      clusterId: CLUSTER_ID,
      initialCluster: [...founders, { id, name, peerUrls: [peerUrl] }],
      clientUrls: [`http://${name}:2379`],
    },
    { initialClusterState: 'existing', walSegmentBytes: 64 * 1024 },
  );
  const member = await startMember(config, {
    clock: cluster.clock,
    random: new SeededRandom(99),
    fs,
    backend,
    transport: cluster.network.transport(asMemberId(id)),
    logger: silentLogger,
    wallClockMs: () => 1_700_000_000_000 + cluster.clock.nowMs(),
  });
  return { member, fs, backend, config };
}

describe('membership', { timeout: 60_000 }, () => {
  it('founders write the same committed add-voter entries 1..n and apply them', async () => {
    const cluster = await TestCluster.start(3);
    await cluster.stopAll();
    const logs = [];
    for (const slot of cluster.slots) {
      const opened = await openWal(slot.fs, walDirectory(`/data/${slot.name}`));
      await opened.wal.close();
      const first = opened.entries.slice(0, 3);
      assert.deepEqual(
        first.map((entry) => [entry.index, entry.term, entry.type]),
        [
          [1, 1, 'conf-change'],
          [2, 1, 'conf-change'],
          [3, 1, 'conf-change'],
        ],
      );
      assert.ok(opened.hardState.commit >= 3);
      logs.push(first.map((entry) => Buffer.from(entry.data).toString('hex')).join());
      const ids = first.map((entry) => decodeConfChange(entry.data).memberId);
      assert.deepEqual(
        ids,
        cluster.slots.map((s) => s.id),
      );
    }
    assert.equal(new Set(logs).size, 1, 'every founder wrote the same bytes');
    // And they restart from those entries alone.
    for (let i = 0; i < 3; i++) await cluster.startMember(i);
    const leader = await cluster.waitForLeader();
    const list = await cluster.drive(leader.memberList(true));
    assert.deepEqual(
      list.members.map((member) => member.name),
      ['m0', 'm1', 'm2'],
    );
    await cluster.stopAll();
  });

  it('adds a learner that catches up from the log, refuses writes, and is promoted', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 20; i++) {
      await cluster.drive(leader.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
    }
    const added = await cluster.drive(leader.memberAdd!(['http://joiner:2380'], true));
    assert.equal(added.member.isLearner, true);
    assert.equal(added.members.length, 4);
    // Not started yet: nowhere near the leader's log.
    await assert.rejects(
      cluster.drive(leader.memberPromote!(added.member.id)),
      rejects('learner-not-ready'),
    );
    const joiner = await startJoiner(cluster, added.member.id, 'http://joiner:2380');
    await cluster.until(
      () => joiner.member.appliedIndex >= leader.appliedIndex,
      'the learner to catch up',
    );
    const read = await joiner.member.range({ key: bytes('k19'), serializable: true });
    assert.equal(text(read.kvs[0].value), 'v19');
    assert.equal((await joiner.member.status()).isLearner, true);
    await assert.rejects(
      cluster.drive(joiner.member.put({ key: bytes('x'), value: bytes('y') })),
      rejects('learner-rpc'),
    );
    await assert.rejects(
      cluster.drive(joiner.member.range({ key: bytes('k1') })),
      rejects('learner-rpc'),
    );
    const promoted = await cluster.drive(leader.memberPromote!(added.member.id));
    assert.equal(promoted.members.find((m) => m.id === added.member.id)?.isLearner, false);
    await cluster.until(
      () => !joiner.member.raftNode.status().confState.learners.length,
      'applied',
    );
    assert.equal((await joiner.member.status()).isLearner, false);
    await cluster.drive(joiner.member.put({ key: bytes('from-joiner'), value: bytes('1') }));
    await assert.rejects(
      cluster.drive(leader.memberPromote!(added.member.id)),
      rejects('not-learner'),
    );
    await joiner.member.stop();
    await cluster.stopAll();
  });

  it('--auto-promote-learners: the leader promotes a learner once it has caught up', async () => {
    const cluster = await TestCluster.start(3, { autoPromoteLearners: true });
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 10; i++) {
      await cluster.drive(leader.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
    }
    const added = await cluster.drive(leader.memberAdd!(['http://joiner:2380'], true));
    // Not promoted while it has not even started.
    await cluster.drive(
      new Promise((resolve) => cluster.clock.setTimer(2_000, () => resolve(null))),
    );
    let list = await cluster.drive(leader.memberList(true));
    assert.equal(list.members.find((m) => m.id === added.member.id)?.isLearner, true);
    const joiner = await startJoiner(cluster, added.member.id, 'http://joiner:2380');
    await cluster.until(
      () => joiner.member.raftNode.status().confState.voters.includes(asMemberId(added.member.id)),
      'the learner to be promoted',
    );
    list = await cluster.drive(leader.memberList(true));
    assert.equal(list.members.find((m) => m.id === added.member.id)?.isLearner, false);
    await joiner.member.stop();
    await cluster.stopAll();
  });

  it("refuses etcd's invalid changes with etcd's errors", async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const m1 = cluster.slots[1];
    await assert.rejects(
      cluster.drive(leader.memberAdd!([`http://${m1.name}:2380`], false)),
      rejects('peer-url-exists'),
    );
    await assert.rejects(
      cluster.drive(leader.memberAdd!(['foo'], false)),
      rejects('invalid-member-urls'),
    );
    await assert.rejects(cluster.drive(leader.memberRemove!(0x1234n)), rejects('member-not-found'));
    await assert.rejects(
      cluster.drive(leader.memberPromote!(0x1234n)),
      rejects('member-not-found'),
    );
    await assert.rejects(
      cluster.drive(leader.memberUpdate!(0x1234n, ['http://x:1'])),
      rejects('member-not-found'),
    );
    await cluster.drive(leader.memberAdd!(['http://l1:2380'], true));
    await assert.rejects(
      cluster.drive(leader.memberAdd!(['http://l2:2380'], true)),
      rejects('too-many-learners'),
    );
    await assert.rejects(
      cluster.drive(leader.moveLeader!(0x1234n)),
      rejects('bad-leader-transferee'),
    );
    const follower = cluster.running().find((member) => !member.isLeader)!;
    await assert.rejects(cluster.drive(follower.moveLeader!(m1.id)), rejects('not-leader'));
    await cluster.stopAll();
  });

  it('removes a follower, which stops itself and refuses to come back', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const victimIndex = cluster.slots.findIndex((slot) => slot.member !== leader);
    const victim = cluster.member(victimIndex);
    const answer = await cluster.drive(leader.memberRemove!(victim.memberId));
    assert.equal(answer.members.length, 2);
    await cluster.drive(victim.removed);
    cluster.slots[victimIndex].member = null;
    await cluster.drive(leader.put({ key: bytes('after'), value: bytes('1') }));
    await assert.rejects(cluster.startMember(victimIndex), /permanently removed from the cluster/);
    await cluster.stopAll();
  });

  it('removing the leader hands leadership over first; the rest keep writing', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((member) => !member.isLeader)!;
    // Asked through a follower: it has the leader move away, then proposes the removal.
    await cluster.drive(follower.memberRemove!(leader.memberId));
    await cluster.drive(leader.removed);
    const index = cluster.slots.findIndex((slot) => slot.member === leader);
    cluster.slots[index].member = null;
    const next = await cluster.waitForLeader();
    assert.notEqual(next.memberId, leader.memberId);
    await cluster.drive(next.put({ key: bytes('after'), value: bytes('1') }));
    const list = await cluster.drive(next.memberList(true));
    assert.equal(list.members.length, 2);
    await cluster.stopAll();
  });

  it('MoveLeader hands leadership to the target; update changes peer URLs', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const target = cluster.running().find((member) => !member.isLeader)!;
    await cluster.drive(leader.moveLeader!(target.memberId));
    assert.equal(target.isLeader, true);
    const updated = await cluster.drive(
      target.memberUpdate!(leader.memberId, ['http://moved:2380']),
    );
    assert.deepEqual(updated.members.find((member) => member.id === leader.memberId)?.peerUrls, [
      'http://moved:2380',
    ]);
    await cluster.stopAll();
  });

  it('a voter added after the log was compacted joins from a snapshot', async () => {
    const cluster = await TestCluster.start(3, { snapshotCount: 20, snapshotCatchUpEntries: 5 });
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 60; i++) {
      await cluster.drive(leader.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
    }
    assert.ok(leader.raftNode.status().commit > 30);
    const added = await cluster.drive(leader.memberAdd!(['http://joiner:2380'], false));
    const joiner = await startJoiner(cluster, added.member.id, 'http://joiner:2380');
    await cluster.until(
      () => joiner.member.appliedIndex >= leader.appliedIndex,
      'the joiner to catch up',
    );
    const read = await joiner.member.range({ key: bytes('k59'), serializable: true });
    assert.equal(text(read.kvs[0].value), 'v59');
    const list = await cluster.drive(joiner.member.memberList(true));
    assert.equal(list.members.length, 4);
    await cluster.drive(joiner.member.put({ key: bytes('from-joiner'), value: bytes('1') }));
    await joiner.member.stop();
    await cluster.stopAll();
  });
});
