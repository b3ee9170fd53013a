/**
 * Sigil backend → etcd snapshot file → Sigil backend is the identity on what a snapshot must
 * carry: every retained revision (puts, tombstones, multi-change transactions) byte for byte,
 * the leases, the consistent index and both compaction revisions — for arbitrary histories,
 * including values larger than a page and compactions not yet physically finished.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  emptyImportSummary,
  importEtcdDatabase,
  openSnapshotDatabase,
  snapshotStatus,
  spoolEtcdSnapshot,
  verifySnapshotFile,
} from '../../src/backup/index.ts';
import { encodeLeaseId } from '../../src/lease/index.ts';
import { KvStore } from '../../src/mvcc/index.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  encodeUint64,
  MemoryBackend,
  type SnapshotRecord,
} from '../../src/storage/index.ts';

const LEASES = [7n, -9n, (1n << 62n) + 3n];

type Operation =
  | { kind: 'put'; key: string; value: Uint8Array; lease: number }
  | { kind: 'delete'; key: string }
  | { kind: 'txn'; keys: [string, string] }
  | { kind: 'compact'; at: number };

const keyArb = fc.constantFrom('a', 'b', 'c', 'dir/x', 'dir/y', 'z');
const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: keyArb,
      value: fc.oneof(
        { weight: 5, arbitrary: fc.uint8Array({ maxLength: 40 }) },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: 4_000, maxLength: 12_000 }) },
      ),
      lease: fc.integer({ min: -1, max: LEASES.length - 1 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('txn' as const), keys: fc.tuple(keyArb, keyArb) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
);

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function runHistory(operations: readonly Operation[], finishCompaction: boolean): KvStore {
  const backend = new MemoryBackend();
  backend.write((writer) => {
    LEASES.forEach((id, i) => writer.put('lease', encodeLeaseId(id), encodeUint64(10 + i)));
  }, 1);
  const kv = new KvStore(backend);
  for (const operation of operations) {
    if (operation.kind === 'put') {
      const lease = operation.lease < 0 ? 0n : LEASES[operation.lease];
      kv.put({ key: bytes(operation.key), value: operation.value, lease });
    } else if (operation.kind === 'delete') {
      kv.deleteRange({ key: bytes(operation.key) });
    } else if (operation.kind === 'txn') {
      if (operation.keys[0] === operation.keys[1]) continue; // etcd refuses a put and delete of one key
      kv.txn({
        success: [
          { requestPut: { key: bytes(operation.keys[0]), value: bytes('t0') } },
          { requestPut: { key: bytes(`${operation.keys[1]}/t`), value: bytes('t1') } },
          { requestDeleteRange: { key: bytes(operation.keys[1]) } },
        ],
      });
    } else {
      const target = Math.floor(
        kv.compactRevision + operation.at * (kv.currentRevision - kv.compactRevision),
      );
      if (target > kv.compactRevision) kv.compact({ revision: target });
    }
  }
  if (finishCompaction) while (kv.compactionStep()) {}
  return kv;
}

async function* withSha(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const digest = createHash('sha256');
  for await (const chunk of chunks) {
    digest.update(chunk);
    yield chunk;
  }
  yield new Uint8Array(digest.digest());
}

async function records(chunks: AsyncIterable<Uint8Array>): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const record of decodeSnapshot(chunks)) out.push(record);
  return out;
}

const carried = (record: SnapshotRecord): boolean =>
  record.bucket === 'key' ||
  record.bucket === 'lease' ||
  (record.bucket === 'meta' && new TextDecoder().decode(record.key) !== 'restore_pending');

const hexRecords = (list: readonly SnapshotRecord[]) =>
  list
    .filter(carried)
    .map(
      (r) =>
        `${r.bucket} ${Buffer.from(r.key).toString('hex')} ${Buffer.from(r.value).toString('hex')}`,
    )
    .sort();

test(
  'export to an etcd snapshot and import back keeps every revision, lease and index',
  { timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-translation-'));
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(operationArb, { maxLength: 60 }),
          fc.boolean(),
          async (operations, finish) => {
            const kv = runHistory(operations, finish);
            const original = await records(kv.backend.snapshot());
            const exported = await spoolEtcdSnapshot(withSha(kv.backend.snapshot()), dir);
            const chunks: Uint8Array[] = [];
            for await (const chunk of exported.stream(8192)) chunks.push(chunk);
            const file = join(dir, `snap-${run++}.db`);
            writeFileSync(file, Buffer.concat(chunks));
            const status = snapshotStatus(file);
            assert.equal(status.revision, exported.summary.revision);
            const reader = openSnapshotDatabase(verifySnapshotFile(file, 'require'));
            const summary = emptyImportSummary();
            const imported = [...importEtcdDatabase(reader, summary)];
            reader.close();
            assert.deepEqual(hexRecords(imported), hexRecords(original));
            assert.equal(summary.compactRevision, kv.compactRevision);
            // The imported records make a store that reads the same at every revision.
            const copy = new MemoryBackend();
            await copy.restore(encodeSnapshot(imported));
            const reopened = new KvStore(copy);
            assert.equal(reopened.currentRevision, kv.currentRevision);
            for (
              let revision = kv.compactRevision || 1;
              revision <= kv.currentRevision;
              revision++
            ) {
              const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), revision };
              assert.deepEqual(reopened.range(all).kvs, kv.range(all).kvs);
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
