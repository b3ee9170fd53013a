/**
 * The unmodified `etcd3` npm client (gRPC through @grpc/grpc-js) against the client API over a
 * real MVCC store: KV, txns, watches (resume from a revision, compaction cancel), leases with
 * keep-alive, and the client's lock and election recipes (txns + ranges + watches).
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { holdElectionWatchStream } from '../support/etcd3-election-stream.ts';
import { type RunningApi, startLocalApi } from './api-fixture.ts';

let running: RunningApi;
let client: Etcd3;

before(async () => {
  running = await startLocalApi();
  client = new Etcd3({ hosts: running.url, dialTimeout: 3_000 });
});

after(async () => {
  client.close();
  await running.stop();
  assert.deepEqual(running.errors, [], 'no unexpected server-side errors');
});

function nextEvent<T>(emitter: NodeJS.EventEmitter, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${event} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

test('put, get, prefix range, delete and count', { timeout: 15_000 }, async () => {
  await client.put('kv/a').value('1');
  await client.put('kv/b').value('2');
  await client.put('kv/c').value('3');
  assert.equal(await client.get('kv/a').string(), '1');
  assert.deepEqual(await client.getAll().prefix('kv/').strings(), {
    'kv/a': '1',
    'kv/b': '2',
    'kv/c': '3',
  });
  assert.equal(await client.getAll().prefix('kv/').count(), 3);
  const page = await client.getAll().prefix('kv/').sort('Key', 'Descend').limit(1).exec();
  assert.equal(page.kvs[0].key.toString(), 'kv/c');
  assert.equal(page.more, true);
  const deleted = await client.delete().key('kv/b').exec();
  assert.equal(deleted.deleted, '1');
  assert.equal(await client.get('kv/b').string(), null);
  const previous = await client.put('kv/a').value('1b').getPrevious();
  assert.equal(previous?.value.toString(), '1');
});

test('txn compares, branches and nested reads', { timeout: 15_000 }, async () => {
  await client.put('txn/k').value('v1');
  const yes = await client
    .if('txn/k', 'Value', '==', 'v1')
    .then(client.put('txn/k').value('v2'), client.get('txn/k'))
    .else(client.put('txn/other').value('x'))
    .commit();
  assert.equal(yes.succeeded, true);
  assert.equal(yes.responses.length, 2);
  const no = await client
    .if('txn/k', 'Value', '==', 'v1')
    .then(client.put('txn/k').value('v3'))
    .commit();
  assert.equal(no.succeeded, false);
  assert.equal(await client.get('txn/k').string(), 'v2');
  await assert.rejects(
    client
      .if('txn/k', 'Version', '>', 0)
      .then(client.put('txn/d').value('1'), client.put('txn/d').value('2'))
      .commit(),
    /duplicate key given in txn request/,
  );
});

test(
  'watch delivers puts and deletes with prev_kv, and resumes from a revision',
  { timeout: 20_000 },
  async () => {
    const watcher = await client.watch().prefix('watch/').withPreviousKV().create();
    const put = nextEvent<{ key: Buffer; value: Buffer; mod_revision: string }>(watcher, 'put');
    const first = await client.put('watch/x').value('1');
    const seen = await put;
    assert.equal(seen.key.toString(), 'watch/x');
    assert.equal(seen.mod_revision, first.header.revision);
    const deleted = nextEvent<[unknown, { value: Buffer }]>(watcher, 'data');
    await client.delete().key('watch/x');
    const response = (await deleted) as unknown as {
      events: { type: string; prev_kv: { value: Buffer } }[];
    };
    assert.equal(response.events[0].type, 'Delete');
    assert.equal(response.events[0].prev_kv.value.toString(), '1');
    await watcher.cancel();

    // A new watch from the first put's revision replays history in order.
    const replay = await client
      .watch()
      .prefix('watch/')
      .startRevision(first.header.revision)
      .create();
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`replay incomplete: ${events.join(',')}`)),
        5_000,
      );
      replay.on('data', (data) => {
        for (const event of data.events) events.push(`${event.type}:${event.kv.key.toString()}`);
        if (events.length >= 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.deepEqual(events, ['Put:watch/x', 'Delete:watch/x']);
    await replay.cancel();
  },
);

test('a watch from a compacted revision is cancelled', { timeout: 15_000 }, async () => {
  const first = await client.put('compact/k').value('1');
  await client.put('compact/k').value('2');
  const latest = await client.put('compact/k').value('3');
  await client.kv.compact({ revision: latest.header.revision, physical: true });
  const watcher = client.watch().key('compact/k').startRevision(first.header.revision).create();
  const canceled = new Promise<Error>((resolve) => {
    void watcher.then((w) => w.on('error', resolve));
  });
  const error = await Promise.race([
    canceled,
    new Promise<Error>((_, reject) => setTimeout(() => reject(new Error('no cancel')), 5_000)),
  ]);
  assert.match(error.message, /Watcher canceled/);
  await assert.rejects(
    client.get('compact/k').revision(first.header.revision).exec(),
    /required revision has been compacted/,
  );
});

test(
  'leases: grant, attach, keep alive, time to live, revoke deletes keys',
  { timeout: 15_000 },
  async () => {
    const lease = client.lease(30);
    const id = await lease.grant();
    await lease.put('lease/k').value('v');
    const kept = await lease.keepaliveOnce();
    assert.equal(kept.TTL, '30');
    const leases = await client.leaseClient.leaseLeases();
    assert.ok(leases.leases.some((item) => item.ID === id));
    const live = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    assert.equal(live.grantedTTL, '30');
    assert.deepEqual(
      live.keys.map((key) => key.toString()),
      ['lease/k'],
    );
    await lease.revoke();
    assert.equal(await client.get('lease/k').string(), null);
    const gone = await client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
    assert.equal(gone.TTL, '-1');
    await assert.rejects(
      client.put('lease/x').value('v').lease(id).exec(),
      /requested lease not found/,
    );
  },
);

test('the lock helper excludes a second holder until release', { timeout: 20_000 }, async () => {
  // etcd3's Lock is a txn "create_revision == 0 → put with lease": a held lock refuses at once.
  const first = await client.lock('locks/a').ttl(10).acquire();
  await assert.rejects(client.lock('locks/a').ttl(10).acquire(), /Failed to acquire a lock/);
  await first.release();
  const second = await client.lock('locks/a').ttl(10).acquire();
  await second.release();
  assert.equal(await client.get('locks/a').string(), null);
});

test(
  'the election helper elects, reports the leader and hands over on resign',
  { timeout: 20_000 },
  async () => {
    const election = client.election('elections/e', 10);
    const releaseStream = await holdElectionWatchStream(election);
    const one = election.campaign('one');
    await nextEvent(one, 'elected');
    assert.equal(await election.leader(), 'one');
    const two = election.campaign('two');
    const twoElected = nextEvent(two, 'elected');
    await one.resign();
    await twoElected;
    assert.equal(await election.leader(), 'two');
    await two.resign();
    await releaseStream();
  },
);
