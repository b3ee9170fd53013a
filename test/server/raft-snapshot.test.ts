/**
 * Raft snapshots as etcd takes them: metadata only, taken without stopping the Ready loop; the
 * backend streamed to a lagging follower from a read transaction when the MsgSnap leaves, and
 * spooled to a file by the follower before raft sees it, so a crash before the restore finishes
 * is repaired from that file on restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SigilMember } from '../../src/server/index.ts';
import { MemoryBackend } from '../../src/storage/index.ts';
import type { ManualClock } from '../support/test-clock.ts';
import { settle } from '../support/test-clock.ts';
import { CapturingLogger } from '../transport/transport-fixtures.ts';
import { bytes, TestCluster } from './member-fixture.ts';

/** A backend whose snapshot stream takes `delayMs` of virtual time before its first byte,
 *  standing in for a large backend read on a busy disk. */
class SlowSnapshotBackend extends MemoryBackend {
  streams = 0;
  constructor(
    private readonly clock: ManualClock,
    private readonly delayMs: number,
  ) {
    super();
  }

  override snapshot(): AsyncIterable<Uint8Array> {
    this.streams++;
    const inner = super.snapshot();
    const { clock, delayMs } = this;
    return (async function* () {
      await new Promise<void>((resolve) => clock.setTimer(delayMs, resolve));
      yield* inner;
    })();
  }
}

/** A backend that, like LMDB, keeps after a power cut only what it held at its last sync(). */
class SyncTrackingBackend extends MemoryBackend {
  private synced: Uint8Array[] = [];

  override async sync(): Promise<void> {
    const stream = this.snapshot(); // the state now: MemoryBackend copies its records here
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    this.synced = chunks;
  }

  /** What a power cut leaves. */
  async afterPowerCut(): Promise<SyncTrackingBackend> {
    const survivor = new SyncTrackingBackend();
    const chunks = this.synced;
    if (chunks.length > 0) {
      await survivor.restore(
        (async function* () {
          yield* chunks;
        })(),
      );
    }
    survivor.synced = chunks;
    return survivor;
  }
}

async function startCluster(cluster: TestCluster): Promise<SigilMember> {
  await Promise.all(cluster.slots.map((_, i) => cluster.startMember(i)));
  return await cluster.waitForLeader();
}

function followerIndex(cluster: TestCluster): number {
  return cluster.slots.findIndex((slot) => slot.member !== null && !slot.member.isLeader);
}

async function snapFiles(cluster: TestCluster, i: number): Promise<string[]> {
  const slot = cluster.slots[i];
  const directory = `/data/${slot.name}/member/snap`;
  return (await slot.fs.exists(directory)) ? await slot.fs.readdir(directory) : [];
}

const indexOfSnap = (name: string): number => Number.parseInt(name.slice(17, 33), 16);

/** Keys, leases, deletes and a txn, so every part of the state travels in the snapshot. */
async function writeMixedLoad(cluster: TestCluster, leader: SigilMember, puts: number) {
  const lease = await cluster.drive(leader.leaseGrant(600, 0x77n));
  for (let i = 0; i < puts; i++) {
    const attach = i % 7 === 0 ? { lease: lease.id } : {};
    await cluster.drive(
      leader.put({ key: bytes(`k${i % 40}`), value: bytes(`${i}`.padEnd(100, '.')), ...attach }),
    );
    if (i % 13 === 0) await cluster.drive(leader.deleteRange({ key: bytes(`k${(i + 5) % 40}`) }));
  }
  await cluster.drive(leader.leaseGrant(900, 0x78n));
  // A snapshot is taken right after the entry that makes it due; one more entry guarantees
  // the leader's state is ahead of its newest snapshot.
  await cluster.drive(leader.put({ key: bytes('tail'), value: bytes('1') }));
}

async function assertSameState(cluster: TestCluster, members: readonly SigilMember[]) {
  const hashes = await Promise.all(members.map((member) => cluster.drive(member.hashKv(0))));
  const leases = await Promise.all(
    members.map(async (member) => (await cluster.drive(member.leaseLeases())).leases),
  );
  for (let i = 1; i < members.length; i++) {
    assert.equal(hashes[i].hashRevision, hashes[0].hashRevision, 'same revision');
    assert.equal(hashes[i].hash, hashes[0].hash, 'same HashKV');
    assert.deepEqual(leases[i], leases[0], 'same leases');
  }
}

