/**
 * The `etcd3` npm client against a three-member Sigil KV cluster of real `bin/sigild` processes:
 * replication seen through every member, watches, leases, locks and elections across members,
 * member list and status, and failover — a SIGKILLed leader is replaced, writes succeed again,
 * and no acknowledged write is lost; a restarted member catches up; a killed follower does not
 * interrupt service. One cluster serves the whole file.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Etcd3, type IWatchResponse } from 'etcd3';
import { holdElectionWatchStream } from '../support/etcd3-election-stream.ts';
import {
  type SigildCluster,
  startSigildCluster,
  withClusterLogs,
} from '../support/sigild-cluster.ts';
import { nextEvent, waitFor } from '../support/wait-for.ts';

let cluster: SigildCluster;
/** One client per member, each talking to that member only. */
let perMember: Etcd3[] = [];

function clientFor(hosts: string | string[]): Etcd3 {
  return new Etcd3({
    hosts,
    dialTimeout: 2_000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 4_000 }),
  });
}

before(async () => {
  cluster = await startSigildCluster({ members: 3 });
  perMember = cluster.clientUrls.map((url) => clientFor(url));
});

after(async () => {
  for (const client of perMember) client.close();
  await cluster?.stop();
});

describe('etcd3 client against three sigild processes', { timeout: 90_000 }, () => {
  it('every member serves what any member wrote, at the same revision', async () =>
    withClusterLogs(cluster, async () => {
      const written = await perMember[1].put('rep/k').value('from-1').exec();
      for (const client of perMember) {
        const read = await client.get('rep/k').exec();
        assert.equal(read.kvs[0]?.value.toString(), 'from-1');
        assert.equal(read.kvs[0].mod_revision, written.header.revision);
        assert.ok(Number(read.header.revision) >= Number(written.header.revision));
      }
      const txn = await perMember[2]
        .if('rep/k', 'Value', '==', 'from-1')
        .then(perMember[2].put('rep/k').value('from-2'))
        .commit();
      assert.equal(txn.succeeded, true);
      assert.equal(await perMember[0].get('rep/k').string(), 'from-2');
      const headers = await Promise.all(perMember.map((c) => c.get('rep/k').exec()));
      assert.equal(new Set(headers.map((r) => r.header.cluster_id)).size, 1);
      assert.equal(new Set(headers.map((r) => r.header.member_id)).size, 3);
    }));

  it('a watch on one member sees writes made through another', async () =>
    withClusterLogs(cluster, async () => {
      const start = await perMember[0].put('w3/a').value('0').exec();
      const watcher = await perMember[2]
        .watch()
        .prefix('w3/')
        .startRevision(start.header.revision)
        .withPreviousKV()
        .create();
      const events: string[] = [];
      watcher.on('data', (response: IWatchResponse) => {
        for (const e of response.events) {
          events.push(`${e.type} ${e.kv.key}=${e.kv.value} prev=${e.prev_kv?.value ?? '-'}`);
        }
      });
      await perMember[1].put('w3/a').value('1');
      await perMember[0].delete().key('w3/a');
      await waitFor('three watch events', () => (events.length >= 3 ? true : undefined));
      assert.deepEqual(events, ['Put w3/a=0 prev=-', 'Put w3/a=1 prev=0', 'Delete w3/a= prev=1']);
      await watcher.cancel();
    }));

  it('leases granted on one member expire or live everywhere', async () =>
    withClusterLogs(cluster, async () => {
      const granted = await perMember[0].leaseClient.leaseGrant({ TTL: 30 });
      await perMember[1].put('lease3/k').value('v').lease(granted.ID).exec();
      const live = await perMember[2].leaseClient.leaseTimeToLive({ ID: granted.ID, keys: true });
      assert.equal(live.grantedTTL, '30');
      assert.deepEqual(
        live.keys.map((key) => key.toString()),
        ['lease3/k'],
      );
      const listed = await perMember[1].leaseClient.leaseLeases({});
      assert.ok(listed.leases.some((lease) => lease.ID === granted.ID));
      await perMember[2].leaseClient.leaseRevoke({ ID: granted.ID });
      for (const client of perMember) assert.equal(await client.get('lease3/k').string(), null);

      const short = await perMember[2].leaseClient.leaseGrant({ TTL: 1 });
      await perMember[0].put('lease3/short').value('v').lease(short.ID).exec();
      await waitFor(
        'the short lease to expire and delete its key on every member',
        async () => {
          const values = await Promise.all(perMember.map((c) => c.get('lease3/short').string()));
          return values.every((value) => value === null) ? true : undefined;
        },
        15_000,
      );
    }));

  it('locks and elections work across members', async () =>
    withClusterLogs(cluster, async () => {
      const held = await perMember[0].lock('lock3').ttl(10).acquire();
      await assert.rejects(perMember[1].lock('lock3').ttl(10).acquire(), /Failed to acquire/);
      await held.release();
      const next = await perMember[2].lock('lock3').ttl(10).acquire();
      await next.release();

      const elections = perMember.map((member) => member.election('elect3', 5));
      const releaseStreams = await Promise.all(elections.map(holdElectionWatchStream));
      const observer = await elections[2].observe();
      const first = elections[0].campaign('a');
      await nextEvent(first, 'elected');
      const second = elections[1].campaign('b');
      await waitFor('the observer to see "a"', () =>
        observer.leader() === 'a' ? true : undefined,
      );
      assert.equal(await perMember[1].election('elect3').leader(), 'a');
      const secondElected = nextEvent(second, 'elected');
      await first.resign();
      await secondElected;
      await waitFor('the observer to see "b"', () =>
        observer.leader() === 'b' ? true : undefined,
      );
      await second.resign();
      await observer.cancel();
      for (const release of releaseStreams) await release();
    }));

  it('member list and status agree across members', async () =>
    withClusterLogs(cluster, async () => {
      const lists = await Promise.all(perMember.map((c) => c.cluster.memberList({})));
      for (const list of lists) {
        assert.deepEqual(
          list.members.map((m) => [m.name, m.peerURLs, m.clientURLs]).sort(),
          cluster.members.map((m) => [m.name, [m.peerUrl], [m.clientUrl]]).sort(),
        );
      }
      const statuses = await Promise.all(perMember.map((c) => c.maintenance.status({})));
      const leader = statuses[0].leader;
      assert.notEqual(leader, '0');
      assert.ok(lists[0].members.some((m) => m.ID === leader));
      for (const status of statuses) {
        assert.equal(status.leader, leader);
        assert.equal(status.raftTerm, statuses[0].raftTerm);
        assert.equal(status.header.cluster_id, lists[0].header.cluster_id);
        assert.ok(Number(status.raftIndex) > 0);
      }
      assert.deepEqual(
        statuses.map((s) => s.header.member_id).sort(),
        lists[0].members.map((m) => m.ID).sort(),
      );
    }));

  it('SIGKILL of the leader: a new leader, writes succeed again, no acked write lost', async (t) =>
    withClusterLogs(cluster, async () => {
      const oldLeader = await cluster.waitForLeader();
      const writer = clientFor([...cluster.clientUrls]);
      // A watch through a client of every member: if its member dies, etcd3 reconnects elsewhere
      // and resumes from the revision after the last event it saw, so it misses nothing.
      const watching = clientFor([...cluster.clientUrls]);
      const watched = new Map<string, string>();
      const watcher = await watching.watch().prefix('ack/').create();
      watcher.on('data', (response: IWatchResponse) => {
        for (const e of response.events) watched.set(e.kv.key.toString(), e.kv.value.toString());
      });
      const acked = new Map<string, string>();
      let failures = 0;
      let killedAt = Number.POSITIVE_INFINITY;
      let ackedAfterKill = 0;
      let stop = false;
      const loops = [0, 1, 2, 3].map(async (loop) => {
        for (let n = 0; !stop; n++) {
          const key = `ack/${loop}/${n}`;
          const value = `v${loop}.${n}`;
          const sentAt = Date.now();
          try {
            await writer.put(key).value(value).exec();
            acked.set(key, value);
            if (sentAt > killedAt) ackedAfterKill++;
          } catch {
            failures++; // Unacknowledged: it may or may not have been applied.
          }
        }
      });
      try {
        await waitFor('50 acknowledged writes before the kill', () =>
          acked.size >= 50 ? true : undefined,
        );
        killedAt = Date.now();
        await cluster.kill(oldLeader, 'SIGKILL');
        const newLeader = await cluster.waitForLeader(20_000);
        assert.notEqual(newLeader, oldLeader);
        t.diagnostic(`new leader sigil${newLeader} after ${Date.now() - killedAt} ms`);
        await waitFor('50 writes acknowledged after the kill', () =>
          ackedAfterKill >= 50 ? true : undefined,
        );
      } finally {
        stop = true;
        await Promise.all(loops);
        writer.close();
      }
      t.diagnostic(`${acked.size} writes acknowledged, ${failures} failed`);
      try {
        await waitFor(
          'the watch to deliver every acknowledged write',
          () => ([...acked].every(([key, value]) => watched.get(key) === value) ? true : undefined),
          20_000,
        );
      } finally {
        await watcher.cancel();
        watching.close();
      }
      const survivors = perMember.filter((_, i) => i !== oldLeader);
      for (const client of survivors) {
        const stored = await client.getAll().prefix('ack/').strings();
        const lost = [...acked].filter(([key, value]) => stored[key] !== value);
        assert.deepEqual(
          lost,
          [],
          `acknowledged writes lost (of ${acked.size}, ${failures} failed)`,
        );
      }

      // The killed member restarts from its data directory and catches up.
      await cluster.restart(oldLeader);
      await cluster.waitForLeader();
      const total = await survivors[0].getAll().prefix('ack/').count();
      await waitFor(
        'the restarted member to catch up',
        async () => {
          const count = await perMember[oldLeader].getAll().prefix('ack/').count();
          return count === total ? true : undefined;
        },
        20_000,
      );
      const stored = await perMember[oldLeader].getAll().prefix('ack/').strings();
      assert.deepEqual(
        [...acked].filter(([key, value]) => stored[key] !== value),
        [],
        'the restarted member has every acknowledged write',
      );
    }));

  it('SIGKILL of a follower: writes keep succeeding; it catches up after restart', async (t) =>
    withClusterLogs(cluster, async () => {
      const leader = await cluster.waitForLeader();
      const follower = (leader + 1) % 3;
      const before = await perMember[leader].maintenance.status({});
      await cluster.kill(follower, 'SIGKILL');
      for (let i = 0; i < 20; i++) {
        await perMember[leader].put(`follower-down/${i}`).value(`${i}`).exec();
      }
      const third = perMember[3 - leader - follower];
      assert.equal(await third.getAll().prefix('follower-down/').count(), 20);
      assert.notEqual(await cluster.waitForLeader(), follower);
      // A quorum remained, so no election is needed; on a heavily loaded box a late heartbeat
      // may still cause one, which is not an error.
      const after = await perMember[leader].maintenance.status({});
      t.diagnostic(`raft term ${before.raftTerm} → ${after.raftTerm}`);
      await cluster.restart(follower);
      await waitFor(
        'the follower to catch up',
        async () => {
          const count = await perMember[follower].getAll().prefix('follower-down/').count();
          return count === 20 ? true : undefined;
        },
        20_000,
      );
      assert.deepEqual(cluster.crashes(), []);
    }));
});
