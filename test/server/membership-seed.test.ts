/**
 * seedMemberDataDir (what `sigilctl snapshot restore` builds on): a member started on a seeded
 * data dir serves the restored keys, lists exactly the seeded members, and takes writes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asMemberId, SeededRandom } from '../../src/base/index.ts';
import { memberConfigDefaults, seedMemberDataDir, startMember } from '../../src/server/index.ts';
import { FaultyFileSystem, MemoryBackend } from '../../src/storage/index.ts';
import { silentLogger } from '../../src/transport/index.ts';
import { MemoryPeerNetwork } from '../support/memory-peer-network.ts';
import { drive, ManualClock } from '../support/test-clock.ts';
import { bytes, CLUSTER_ID, TestCluster, text } from './member-fixture.ts';

test('a member seeded from another cluster’s backend serves its data as a new cluster', async () => {
  // The source: a 3-member cluster with some keys; its backend is what a backup holds.
  const source = await TestCluster.start(3);
  const leader = await source.waitForLeader();
  for (let i = 0; i < 5; i++) {
    await source.drive(leader.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
  }
  await source.until(
    () => source.running().every((member) => member.appliedIndex === leader.appliedIndex),
    'every member to apply everything',
  );
  const backup = source.slots[source.leaderIndex()].backend;
  const restored = new MemoryBackend();
  await restored.restore(backup.snapshot());
  await source.stopAll();

  const id = asMemberId(0x7001n);
  const fs = new FaultyFileSystem(new SeededRandom(3));
  const members = [{ id, name: 'restored', peerUrls: ['http://restored:2380'] }];
  await seedMemberDataDir({
    fs,
    dataDir: '/data/restored',
    memberId: id,
    clusterId: CLUSTER_ID + 1n,
    members,
    backend: restored,
  });
  await assert.rejects(
    seedMemberDataDir({
      fs,
      dataDir: '/data/restored',
      memberId: id,
      clusterId: CLUSTER_ID + 1n,
      members,
      backend: restored,
    }),
    /already holds a member's WAL/,
  );
  const clock = new ManualClock();
  const member = await startMember(
    memberConfigDefaults({
      name: 'restored',
      dataDir: '/data/restored',
      memberId: id,
      clusterId: CLUSTER_ID + 1n,
      initialCluster: members,
      clientUrls: ['http://restored:2379'],
    }),
    {
      clock,
      random: new SeededRandom(4),
      fs,
      backend: restored,
      transport: new MemoryPeerNetwork().transport(id),
      logger: silentLogger,
      wallClockMs: () => 1_700_000_000_000,
    },
  );
  const list = await drive(clock, member.memberList(true));
  assert.deepEqual(
    list.members.map((m) => [m.id, m.name]),
    [[id, 'restored']],
  );
  const read = await drive(clock, member.range({ key: bytes('k4') }));
  assert.equal(text(read.kvs[0].value), 'v4');
  await drive(clock, member.put({ key: bytes('after'), value: bytes('restore') }));
  await member.stop();
});