describe('raft snapshots', () => {
  it('the leader keeps heartbeating while it takes snapshots under writes', async () => {
    const cluster = new TestCluster(3, { snapshotCount: 20, snapshotCatchUpEntries: 5 });
    const backends = cluster.slots.map((slot) => {
      const backend = new SlowSnapshotBackend(cluster.clock, 5_000);
      slot.backend = backend;
      return backend;
    });
    const leader = await startCluster(cluster);
    const term = leader.raftTerm;
    for (let i = 0; i < 100; i++) {
      await cluster.drive(leader.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
    }
    const leaderIndex = cluster.leaderIndex();
    assert.equal(cluster.slots[leaderIndex].member, leader, 'no leader change');
    assert.equal(leader.raftTerm, term, 'no election');
    // Several snapshots were taken, none of them by reading the backend.
    const snaps = (await snapFiles(cluster, leaderIndex)).filter((name) => name.endsWith('.snap'));
    assert.ok(snaps.length > 0 && indexOfSnap(snaps[snaps.length - 1]) >= 80, `${snaps}`);
    assert.deepEqual(
      backends.map((backend) => backend.streams),
      [0, 0, 0],
    );
    await cluster.stopAll();
  });

  it('the backend is durable past a snapshot before the WAL before it is released', async () => {
    const cluster = new TestCluster(1, {
      snapshotCount: 20,
      snapshotCatchUpEntries: 5,
      walSegmentBytes: 8 * 1024,
    });
    const backend = new SyncTrackingBackend();
    cluster.slots[0].backend = backend;
    const member = await startCluster(cluster);
    for (let i = 0; i < 120; i++) {
      await cluster.drive(member.put({ key: bytes(`k${i}`), value: bytes('v'.repeat(200)) }));
    }
    const wal = await cluster.slots[0].fs.readdir('/data/m0/member/wal');
    const segments = wal.filter((name) => name.endsWith('.wal')).sort();
    assert.notEqual(segments[0], '0000000000000000-0000000000000000.wal', 'old segments released');
    await cluster.crash(0);
    cluster.slots[0].backend = await backend.afterPowerCut();
    const restarted = await cluster.startMember(0);
    await cluster.waitForLeader();
    const all = await cluster.drive(restarted.range({ key: bytes('k'), rangeEnd: bytes('l') }));
    assert.equal(
      all.count,
      120,
      'the synced backend plus the WAL after the snapshot hold every key',
    );
    await cluster.stopAll();
  });

  it('a follower that lagged past the compacted log catches up by snapshot to the same state', async () => {
    const logger = new CapturingLogger();
    const cluster = new TestCluster(
      3,
      { snapshotCount: 50, snapshotCatchUpEntries: 10, walSegmentBytes: 8 * 1024 },
      logger,
    );
    const leader = await startCluster(cluster);
    const laggard = followerIndex(cluster);
    await cluster.stop(laggard);
    await writeMixedLoad(cluster, leader, 180);
    const leaderIndex = cluster.leaderIndex();
    const leaderSlot = cluster.slots[leaderIndex];
    const leaderSnaps = (await snapFiles(cluster, leaderIndex)).filter((n) => n.endsWith('.snap'));
    // Metadata only: no raft snapshot file holds the backend.
    for (const name of leaderSnaps) {
      const size = leaderSlot.fs.sizeOf(`/data/${leaderSlot.name}/member/snap/${name}`);
      assert.ok(size < 256, `${name} is ${size} bytes`);
    }
    const newestSnapIndex = indexOfSnap(leaderSnaps[leaderSnaps.length - 1]);
    assert.ok(newestSnapIndex < leader.appliedIndex, 'entries applied after the snapshot');

    const restarted = await cluster.startMember(laggard);
    await cluster.until(
      () => restarted.appliedIndex >= leader.appliedIndex,
      'the laggard to catch up through a snapshot',
    );
    const installs = logger.lines.filter((line) => line.message === 'installed snapshot');
    assert.equal(installs.length, 1, 'caught up by one snapshot');
    const { index, backendIndex } = installs[0].fields as { index: number; backendIndex: number };
    // The leader streamed its backend as of sending, newer than the snapshot's index: the
    // laggard then received entries its backend already held, and skipped them (applying
    // them again would bump revisions, and the hashes below would differ).
    assert.ok(backendIndex > index, `backend ${backendIndex} vs snapshot ${index}`);
    await assertSameState(cluster, cluster.running());
    const spools = (await snapFiles(cluster, laggard)).filter((name) => name.includes('.snap.db'));
    assert.deepEqual(spools, [], 'the spool is purged once the backend holds it');
    await cluster.stopAll();
  });

  it('a crash after the snapshot is saved but before the backend is restored is repaired from the spool', async () => {
    const cluster = new TestCluster(3, {
      snapshotCount: 50,
      snapshotCatchUpEntries: 10,
      walSegmentBytes: 8 * 1024,
    });
    const leader = await startCluster(cluster);
    const laggard = followerIndex(cluster);
    await cluster.stop(laggard);
    await writeMixedLoad(cluster, leader, 150);
    const staleIndex = cluster.slots[laggard].backend.consistentIndex();

    const restarted = await cluster.startMember(laggard);
    // The restore's first read of the spool fails: the member stops with the raft snapshot
    // persisted and the backend untouched, as if killed in the middle of the restore.
    cluster.slots[laggard].fs.failNext('read', 'EIO');
    await cluster.until(() => restarted.failed !== null, 'the restore to fail');
    const files = await snapFiles(cluster, laggard);
    const snap = files.find((name) => name.endsWith('.snap'));
    assert.ok(snap !== undefined, `raft snapshot persisted: ${files}`);
    assert.ok(files.includes(`${snap}.db`), `spooled backend beside it: ${files}`);
    assert.equal(cluster.slots[laggard].backend.consistentIndex(), staleIndex);

    await cluster.crash(laggard);
    await settle();
    const recovered = await cluster.startMember(laggard);
    assert.ok(
      cluster.slots[laggard].backend.consistentIndex() >= indexOfSnap(snap),
      'the backend was restored from the spool before raft started',
    );
    await cluster.until(
      () => recovered.appliedIndex >= leader.appliedIndex,
      'the repaired member to catch up',
    );
    await assertSameState(cluster, cluster.running());
    const spools = (await snapFiles(cluster, laggard)).filter((name) => name.includes('.snap.db'));
    assert.deepEqual(spools, []);
    await cluster.stopAll();
  });
});
