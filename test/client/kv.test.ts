/** KV and transactions against a real etcd: every option maps to the behaviour etcd documents. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  EtcdError,
  EtcdMessage,
  GrpcCode,
  SigilClient,
  compare,
  op,
} from '../../src/client/index.ts';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';

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

const keysOf = (kvs: { key: Buffer }[]): string[] => kvs.map((kv) => kv.key.toString());

async function rejectsWith(
  promise: Promise<unknown>,
  code: number,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(EtcdError.is(error), `not an EtcdError: ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

test('put then get returns the value with its revisions', TIMEOUT, async () => {
  const first = await client.put('kv/a', 'one');
  const second = await client.put('kv/a', Buffer.from('two'), { prevKv: true });
  assert.equal(second.header.revision, first.header.revision + 1);
  assert.equal(second.prevKv?.value.toString(), 'one');
  const { kvs, count, header } = await client.get('kv/a');
  assert.equal(count, 1);
  assert.equal(kvs[0].value.toString(), 'two');
  assert.equal(kvs[0].createRevision, first.header.revision);
  assert.equal(kvs[0].modRevision, second.header.revision);
  assert.equal(kvs[0].version, 2);
  assert.ok(header.clusterId > 0n && header.memberId > 0n && header.raftTerm >= 1);
});

test('binary keys and values round-trip byte for byte', TIMEOUT, async () => {
  const key = Uint8Array.of(0, 255, 1, 128);
  const value = Uint8Array.of(255, 0, 254);
  await client.put(key, value);
  const { kvs } = await client.get(key);
  assert.deepEqual([...kvs[0].value], [...value]);
});

test(
  'range options: prefix, fromKey, rangeEnd, limit, sort, keysOnly, countOnly',
  TIMEOUT,
  async () => {
    for (const name of ['c', 'a', 'b', 'd']) await client.put(`range/${name}`, `v-${name}`);
    await client.put('rangf', 'after the prefix');
    assert.deepEqual(keysOf((await client.get('range/', { prefix: true })).kvs), [
      'range/a',
      'range/b',
      'range/c',
      'range/d',
    ]);
    assert.deepEqual(keysOf((await client.get('range/b', { rangeEnd: 'range/d' })).kvs), [
      'range/b',
      'range/c',
    ]);
    const fromKey = await client.get('range/d', { fromKey: true });
    assert.deepEqual(keysOf(fromKey.kvs), ['range/d', 'rangf']);
    const limited = await client.get('range/', { prefix: true, limit: 2 });
    assert.equal(limited.kvs.length, 2);
    assert.equal(limited.more, true);
    assert.equal(limited.count, 4);
    const sorted = await client.get('range/', {
      prefix: true,
      sortTarget: 'value',
      sortOrder: 'descend',
    });
    assert.deepEqual(keysOf(sorted.kvs), ['range/d', 'range/c', 'range/b', 'range/a']);
    const keysOnly = await client.get('range/', { prefix: true, keysOnly: true });
    assert.equal(keysOnly.kvs[0].value.length, 0);
    const countOnly = await client.get('range/', { prefix: true, countOnly: true });
    assert.equal(countOnly.kvs.length, 0);
    assert.equal(countOnly.count, 4);
    const serializable = await client.get('range/a', { serializable: true });
    assert.equal(serializable.kvs[0].value.toString(), 'v-a');
  },
);

test('reads at an older revision see the older value', TIMEOUT, async () => {
  const old = await client.put('rev/k', 'old');
  await client.put('rev/k', 'new');
  const { kvs } = await client.get('rev/k', { revision: old.header.revision });
  assert.equal(kvs[0].value.toString(), 'old');
  const future = old.header.revision + 1_000_000;
  await rejectsWith(
    client.get('rev/k', { revision: future }),
    GrpcCode.OutOfRange,
    EtcdMessage.futureRevision,
  );
});

test('delete returns the count and previous pairs', TIMEOUT, async () => {
  await client.put('del/a', '1');
  await client.put('del/b', '2');
  const result = await client.delete('del/', { prefix: true, prevKv: true });
  assert.equal(result.deleted, 2);
  assert.deepEqual(keysOf(result.prevKvs), ['del/a', 'del/b']);
  assert.equal((await client.delete('del/a')).deleted, 0);
});

test('put options: ignoreValue and ignoreLease need an existing key', TIMEOUT, async () => {
  await rejectsWith(
    client.put('ignore/missing', '', { ignoreValue: true }),
    GrpcCode.InvalidArgument,
    EtcdMessage.keyNotFound,
  );
  await client.put('ignore/k', 'kept');
  await client.put('ignore/k', '', { ignoreValue: true });
  assert.equal((await client.get('ignore/k')).kvs[0].value.toString(), 'kept');
  await rejectsWith(
    client.put('ignore/k', 'x', { ignoreValue: true }),
    GrpcCode.InvalidArgument,
    'etcdserver: value is provided',
  );
});

test('errors carry etcd code and message verbatim', TIMEOUT, async () => {
  await rejectsWith(
    client.put('', 'v'),
    GrpcCode.InvalidArgument,
    'etcdserver: key is not provided',
  );
  await rejectsWith(
    client.put('lease/k', 'v', { lease: 0x7fff_ffffn }),
    GrpcCode.NotFound,
    EtcdMessage.leaseNotFound,
  );
});

test('txn: compares choose the branch, all ops apply at one revision', TIMEOUT, async () => {
  const created = await client
    .txn()
    .when(compare('txn/lock', 'create', '=', 0))
    .success(op.put('txn/lock', 'me'), op.put('txn/owner', 'me'))
    .failure(op.get('txn/lock'))
    .commit();
  assert.equal(created.succeeded, true);
  assert.deepEqual(
    created.responses.map((response) => response.type),
    ['put', 'put'],
  );
  const lock = (await client.get('txn/lock')).kvs[0];
  const owner = (await client.get('txn/owner')).kvs[0];
  assert.equal(lock.modRevision, owner.modRevision);

  const contended = await client
    .txn()
    .when(compare('txn/lock', 'create', '=', 0))
    .success(op.put('txn/lock', 'other'))
    .failure(op.get('txn/lock'), op.delete('txn/owner', { prevKv: true }))
    .commit();
  assert.equal(contended.succeeded, false);
  const [range, deletion] = contended.responses;
  assert.ok(range.type === 'range' && range.kvs[0].value.toString() === 'me');
  assert.ok(deletion.type === 'delete' && deletion.deleted === 1);

  const byValue = await client
    .txn()
    .when(compare('txn/lock', 'value', '=', 'me'), compare('txn/lock', 'version', '>', 0))
    .success(op.txn([compare('txn/lock', 'mod', '=', lock.modRevision)], [op.get('txn/lock')]))
    .commit();
  const nested = byValue.responses[0];
  assert.ok(nested.type === 'txn' && nested.succeeded && nested.responses[0].type === 'range');
});

test('txn: a key written twice is rejected with etcd message', TIMEOUT, async () => {
  await rejectsWith(
    client.txn().success(op.put('dup', '1'), op.put('dup', '2')).commit(),
    GrpcCode.InvalidArgument,
    'etcdserver: duplicate key given in txn request',
  );
});

test('compact makes older revisions unreadable', TIMEOUT, async () => {
  const old = await client.put('compact/k', '1');
  const latest = await client.put('compact/k', '2');
  await client.compact(latest.header.revision, { physical: true });
  await rejectsWith(
    client.get('compact/k', { revision: old.header.revision }),
    GrpcCode.OutOfRange,
    EtcdMessage.compacted,
  );
});
