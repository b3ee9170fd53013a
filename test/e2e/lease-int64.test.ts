/**
 * Lease ids across the whole int64 range against a real `bin/sigild`: real etcd hands out ids
 * like 0x694d7a0c9d8c5f04 (and grants any nonzero id a client names, negative ones too), and
 * snapshots imported from etcd carry them. Grant with an explicit id, attach keys, keep alive,
 * TimeToLive with keys, list, revoke, expiry, a restart that must recover leases and attached
 * keys from disk, and the JSON gateway (int64 as decimal strings).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import {
  type SigildCluster,
  startSigildCluster,
  withClusterLogs,
} from '../support/sigild-cluster.ts';
import { waitFor } from '../support/wait-for.ts';

const ETCD_STYLE_ID = 0x694d_7a0c_9d8c_5f04n;
const INT64_MAX = (1n << 63n) - 1n;
const NEGATIVE_ID = -0x1234_5678_9abcn;

let cluster: SigildCluster;
let client: SigilClient;

before(async () => {
  cluster = await startSigildCluster({ members: 1 });
  client = new SigilClient({ endpoints: [...cluster.endpoints] });
});

after(async () => {
  client?.close();
  const crashes = cluster?.crashes() ?? [];
  await cluster?.stop();
  assert.deepEqual(crashes, [], 'no member exited on its own');
});

const keysOf = (keys: readonly Uint8Array[]): string[] =>
  keys.map((key) => Buffer.from(key).toString()).sort();

describe('64-bit lease ids end to end', { timeout: 90_000 }, () => {
  it('grant, attach, keep alive, inspect, list and revoke with ids beyond 2^53', async () =>
    withClusterLogs(cluster, async () => {
      for (const id of [ETCD_STYLE_ID, INT64_MAX, NEGATIVE_ID]) {
        assert.equal((await client.lease.grant(30, { id })).id, id);
        await client.put(`big/${id}/a`, '1', { lease: id });
        await client.put(`big/${id}/b`, '2', { lease: id });
        assert.equal((await client.get(`big/${id}/a`)).kvs[0].lease, id);
        assert.equal(await client.lease.keepAliveOnce(id), 30);
        const info = await client.lease.timeToLive(id, { keys: true });
        assert.equal(info.id, id);
        assert.equal(info.grantedTtl, 30);
        assert.deepEqual(keysOf(info.keys), [`big/${id}/a`, `big/${id}/b`]);
        assert.ok((await client.lease.leases()).includes(id));
        await client.lease.revoke(id);
        assert.equal((await client.get(`big/${id}/`, { prefix: true })).count, 0);
        assert.equal((await client.lease.timeToLive(id)).ttl, -1);
      }
    }));

  it('ids the server picks are positive int64s, like etcd', async () =>
    withClusterLogs(cluster, async () => {
      const ids = await Promise.all(
        Array.from({ length: 20 }, async () => (await client.lease.grant(30)).id),
      );
      for (const id of ids) {
        assert.ok(id > 0n && id <= INT64_MAX, `picked ${id}`);
        await client.lease.revoke(id);
      }
      assert.equal(new Set(ids).size, ids.length);
    }));

  it('a lease with a 64-bit id expires and takes its keys along', async () =>
    withClusterLogs(cluster, async () => {
      const id = ETCD_STYLE_ID + 1n;
      await client.lease.grant(2, { id });
      await client.put('expiring/k', 'v', { lease: id });
      await waitFor(
        'the lease to expire',
        async () => ((await client.get('expiring/k')).count === 0 ? true : undefined),
        15_000,
        200,
      );
      assert.equal((await client.lease.timeToLive(id)).ttl, -1);
    }));

  it('leases and attached keys survive a restart (SIGKILL) with their ids intact', async () =>
    withClusterLogs(cluster, async () => {
      const ids = [ETCD_STYLE_ID + 2n, INT64_MAX - 1n, NEGATIVE_ID - 1n];
      for (const id of ids) {
        await client.lease.grant(600, { id });
        await client.put(`durable/${id}`, 'v', { lease: id });
      }
      await cluster.kill(0);
      await cluster.restart(0);
      await cluster.waitForLeader();
      for (const id of ids) {
        const info = await client.lease.timeToLive(id, { keys: true });
        assert.equal(info.grantedTtl, 600, `lease ${id}`);
        assert.deepEqual(keysOf(info.keys), [`durable/${id}`]);
        assert.equal((await client.get(`durable/${id}`)).kvs[0].lease, id);
      }
      for (const id of ids) await client.lease.revoke(id);
      assert.equal((await client.get('durable/', { prefix: true })).count, 0);
    }));

  it('the JSON gateway takes and prints the ids as exact decimal strings', async () =>
    withClusterLogs(cluster, async () => {
      const base = cluster.clientUrls[0];
      const post = async (path: string, body: object): Promise<Record<string, unknown>> => {
        const response = await fetch(`${base}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
        });
        assert.equal(response.status, 200, path);
        return (await response.json()) as Record<string, unknown>;
      };
      const id = ETCD_STYLE_ID.toString();
      const key = Buffer.from('gateway/k').toString('base64');
      assert.equal((await post('/v3/lease/grant', { TTL: '60', ID: id })).ID, id);
      await post('/v3/kv/put', { key, value: '', lease: id });
      const range = await post('/v3/kv/range', { key });
      assert.equal((range.kvs as { lease: string }[])[0].lease, id);
      const ttl = await post('/v3/lease/timetolive', { ID: id, keys: true });
      assert.deepEqual([ttl.ID, ttl.grantedTTL, ttl.keys], [id, '60', [key]]);
      const leases = await post('/v3/lease/leases', {});
      assert.ok((leases.leases as { ID: string }[]).some((lease) => lease.ID === id));
      await post('/v3/lease/revoke', { ID: id });
      assert.equal((await post('/v3/kv/range', { key })).kvs, undefined);
    }));
});
