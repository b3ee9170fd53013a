/** Cluster, maintenance and connection behaviour (failover, dial timeout) against real etcd. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdError, GrpcCode, SigilClient } from '../../src/client/index.ts';
import { type EtcdCluster, freePort, startEtcd } from '../support/etcd-process.ts';

let etcd: EtcdCluster;
let client: SigilClient;
const TIMEOUT = { timeout: 10_000 };

before(async () => {
  etcd = await startEtcd();
  client = new SigilClient({ endpoints: [...etcd.endpoints] });
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

test('memberList names the member and its URLs', TIMEOUT, async () => {
  const { header, members } = await client.cluster.memberList();
  assert.equal(members.length, 1);
  assert.equal(members[0].name, 'etcd0');
  assert.equal(members[0].id, header.memberId);
  assert.deepEqual(members[0].clientUrls, [etcd.members[0].clientUrl]);
  assert.deepEqual(members[0].peerUrls, [etcd.members[0].peerUrl]);
  assert.equal(members[0].isLearner, false);
});

test('status reports version, leader and raft indexes', TIMEOUT, async () => {
  const status = await client.maintenance.status({ endpoint: etcd.endpoints[0] });
  assert.match(status.version, /^3\.\d+\.\d+$/);
  assert.equal(status.leader, status.header.memberId);
  assert.ok(status.raftIndex >= status.raftAppliedIndex - 1 && status.raftIndex > 0);
  assert.ok(status.dbSize > 0);
  assert.deepEqual(status.errors, []);
});

test('hashKV is stable without writes and changes with one', TIMEOUT, async () => {
  await client.put('hash/k', '1');
  const first = await client.maintenance.hashKV();
  const again = await client.maintenance.hashKV(first.header.revision);
  assert.equal(again.hash, first.hash);
  await client.put('hash/k', '2');
  assert.notEqual((await client.maintenance.hashKV()).hash, first.hash);
});

test('alarm list is empty and defragment succeeds', TIMEOUT, async () => {
  assert.deepEqual(await client.maintenance.alarmList(), []);
  // etcd 3.4 answers Defragment with an empty header; success is the absence of an error.
  await client.maintenance.defragment();
});

test('snapshot streams the whole backend', TIMEOUT, async () => {
  const status = await client.maintenance.status();
  let bytes = 0;
  for await (const chunk of client.maintenance.snapshot()) bytes += chunk.length;
  // The stream carries the bolt file plus a 32-byte SHA-256 trailer.
  assert.ok(bytes >= status.dbSizeInUse, `${bytes} < ${status.dbSizeInUse}`);
});

test('reads fail over from a dead endpoint to a live one', TIMEOUT, async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const failover = new SigilClient({ endpoints: [dead, etcd.endpoints[0]], dialTimeoutMs: 500 });
  try {
    await client.put('failover', 'ok');
    for (let i = 0; i < 4; i++) {
      assert.equal((await failover.get('failover')).kvs[0].value.toString(), 'ok');
    }
    // A write whose request never left the process may also move to the live endpoint.
    await failover.put('failover', 'written');
    await failover.put('failover', 'written again');
  } finally {
    failover.close();
  }
});

test('an unreachable cluster fails within the dial timeout as Unavailable', TIMEOUT, async () => {
  const dead = new SigilClient({
    endpoints: [`127.0.0.1:${await freePort()}`],
    dialTimeoutMs: 300,
  });
  const startedMs = Date.now();
  try {
    await assert.rejects(dead.get('x'), (error: unknown) => {
      assert.ok(EtcdError.is(error));
      assert.equal(error.code, GrpcCode.Unavailable);
      return true;
    });
    assert.ok(Date.now() - startedMs < 2_000, `took ${Date.now() - startedMs} ms`);
  } finally {
    dead.close();
  }
});

/** Local ports of the established TCP connections to `port`, read from /proc (Linux). */
function localPortsConnectedTo(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  const ports = new Set<string>();
  // Columns: sl local_address rem_address st ...; state 01 is ESTABLISHED.
  for (const line of lines) {
    const columns = line.trim().split(/\s+/);
    if (columns[2]?.endsWith(`:${hexPort}`) && columns[3] === '01') ports.add(columns[1]);
  }
  return ports;
}

test('connections: N opens N separate TCP connections', TIMEOUT, async () => {
  const port = Number(etcd.endpoints[0].split(':')[1]);
  await client.get('warm-up');
  const before = localPortsConnectedTo(port);
  const many = new SigilClient({ endpoints: [...etcd.endpoints], connections: 3 });
  try {
    await Promise.all(Array.from({ length: 6 }, (_, i) => many.put(`conn/${i}`, 'v')));
    // Connections other tests close meanwhile leave the set; only new local ports count.
    const opened = [...localPortsConnectedTo(port)].filter((local) => !before.has(local));
    assert.equal(opened.length, 3);
  } finally {
    many.close();
  }
});
