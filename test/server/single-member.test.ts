import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMvccError } from '../../src/mvcc/index.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';
import { settle } from '../support/test-clock.ts';

describe('single member', { timeout: 20_000 }, () => {
  it('serves put, range, delete and txn through ServerApi with etcd headers', async () => {
    const cluster = await TestCluster.start(1);
    const member = cluster.member(0);
    const put = await cluster.drive(member.put({ key: bytes('a'), value: bytes('1') }));
    assert.equal(put.header.revision, 2);
    assert.equal(put.header.memberId, member.memberId);
    assert.ok(put.header.raftTerm >= 1);
    const prev = await cluster.drive(
      member.put({ key: bytes('a'), value: bytes('2'), prevKv: true }),
    );
    assert.equal(text(prev.prevKv!.value), '1');
    const linearizable = await cluster.drive(member.range({ key: bytes('a') }));
    assert.equal(text(linearizable.kvs[0].value), '2');
    assert.equal(linearizable.kvs[0].version, 2);
    const serializable = await member.range({ key: bytes('a'), serializable: true });
    assert.equal(serializable.count, 1);
    const txn = await cluster.drive(
      member.txn({
        compare: [{ key: bytes('a'), target: 'VALUE', result: 'EQUAL', value: bytes('2') }],
        success: [{ requestPut: { key: bytes('b'), value: bytes('x') } }],
        failure: [],
      }),
    );
    assert.equal(txn.succeeded, true);
    assert.equal(txn.header.revision, 4);
    const deleted = await cluster.drive(member.deleteRange({ key: bytes('a') }));
    assert.equal(deleted.deleted, 1);
    await assert.rejects(cluster.drive(member.put({ key: new Uint8Array(0) })), isMvccError);
    await cluster.stopAll();
  });

  it('delivers watch events for applied writes', async () => {
    const cluster = await TestCluster.start(1);
    const member = cluster.member(0);
    const watch = member.watch({ key: bytes('w'), rangeEnd: bytes('x'), watchId: 7 });
    const iterator = watch[Symbol.asyncIterator]();
    await cluster.drive(member.put({ key: bytes('w1'), value: bytes('v') }));
    const response = await iterator.next();
    assert.equal(response.done, false);
    assert.equal(response.value.watchId, 7);
    assert.equal(text(response.value.events[0].kv.key), 'w1');
    watch.cancel();
    await cluster.stopAll();
  });

  it('many concurrent puts share fsyncs (group commit)', async () => {
    const cluster = await TestCluster.start(1);
    const member = cluster.member(0);
    const puts = Array.from({ length: 200 }, (_, i) =>
      member.put({ key: bytes(`k${i}`), value: bytes(`${i}`) }),
    );
    const results = await cluster.drive(Promise.all(puts));
    const revisions = new Set(results.map((result) => result.header.revision));
    assert.equal(revisions.size, 200);
    const fsyncs = cluster.slots[0].fs.mutationCount;
    assert.ok(fsyncs < 200, `expected far fewer disk mutations than puts, got ${fsyncs}`);
    await cluster.stopAll();
  });

  it('recovers every acknowledged write after a power cut, with or without its backend', async () => {
    for (const loseBackend of [false, true]) {
      const cluster = await TestCluster.start(1);
      const member = cluster.member(0);
      for (let i = 0; i < 20; i++) {
        await cluster.drive(member.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
      }
      const lease = await cluster.drive(member.leaseGrant(60, 0n));
      await cluster.drive(member.put({ key: bytes('leased'), lease: lease.id }));
      await cluster.crash(0, { loseBackend });
      const restarted = await cluster.startMember(0);
      await cluster.waitForLeader();
      const all = await cluster.drive(restarted.range({ key: bytes('k'), rangeEnd: bytes('l') }));
      assert.equal(all.count, 20, `loseBackend=${loseBackend}`);
      assert.equal(all.header.revision, 22);
      const leases = await cluster.drive(restarted.leaseLeases());
      assert.deepEqual(leases.leases, [lease.id]);
      const ttl = await cluster.drive(restarted.leaseTimeToLive(lease.id, true));
      assert.equal(text(ttl.keys[0]), 'leased');
      await cluster.stopAll();
    }
  });

  it('reports status, members, hash and stops cleanly', async () => {
    const cluster = await TestCluster.start(1);
    const member = cluster.member(0);
    await cluster.drive(member.put({ key: bytes('a'), value: bytes('1') }));
    const status = await member.status();
    assert.equal(status.version, '3.5.0');
    assert.equal(status.leader, member.memberId);
    assert.ok(status.raftAppliedIndex >= 2);
    await cluster.until(() => cluster.slots[0].member !== null, 'noop');
    // The member publishes its client URLs through raft shortly after it sees a leader.
    cluster.clock.advance(1000);
    await settle();
    const members = await cluster.drive(member.memberList(true));
    assert.equal(members.members.length, 1);
    assert.deepEqual(members.members[0].clientUrls, ['http://m0:2379']);
    const hash = await member.hashKv(0);
    assert.equal(typeof hash.hash, 'number');
    await cluster.stopAll();
    await assert.rejects(member.put({ key: bytes('x') }), /server stopped/);
  });
});
