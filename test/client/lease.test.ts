/** Leases against real etcd: grant, inspect, keep alive, revoke, and etcd's answers for unknown ids. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EtcdError, EtcdMessage, GrpcCode, SigilClient } from '../../src/client/index.ts';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';

let etcd: EtcdCluster;
let client: SigilClient;

before(async () => {
  etcd = await startEtcd();
  client = new SigilClient({ endpoints: [...etcd.endpoints] });
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('grant, attach keys, timeToLive with keys, list, revoke', { timeout: 10_000 }, async () => {
  const lease = await client.lease.grant(30);
  assert.ok(lease.id > 0n);
  assert.equal(lease.ttl, 30);
  await client.put('lease/a', '1', { lease: lease.id });
  await client.put('lease/b', '2', { lease: lease.id });
  assert.equal((await client.get('lease/a')).kvs[0].lease, lease.id);
  const info = await client.lease.timeToLive(lease.id, { keys: true });
  assert.equal(info.id, lease.id);
  assert.equal(info.grantedTtl, 30);
  assert.ok(info.ttl > 0 && info.ttl <= 30);
  assert.deepEqual(info.keys.map((key) => key.toString()).sort(), ['lease/a', 'lease/b']);
  assert.ok((await client.lease.leases()).includes(lease.id));
  await client.lease.revoke(lease.id);
  assert.equal((await client.get('lease/', { prefix: true })).count, 0);
});

test('a client-chosen 64-bit lease id round-trips exactly', { timeout: 10_000 }, async () => {
  const id = 0x7abc_def0_1234_5679n; // above 2^53: a number would round it
  const lease = await client.lease.grant(10, { id });
  assert.equal(lease.id, id);
  assert.equal((await client.lease.timeToLive(id)).id, id);
  await client.lease.revoke(id);
});

test(
  'unknown leases: TTL -1 from timeToLive, 0 from keep-alive, NotFound on revoke',
  { timeout: 10_000 },
  async () => {
    const unknown = 0x1234_5678n;
    assert.equal((await client.lease.timeToLive(unknown)).ttl, -1);
    assert.equal(await client.lease.keepAliveOnce(unknown), 0);
    await assert.rejects(client.lease.revoke(unknown), (error: unknown) => {
      assert.ok(EtcdError.is(error));
      assert.equal(error.code, GrpcCode.NotFound);
      assert.equal(error.message, EtcdMessage.leaseNotFound);
      return true;
    });
  },
);

test(
  'keepAlive keeps a short lease alive past its TTL; close lets it expire',
  { timeout: 15_000 },
  async () => {
    const lease = await client.lease.grant(2);
    await client.put('kept', 'alive', { lease: lease.id });
    const keeper = client.lease.keepAlive(lease.id, lease.ttl);
    await sleep(3_500);
    assert.ok(keeper.renewalCount >= 3, `only ${keeper.renewalCount} renewals`);
    assert.equal((await client.get('kept')).count, 1, 'the key expired despite keep-alives');
    keeper.close();
    // etcd expires a lease within about TTL plus its checking interval after the last renewal.
    const deadline = Date.now() + 6_000;
    while ((await client.get('kept')).count === 1 && Date.now() < deadline) await sleep(200);
    assert.equal((await client.get('kept')).count, 0, 'the lease outlived its keeper');
  },
);

test('a kept lease that is revoked is reported lost', { timeout: 10_000 }, async () => {
  const lease = await client.lease.grant(5);
  const keeper = client.lease.keepAlive(lease.id, lease.ttl);
  await keeper.nextRenewal();
  await client.lease.revoke(lease.id);
  let lost = false;
  void keeper.lost.then(() => {
    lost = true;
  });
  const deadline = Date.now() + 5_000;
  while (!lost && Date.now() < deadline) await sleep(100);
  assert.equal(lost, true);
  assert.equal(keeper.ttl, 0);
});
