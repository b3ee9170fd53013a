import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvStore } from '../../src/mvcc/index.ts';
import { LeaseError, Lessor } from '../../src/lease/index.ts';
import { MemoryBackend } from '../../src/storage/index.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function setup(): { kv: KvStore; lessor: Lessor; index: { next: number } } {
  const kv = new KvStore(new MemoryBackend(), { maxTxnOps: 1_000_000 });
  const lessor = new Lessor({ minTtlSeconds: 2 });
  kv.onCommit((revisions) => lessor.observe(revisions));
  lessor.rebuild(kv, 0);
  return { kv, lessor, index: { next: 1 } };
}

describe('Lessor', { timeout: 10_000 }, () => {
  it('raises short TTLs to the minimum and refuses duplicates', () => {
    const { kv, lessor, index } = setup();
    kv.applyBatch(index.next++, (writer) => {
      assert.equal(lessor.grant(writer.backend, 5n, 1, 0), 2);
      assert.throws(
        () => lessor.grant(writer.backend, 5n, 10, 0),
        (error: unknown) => error instanceof LeaseError && error.code === 'lease-exists',
      );
    });
    assert.deepEqual(lessor.leaseIds(), [5n]);
  });

  it('revokes a lease by deleting all its keys in one revision', () => {
    const { kv, lessor, index } = setup();
    kv.applyBatch(index.next++, (writer) => void lessor.grant(writer.backend, 7n, 10, 0));
    kv.applyBatch(index.next++, (writer) => {
      for (let i = 0; i < 300; i++) writer.put({ key: bytes(`k${i}`), lease: 7n });
      writer.put({ key: bytes('unleased') });
    });
    assert.equal(lessor.timeToLive(7n, 0).keys.length, 300);
    const before = kv.currentRevision;
    kv.applyBatch(index.next++, (writer) => lessor.revoke(writer, 7n));
    assert.equal(kv.currentRevision, before + 1, 'one revision for all deletes');
    assert.equal(kv.range({ key: bytes('k'), rangeEnd: bytes('l') }).count, 0);
    assert.equal(kv.range({ key: bytes('unleased') }).count, 1);
    assert.equal(lessor.has(7n), false);
    assert.equal(lessor.timeToLive(7n, 0).ttlSeconds, -1);
  });

  it('detaches a key that is overwritten without its lease or deleted', () => {
    const { kv, lessor, index } = setup();
    kv.applyBatch(index.next++, (writer) => void lessor.grant(writer.backend, 9n, 10, 0));
    kv.applyBatch(index.next++, (writer) => {
      writer.put({ key: bytes('a'), lease: 9n });
      writer.put({ key: bytes('b'), lease: 9n });
    });
    kv.applyBatch(index.next++, (writer) => {
      writer.put({ key: bytes('a') });
      writer.deleteRange({ key: bytes('b') });
    });
    assert.equal(lessor.timeToLive(9n, 0).keys.length, 0);
  });

  it('expires only on the primary, and promotion restarts every TTL', () => {
    const { kv, lessor, index } = setup();
    kv.applyBatch(index.next++, (writer) => void lessor.grant(writer.backend, 1n, 5, 0));
    assert.deepEqual(lessor.expired(1_000_000, 10), [], 'a follower never expires leases');
    lessor.promote(100_000);
    assert.deepEqual(lessor.expired(104_999, 10), []);
    assert.deepEqual(lessor.expired(105_000, 10), [1n]);
    assert.equal(lessor.renew(1n, 104_000), 5);
    assert.deepEqual(lessor.expired(108_999, 10), []);
    assert.equal(lessor.timeToLive(1n, 106_000).ttlSeconds, 3);
    // Truncated like etcd's int64(Remaining().Seconds()): 4.999 s left reads as 4.
    assert.equal(lessor.timeToLive(1n, 104_001).ttlSeconds, 4);
    assert.equal(lessor.timeToLive(1n, 108_999).ttlSeconds, 0);
    lessor.demote();
    assert.deepEqual(lessor.expired(10_000_000, 10), []);
    assert.equal(lessor.renew(404n, 0), 0, 'unknown lease: TTL 0, as etcd keepalive');
  });

  it('rebuilds leases and attachments from the backend', () => {
    const { kv, lessor, index } = setup();
    kv.applyBatch(index.next++, (writer) => void lessor.grant(writer.backend, 3n, 30, 0));
    kv.applyBatch(index.next++, (writer) => void writer.put({ key: bytes('x'), lease: 3n }));
    const reopened = new KvStore(kv.backend, { maxTxnOps: 1_000_000 });
    const rebuilt = new Lessor({ minTtlSeconds: 2 });
    rebuilt.rebuild(reopened, 0);
    const found = rebuilt.timeToLive(3n, 0);
    assert.equal(found.grantedTtlSeconds, 30);
    assert.deepEqual(
      found.keys.map((key) => new TextDecoder().decode(key)),
      ['x'],
    );
  });
});
