/**
 * The unmodified `etcd3` npm client against a one-member Sigil KV cluster running as a real
 * `bin/sigild` process: KV, txns, watches (live, resumed from a revision, cancelled by
 * compaction), leases (keep-alive, expiry deletes attached keys, revoke), the client's lock and
 * election recipes, member list and maintenance status. One process serves the whole file.
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
let client: Etcd3;

before(async () => {
  cluster = await startSigildCluster({ members: 1 });
  client = new Etcd3({ hosts: cluster.clientUrls[0], dialTimeout: 3_000 });
});

after(async () => {
  client?.close();
  const crashes = cluster?.crashes() ?? [];
  await cluster?.stop();
  assert.deepEqual(crashes, [], 'no member exited on its own');
});

/** Collects watch events as `TYPE key=value` until `count` have arrived. */
function collect(
  watcher: NodeJS.EventEmitter,
  count: number,
  timeoutMs = 10_000,
): Promise<string[]> {
  const events: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${events.length}/${count} events: ${events.join(' | ')}`)),
      timeoutMs,
    );
    watcher.on('data', (response: IWatchResponse) => {
      for (const event of response.events) {
        const prev = event.prev_kv ? ` prev=${event.prev_kv.value.toString()}` : '';
        events.push(`${event.type} ${event.kv.key.toString()}=${event.kv.value.toString()}${prev}`);
      }
      if (events.length >= count) {
        clearTimeout(timer);
        resolve(events);
      }
    });
  });
}

describe('etcd3 client against one sigild process', { timeout: 60_000 }, () => {
  it('puts, gets, ranges, counts and deletes', async () =>
    withClusterLogs(cluster, async () => {
      const first = await client.put('kv/a').value('1').exec();
      await client.put('kv/b').value('2');
      const third = await client.put('kv/c').value('3').exec();
      assert.equal(Number(third.header.revision), Number(first.header.revision) + 2);
      assert.equal(await client.get('kv/a').string(), '1');
      assert.deepEqual(await client.getAll().prefix('kv/').strings(), {
        'kv/a': '1',
        'kv/b': '2',
        'kv/c': '3',
      });
      assert.equal(await client.getAll().prefix('kv/').count(), 3);
      const page = await client.getAll().prefix('kv/').sort('Key', 'Descend').limit(2).exec();
      assert.deepEqual(
        page.kvs.map((kv) => kv.key.toString()),
        ['kv/c', 'kv/b'],
      );
      assert.equal(page.more, true);
      assert.equal(page.count, '3');
      const old = await client.get('kv/a').revision(first.header.revision).exec();
      assert.equal(old.kvs[0].mod_revision, first.header.revision);
      const previous = await client.put('kv/a').value('1b').getPrevious();
      assert.equal(previous?.value.toString(), '1');
      const current = (await client.get('kv/a').exec()).kvs[0];
      assert.equal(current.version, '2');
      assert.equal(current.create_revision, first.header.revision);
      const deleted = await client.delete().prefix('kv/').exec();
      assert.equal(deleted.deleted, '3');
      assert.equal(await client.getAll().prefix('kv/').count(), 0);
    }));

  it('commits txns on the branch its compares choose, at one revision', async () =>
    withClusterLogs(cluster, async () => {
      await client.put('txn/k').value('v1');
      const yes = await client
        .if('txn/k', 'Value', '==', 'v1')
        .then(client.put('txn/k').value('v2'), client.put('txn/j').value('j'), client.get('txn/k'))
        .else(client.put('txn/other').value('x'))
        .commit();
      assert.equal(yes.succeeded, true);
      assert.equal(yes.responses.length, 3);
      assert.equal(yes.responses[2].response_range?.kvs[0].value.toString(), 'v2');
      const [k, j] = await Promise.all([client.get('txn/k').exec(), client.get('txn/j').exec()]);
      assert.equal(k.kvs[0].mod_revision, j.kvs[0].mod_revision, 'one revision per txn');
      const no = await client
        .if('txn/k', 'Mod', '<', 1)
        .then(client.put('txn/k').value('v3'))
        .else(client.put('txn/other').value('x'))
        .commit();
      assert.equal(no.succeeded, false);
      assert.equal(await client.get('txn/k').string(), 'v2');
      assert.equal(await client.get('txn/other').string(), 'x');
      await assert.rejects(
        client
          .if('txn/k', 'Version', '>', 0)
          .then(client.put('txn/d').value('1'), client.put('txn/d').value('2'))
          .commit(),
        /duplicate key given in txn request/,
      );
    }));

  it('watches live events with prev_kv and resumes from a revision', async () =>
    withClusterLogs(cluster, async () => {
      const watcher = await client.watch().prefix('watch/').withPreviousKV().create();
      const live = collect(watcher, 3);
      const first = await client.put('watch/x').value('1').exec();
      await client.put('watch/x').value('2');
      await client.delete().key('watch/x');
      assert.deepEqual(await live, [
        'Put watch/x=1',
        'Put watch/x=2 prev=1',
        'Delete watch/x= prev=2',
      ]);
      await watcher.cancel();

      // A new watch from the first put's revision replays the same history, then goes live.
      const replay = await client
        .watch()
        .prefix('watch/')
        .startRevision(first.header.revision)
        .create();
      const events = collect(replay, 4);
      await client.put('watch/y').value('live');
      assert.deepEqual(await events, [
        'Put watch/x=1',
        'Put watch/x=2',
        'Delete watch/x=',
        'Put watch/y=live',
      ]);
      await replay.cancel();
    }));

  it('cancels a watch that starts at a compacted revision', async () =>
    withClusterLogs(cluster, async () => {
      const first = await client.put('compact/k').value('1').exec();
      await client.put('compact/k').value('2');
      const latest = await client.put('compact/k').value('3').exec();
      await client.kv.compact({ revision: latest.header.revision, physical: true });
      const watcher = client.watch().key('compact/k').startRevision(first.header.revision).create();
      const error = await new Promise<Error>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the watch was not cancelled')), 10_000);
        void watcher.then((w) =>
          w.on('error', (e: Error) => {
            clearTimeout(timer);
            resolve(e);
          }),
        );
      });
      assert.match(error.message, /Watcher canceled/);
      await assert.rejects(
        client.get('compact/k').revision(first.header.revision).exec(),
        /required revision has been compacted/,
      );
      // The compacted revision itself is still readable.
      assert.equal(await client.get('compact/k').revision(latest.header.revision).string(), '3');
    }));

  it('keeps a kept-alive lease and its keys past the TTL', async () =>
    withClusterLogs(cluster, async () => {
      const lease = client.lease(2);
      const id = await lease.grant();
      await lease.put('lease/kept').value('v');
      // Wait for keep-alives spanning more than the TTL (every TTL/3 ≈ 0.67 s).
      const started = Date.now();
      let keepalives = 0;
      lease.on('keepaliveSucceeded', () => keepalives++);
      await waitFor(
        'keep-alives spanning 3 s',
        () => (Date.now() - started > 3_000 && keepalives >= 3 ? true : undefined),
        15_000,
      );
      assert.equal(await client.get('lease/kept').string(), 'v');
      const live = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
      assert.equal(live.grantedTTL, '2');
      assert.ok(Number(live.TTL) > 0, `remaining TTL ${live.TTL}`);
      assert.deepEqual(
        live.keys.map((key) => key.toString()),
        ['lease/kept'],
      );
      await lease.revoke();
      assert.equal(await client.get('lease/kept').string(), null);
      const gone = await client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
      assert.equal(gone.TTL, '-1');
      await assert.rejects(
        client.put('lease/x').value('v').lease(id).exec(),
        /requested lease not found/,
      );
    }));

  it('expires a lease without keep-alives and deletes its keys', async () =>
    withClusterLogs(cluster, async () => {
      const granted = await client.leaseClient.leaseGrant({ TTL: 1 });
      const grantedAt = Date.now();
      await client.put('lease/expiring').value('v').lease(granted.ID).exec();
      await client.put('lease/expiring2').value('v').lease(granted.ID).exec();
      await client.put('lease/unleased').value('v').exec();
      const watcher = await client.watch().prefix('lease/expiring').create();
      const deletes = collect(watcher, 2, 15_000);
      assert.deepEqual((await deletes).sort(), [
        'Delete lease/expiring2=',
        'Delete lease/expiring=',
      ]);
      const expiredAfter = Date.now() - grantedAt;
      await watcher.cancel();
      // Not before the TTL (1 s) has passed; some slack for the round trips before the clock.
      assert.ok(expiredAfter >= 900, `expired after ${expiredAfter} ms`);
      assert.equal(await client.getAll().prefix('lease/expiring').count(), 0);
      assert.equal(await client.get('lease/unleased').string(), 'v');
      const gone = await client.leaseClient.leaseTimeToLive({ ID: granted.ID, keys: false });
      assert.equal(gone.TTL, '-1');
    }));

  it('lock: a second holder is refused until the first releases', async () =>
    withClusterLogs(cluster, async () => {
      const first = await client.lock('locks/a').ttl(10).acquire();
      // etcd3's Lock is a txn "create_revision == 0 → put with lease": a held lock refuses.
      await assert.rejects(client.lock('locks/a').ttl(10).acquire(), /Failed to acquire a lock/);
      assert.notEqual(await client.get('locks/a').string(), null);
      await first.release();
      assert.equal(await client.get('locks/a').string(), null);
      const result = await client
        .lock('locks/a')
        .ttl(10)
        .do(async () => 'ran');
      assert.equal(result, 'ran');
      assert.equal(await client.get('locks/a').string(), null);
    }));

  it('election: campaign, leader, observe and hand over on resign', async () =>
    withClusterLogs(cluster, async () => {
      const election = client.election('elections/e', 5);
      const releaseStream = await holdElectionWatchStream(election);
      const observer = await election.observe();
      const one = election.campaign('one');
      await nextEvent(one, 'elected');
      assert.equal(await election.leader(), 'one');
      await waitFor('the observer to see "one"', () =>
        observer.leader() === 'one' ? true : undefined,
      );
      const two = election.campaign('two');
      let twoElected = false;
      two.on('elected', () => (twoElected = true));
      const changed = nextEvent<string | undefined>(observer, 'change');
      await one.proclaim('one-again');
      assert.equal(await changed, 'one-again');
      assert.equal(twoElected, false, 'the second campaign waits while the first leads');
      const elected = nextEvent(two, 'elected');
      await one.resign();
      await elected;
      assert.equal(await election.leader(), 'two');
      await waitFor('the observer to see "two"', () =>
        observer.leader() === 'two' ? true : undefined,
      );
      await two.resign();
      await observer.cancel();
      await releaseStream();
    }));

  it('member list and maintenance status describe the member', async () =>
    withClusterLogs(cluster, async () => {
      const members = await client.cluster.memberList({});
      assert.equal(members.members.length, 1);
      const [member] = members.members;
      assert.equal(member.name, 'sigil0');
      assert.deepEqual(member.clientURLs, [cluster.clientUrls[0]]);
      assert.deepEqual(member.peerURLs, [cluster.members[0].peerUrl]);
      assert.equal(members.header.member_id, member.ID);
      const status = await client.maintenance.status({});
      assert.equal(status.leader, member.ID, 'a single member leads');
      assert.equal(status.header.member_id, member.ID);
      assert.equal(status.header.cluster_id, members.header.cluster_id);
      assert.match(status.version, /^3\.\d+\.\d+/);
      assert.ok(Number(status.raftIndex) > 0);
      assert.ok(Number(status.raftTerm) >= 1);
      assert.ok(Number(status.dbSize) > 0);
      const before = Number(status.raftIndex);
      await client.put('status/k').value('v');
      const after = await client.maintenance.status({});
      assert.ok(Number(after.raftIndex) > before, 'a write advances the raft index');
    }));
});
