/** Every expected MVCC error: its code, etcd's exact message, and that it changed nothing. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { hashKv, KvStore, MvccError, type RequestOp } from '../../src/mvcc/index.ts';
import { MemoryBackend } from '../../src/storage/index.ts';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const put = (key: string): RequestOp => ({ requestPut: { key: b(key), value: b('v') } });
const del = (key: string, rangeEnd?: string): RequestOp => ({
  requestDeleteRange: { key: b(key), ...(rangeEnd === undefined ? {} : { rangeEnd: b(rangeEnd) }) },
});

/** A store at revision 6 compacted at 3, with keys "a".."d" live. */
function seeded(maxTxnOps?: number): KvStore {
  const store = new KvStore(new MemoryBackend(), maxTxnOps === undefined ? {} : { maxTxnOps });
  for (const key of ['a', 'b', 'c', 'd', 'a']) store.put({ key: b(key), value: b('1') });
  store.compact({ revision: 3 });
  return store;
}

const cases: {
  name: string;
  code: string;
  message: string;
  run: (s: KvStore) => unknown;
  maxTxnOps?: number;
}[] = [
  {
    name: 'range empty key',
    code: 'empty-key',
    message: 'etcdserver: key is not provided',
    run: (s) => s.range({ key: b('') }),
  },
  {
    name: 'put empty key',
    code: 'empty-key',
    message: 'etcdserver: key is not provided',
    run: (s) => s.put({ key: b('') }),
  },
  {
    name: 'delete empty key',
    code: 'empty-key',
    message: 'etcdserver: key is not provided',
    run: (s) => s.deleteRange({ key: b('') }),
  },
  {
    name: 'txn compare empty key',
    code: 'empty-key',
    message: 'etcdserver: key is not provided',
    run: (s) => s.txn({ compare: [{ key: b(''), result: 'EQUAL', target: 'VERSION' }] }),
  },
  {
    name: 'ignore_value on missing key',
    code: 'key-not-found',
    message: 'etcdserver: key not found',
    run: (s) => s.put({ key: b('zz'), ignoreValue: true }),
  },
  {
    name: 'ignore_lease on missing key',
    code: 'key-not-found',
    message: 'etcdserver: key not found',
    run: (s) => s.put({ key: b('zz'), ignoreLease: true }),
  },
  {
    name: 'ignore_value in txn on missing key',
    code: 'key-not-found',
    message: 'etcdserver: key not found',
    run: (s) => s.txn({ success: [put('a'), { requestPut: { key: b('zz'), ignoreValue: true } }] }),
  },
  {
    name: 'value with ignore_value',
    code: 'value-provided',
    message: 'etcdserver: value is provided',
    run: (s) => s.put({ key: b('a'), value: b('x'), ignoreValue: true }),
  },
  {
    name: 'lease with ignore_lease',
    code: 'lease-provided',
    message: 'etcdserver: lease is provided',
    run: (s) => s.put({ key: b('a'), lease: 5n, ignoreLease: true }),
  },
  {
    name: 'too many ops (limit passed in)',
    code: 'too-many-ops',
    message: 'etcdserver: too many operations in txn request',
    run: (s) => s.txn({ success: [put('x'), put('y'), put('z')] }),
    maxTxnOps: 2,
  },
  {
    name: 'too many compares',
    code: 'too-many-ops',
    message: 'etcdserver: too many operations in txn request',
    run: (s) =>
      s.txn({
        compare: ['a', 'b', 'c'].map((k) => ({
          key: b(k),
          result: 'EQUAL' as const,
          target: 'VERSION' as const,
        })),
      }),
    maxTxnOps: 2,
  },
  {
    name: 'duplicate put',
    code: 'duplicate-key',
    message: 'etcdserver: duplicate key given in txn request',
    run: (s) => s.txn({ success: [put('a'), put('a')] }),
  },
  {
    name: 'put inside delete range',
    code: 'duplicate-key',
    message: 'etcdserver: duplicate key given in txn request',
    run: (s) => s.txn({ failure: [del('a', 'c'), put('b')] }),
  },
  {
    name: 'nested put clashes with outer put',
    code: 'duplicate-key',
    message: 'etcdserver: duplicate key given in txn request',
    run: (s) => s.txn({ success: [put('a'), { requestTxn: { success: [put('a')] } }] }),
  },
  {
    name: 'range below compaction',
    code: 'compacted',
    message: 'etcdserver: mvcc: required revision has been compacted',
    run: (s) => s.range({ key: b('a'), revision: 2 }),
  },
  {
    name: 'compact at compacted revision',
    code: 'compacted',
    message: 'etcdserver: mvcc: required revision has been compacted',
    run: (s) => s.compact({ revision: 3 }),
  },
  {
    name: 'compact below compacted revision',
    code: 'compacted',
    message: 'etcdserver: mvcc: required revision has been compacted',
    run: (s) => s.compact({ revision: 2 }),
  },
  {
    name: 'hashKv below compaction',
    code: 'compacted',
    message: 'etcdserver: mvcc: required revision has been compacted',
    run: (s) => hashKv(s, 2),
  },
  {
    name: 'range future revision',
    code: 'future-rev',
    message: 'etcdserver: mvcc: required revision is a future revision',
    run: (s) => s.range({ key: b('a'), revision: 7 }),
  },
  {
    name: 'compact future revision',
    code: 'future-rev',
    message: 'etcdserver: mvcc: required revision is a future revision',
    run: (s) => s.compact({ revision: 7 }),
  },
  {
    name: 'hashKv future revision',
    code: 'future-rev',
    message: 'etcdserver: mvcc: required revision is a future revision',
    run: (s) => hashKv(s, 7),
  },
];

for (const { name, code, message, run, maxTxnOps } of cases) {
  test(`error: ${name}`, () => {
    const store = seeded(maxTxnOps);
    const revision = store.currentRevision;
    const index = store.consistentIndex();
    assert.equal(revision, 6);
    assert.throws(
      () => run(store),
      (error: unknown) =>
        error instanceof MvccError && error.code === code && error.message === message,
    );
    assert.equal(store.currentRevision, revision, 'an error must not write');
    assert.deepEqual(store.range({ key: b('a') }).kvs[0].modRevision, 6);
    // A failed write request still consumed its raft index (it was applied, with an error).
    assert.ok(store.consistentIndex() === index || store.consistentIndex() === index + 1);
  });
}

test('allowed txn shapes that look like duplicates', () => {
  const store = seeded();
  // then/else of one nested txn are exclusive; overlapping deletes are fine.
  const response = store.txn({
    success: [
      { requestTxn: { success: [put('x')], failure: [put('x')] } },
      del('a', 'c'),
      del('b', 'd'),
    ],
  });
  assert.equal(response.succeeded, true);
  assert.equal(response.header.revision, 7, 'one revision for the whole txn');
  assert.equal(store.range({ key: b('a'), rangeEnd: new Uint8Array([0]) }).count, 2);
});
