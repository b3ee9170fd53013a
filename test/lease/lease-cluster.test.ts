import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minLeaseTtlSeconds } from '../../src/server/index.ts';
import { bytes, TestCluster } from '../server/member-fixture.ts';

describe('leases in a cluster', { timeout: 30_000 }, () => {
  it("uses etcd's minimum TTL (2 s with a 1 s election timeout)", () => {
    assert.equal(minLeaseTtlSeconds({ electionMs: 1000, heartbeatMs: 100 }), 2);
    assert.equal(minLeaseTtlSeconds({ electionMs: 5000, heartbeatMs: 100 }), 8);
  });

  it('the leader expires a lease, every member deletes its keys; keepalives from a follower renew', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((member) => !member.isLeader)!;
    const granted = await cluster.drive(follower.leaseGrant(3, 0n));
    assert.equal(granted.ttl, 3);
    await cluster.drive(follower.put({ key: bytes('eph'), value: bytes('1'), lease: granted.id }));
    await assert.rejects(
      cluster.drive(leader.put({ key: bytes('bad'), lease: 12345n })),
      /requested lease not found/,
    );
    // Keep it alive for a while through the follower: it must survive well past its TTL.
    for (let i = 0; i < 6; i++) {
      cluster.clock.advance(1000);
      const renewed = await cluster.drive(follower.leaseKeepAlive(granted.id));
      assert.equal(renewed.ttl, 3);
    }
    for (const member of cluster.running()) {
      assert.equal((await member.range({ key: bytes('eph'), serializable: true })).count, 1);
    }
    await cluster.until(
      () => cluster.running().every((member) => member.appliedIndex === leader.appliedIndex),
      'members in sync',
    );
    // Stop renewing: the leader revokes it after the TTL; the key goes everywhere.
    await cluster.until(
      () => {
        return cluster.running().every((member) => {
          const kv = (
            member as unknown as {
              stateMachine: { kv: { range: (r: unknown) => { count: number } } };
            }
          ).stateMachine.kv;
          return kv.range({ key: bytes('eph') }).count === 0;
        });
      },
      'the lease to expire and its key to vanish',
      10_000,
    );
    const ttl = await cluster.drive(leader.leaseTimeToLive(granted.id, false));
    assert.equal(ttl.ttl, -1);
    await cluster.stopAll();
  });

  it('a follower reports the TTL remaining on the leader, counting down like it', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((member) => !member.isLeader)!;
    const id = 0x694d_7a0c_9d8c_5f04n; // an id as real etcd hands them out, above 2^53
    await cluster.drive(follower.leaseGrant(60, id));
    await cluster.drive(follower.put({ key: bytes('ttl/a'), lease: id }));
    const waitMs = async (ms: number): Promise<void> => {
      const until = cluster.clock.nowMs() + ms;
      await cluster.until(() => cluster.clock.nowMs() >= until, `${ms} ms to pass`);
    };
    await waitMs(10_500);
    const fromLeader = await cluster.drive(leader.leaseTimeToLive(id, true));
    const fromFollower = await cluster.drive(follower.leaseTimeToLive(id, true));
    assert.ok(leader.isLeader, 'the leader kept its role (its clock is the one counting)');
    assert.ok(fromLeader.ttl >= 47 && fromLeader.ttl <= 49, `leader: ${fromLeader.ttl}`);
    // The follower's answer is the leader's count a few raft rounds later, not the granted 60.
    assert.ok(
      fromFollower.ttl <= fromLeader.ttl && fromFollower.ttl >= fromLeader.ttl - 1,
      `follower ${fromFollower.ttl}, leader ${fromLeader.ttl}`,
    );
    assert.equal(fromFollower.grantedTtl, 60);
    assert.deepEqual(
      fromFollower.keys.map((key) => Buffer.from(key).toString()),
      ['ttl/a'],
    );
    // A keepalive through the follower renews on the leader; the follower sees the new count.
    await cluster.drive(follower.leaseKeepAlive(id));
    await waitMs(2_500);
    const renewed = (await cluster.drive(follower.leaseTimeToLive(id, false))).ttl;
    assert.ok(renewed >= 56 && renewed <= 57, `after the renewal: ${renewed}`);
    await cluster.drive(leader.leaseRevoke(id));
    const gone = await cluster.drive(follower.leaseTimeToLive(id, true));
    assert.deepEqual([gone.ttl, gone.grantedTtl, gone.keys.length], [-1, 0, 0]);
    await cluster.stopAll();
  });

  it('followers never expire leases on their own', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const granted = await cluster.drive(leader.leaseGrant(2, 0n));
    await cluster.drive(leader.put({ key: bytes('k'), lease: granted.id }));
    const survivorIndex = cluster.slots.findIndex(
      (slot) => slot.member !== null && !slot.member.isLeader,
    );
    const survivor = cluster.member(survivorIndex);
    await cluster.until(() => survivor.appliedIndex >= leader.appliedIndex, 'survivor in sync');
    for (let i = 0; i < cluster.slots.length; i++) if (i !== survivorIndex) await cluster.stop(i);
    cluster.clock.advance(20_000);
    await cluster.until(() => true, 'settle');
    assert.equal((await survivor.range({ key: bytes('k'), serializable: true })).count, 1);
    await cluster.stopAll();
  });

  it('a new leader gives every lease its full TTL again', async () => {
    const cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const granted = await cluster.drive(leader.leaseGrant(5, 0n));
    await cluster.drive(leader.put({ key: bytes('k'), lease: granted.id }));
    await cluster.until(
      () => cluster.running().every((member) => member.appliedIndex === leader.appliedIndex),
      'members in sync',
    );
    cluster.clock.advance(3_000);
    const oldIndex = cluster.leaderIndex();
    await cluster.stop(oldIndex);
    const next = await cluster.waitForLeader();
    const electedAt = cluster.clock.nowMs();
    const ttl = await cluster.drive(next.leaseTimeToLive(granted.id, false));
    assert.ok(ttl.ttl >= 4, `full TTL after the change, got ${ttl.ttl}`);
    await cluster.until(
      () => next.range !== undefined && cluster.clock.nowMs() - electedAt > 7_000,
      'past the extended expiry',
    );
    assert.equal((await next.range({ key: bytes('k'), serializable: true })).count, 0);
    await cluster.stopAll();
  });
});
