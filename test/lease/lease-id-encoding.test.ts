/**
 * Lease ids are full int64s wherever they are stored or sent: in a key's MVCC record, in a
 * proposed request (binary put and JSON forms, plus the encodings older members wrote), in the
 * lease bucket, and through a lessor rebuilt from an LMDB file after a restart. Real etcd
 * hands out ids like 0x694d7a0c9d8c5f04 and grants any nonzero id a client asks for.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { decodeLeaseId, encodeLeaseId, LeaseError, Lessor } from '../../src/lease/index.ts';
import { KvStore } from '../../src/mvcc/index.ts';
import { decodeKeyValue, encodeKeyValue } from '../../src/mvcc/kv-codec.ts';
import { decodeRequest, encodeRequest } from '../../src/server/request.ts';
import { LmdbBackend, MemoryBackend } from '../../src/storage/index.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array): string => new TextDecoder().decode(value);

const ETCD_STYLE_ID = 0x694d7a0c9d8c5f04n;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const INTERESTING_IDS = [
  1n,
  (1n << 53n) + 1n, // the first id a float64 cannot hold
  ETCD_STYLE_ID,
  INT64_MAX,
  -5n,
  INT64_MIN,
];

describe('lease ids as int64', { timeout: 20_000 }, () => {
  it('a KeyValue record keeps its lease id exactly (and no lease as 0n)', () => {
    for (const lease of [0n, ...INTERESTING_IDS]) {
      const kv = {
        key: bytes('k'),
        value: bytes('v'),
        createRevision: 3,
        modRevision: 9,
        version: 2,
        lease,
      };
      assert.deepEqual(decodeKeyValue(encodeKeyValue(kv)), kv, `lease ${lease}`);
    }
    assert.throws(() => encodeKeyValue({ ...keyValueWith(1n << 63n) }), /not an int64/);
  });

  it('the lease bucket key round-trips every nonzero int64; 0 and wider ids are refused', () => {
    for (const id of INTERESTING_IDS) assert.equal(decodeLeaseId(encodeLeaseId(id)), id);
    // Two's complement big-endian, as etcd's int64ToBytes writes it.
    assert.deepEqual([...encodeLeaseId(-1n)], [255, 255, 255, 255, 255, 255, 255, 255]);
    assert.deepEqual(
      [...encodeLeaseId(ETCD_STYLE_ID)],
      [0x69, 0x4d, 0x7a, 0x0c, 0x9d, 0x8c, 0x5f, 0x04],
    );
    assert.throws(() => encodeLeaseId(0n));
    assert.throws(() => encodeLeaseId(1n << 63n));
  });

  it('a proposed put carries its lease id exactly, in the binary and the JSON form', () => {
    for (const lease of INTERESTING_IDS) {
      const put = { key: bytes('k'), value: bytes('v'), lease };
      const binary = encodeRequest({ id: 7n, request: { kind: 'put', put } });
      assert.equal(binary[0], 3, 'a plain put takes the binary form');
      assert.deepEqual(decodeRequest(binary).request, { kind: 'put', put });
      const txn = {
        compare: [{ key: bytes('k'), target: 'LEASE' as const, result: 'EQUAL' as const, lease }],
        success: [{ requestPut: put }],
      };
      const json = encodeRequest({ id: 8n, request: { kind: 'txn', txn } });
      assert.equal(json[0], 1, 'a txn takes the JSON form');
      assert.deepEqual(decodeRequest(json).request, { kind: 'txn', txn });
    }
  });

  it('entries written before lease ids were bigints still decode to the same lease', () => {
    // Version 2: id u64 · flags u16 (value and lease present) · lease f64 · key · value.
    const legacy = new Uint8Array(1 + 8 + 2 + 8 + 4 + 1 + 4 + 1);
    const view = new DataView(legacy.buffer);
    legacy[0] = 2;
    view.setBigUint64(1, 42n);
    view.setUint16(9, 0b11);
    view.setFloat64(11, 2 ** 53 - 1);
    view.setUint32(19, 1);
    legacy[23] = 0x6b; // 'k'
    view.setUint32(24, 1);
    legacy[28] = 0x76; // 'v'
    assert.deepEqual(decodeRequest(legacy), {
      id: 42n,
      request: { kind: 'put', put: { key: bytes('k'), value: bytes('v'), lease: 2n ** 53n - 1n } },
    });
    // A version-2 put whose lease was NaN (applied then as an unknown lease) still decodes.
    view.setFloat64(11, Number.NaN);
    const poisoned = decodeRequest(legacy).request;
    assert.ok(poisoned.kind === 'put' && poisoned.put.lease !== undefined);
    assert.ok(poisoned.put.lease > (1n << 63n) - 1n, 'an id no lease can have');
    // Version 1 (JSON) with the lease as a plain number, nested in a txn.
    const json = JSON.stringify({
      id: { $n: '43' },
      request: {
        kind: 'txn',
        txn: { success: [{ requestPut: { key: { $b: 'aw==' }, lease: 12345 } }] },
      },
    });
    const entry = new Uint8Array([1, ...Buffer.from(json)]);
    assert.deepEqual(decodeRequest(entry).request, {
      kind: 'txn',
      txn: { success: [{ requestPut: { key: bytes('k'), lease: 12345n } }] },
    });
  });

  it('the lessor refuses id 0 as etcd does ("lease not found") instead of asserting', () => {
    const kv = new KvStore(new MemoryBackend());
    const lessor = new Lessor({ minTtlSeconds: 2 });
    kv.applyBatch(1, (writer) =>
      assert.throws(
        () => lessor.grant(writer.backend, 0n, 10, 0),
        (error: unknown) => error instanceof LeaseError && error.code === 'lease-not-found',
      ),
    );
  });

  it('leases and attached keys with 64-bit ids survive a restart over LMDB', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-lease-int64-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    let backend = new LmdbBackend({ dataDir });
    let kv = new KvStore(backend);
    const lessor = new Lessor({ minTtlSeconds: 2 });
    kv.onCommit((revisions) => lessor.observe(revisions));
    lessor.rebuild(kv, 0);
    let index = 1;
    for (const [i, id] of INTERESTING_IDS.entries()) {
      kv.applyBatch(index++, (writer) => void lessor.grant(writer.backend, id, 10 + i, 0));
      kv.applyBatch(index++, (writer) => void writer.put({ key: bytes(`key-${i}`), lease: id }));
    }
    await backend.close();

    backend = new LmdbBackend({ dataDir });
    t.after(() => backend.close());
    kv = new KvStore(backend);
    const rebuilt = new Lessor({ minTtlSeconds: 2 });
    rebuilt.rebuild(kv, 0);
    const sorted = [...INTERESTING_IDS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(rebuilt.leaseIds(), sorted);
    for (const [i, id] of INTERESTING_IDS.entries()) {
      const found = rebuilt.timeToLive(id, 0);
      assert.equal(found.grantedTtlSeconds, 10 + i, `lease ${id}`);
      assert.deepEqual(found.keys.map(text), [`key-${i}`], `lease ${id}`);
      assert.equal(kv.range({ key: bytes(`key-${i}`) }).kvs[0].lease, id);
    }
  });
});

function keyValueWith(lease: bigint) {
  return {
    key: bytes('k'),
    value: bytes('v'),
    createRevision: 1,
    modRevision: 1,
    version: 1,
    lease,
  };
}
