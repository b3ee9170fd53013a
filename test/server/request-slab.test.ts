/**
 * Encoded requests (raft entry data) share slabs: the leader keeps up to --snapshot-count of
 * them in memory, and one ArrayBuffer each cost about as much again as their bytes. Sharing is
 * only safe if nothing decoded from an entry keeps the slab alive or aliases it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, encodeRequest } from '../../src/server/request.ts';

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

function encodePut(id: bigint, valueBytes: number): Uint8Array {
  return encodeRequest({
    id,
    request: {
      kind: 'put',
      put: { key: bytes(8, Number(id % 200n)), value: bytes(valueBytes, 7) },
    },
  });
}

test('consecutive small requests share a slab, each exactly its own bytes', () => {
  const encoded = Array.from({ length: 100 }, (_, i) => encodePut(BigInt(i + 1), 256));
  const slabs = new Set(encoded.map((entry) => entry.buffer));
  assert.ok(slabs.size <= 2, `100 puts of ~290 bytes used ${slabs.size} buffers`);
  for (const [i, entry] of encoded.entries()) {
    assert.ok(!Buffer.isBuffer(entry), 'a plain Uint8Array, whose slice() copies');
    const decoded = decodeRequest(entry);
    assert.equal(decoded.id, BigInt(i + 1));
    assert.equal(decoded.request.kind, 'put');
    if (decoded.request.kind !== 'put') continue;
    assert.deepEqual(decoded.request.put.key, bytes(8, (i + 1) % 200));
    assert.deepEqual(decoded.request.put.value, bytes(256, 7));
    // MVCC keeps keys and values: they must not pin (or alias) the shared slab.
    assert.notEqual(decoded.request.put.key.buffer, entry.buffer);
    assert.notEqual(decoded.request.put.value?.buffer, entry.buffer);
  }
});

test('a large request gets a buffer of its own', () => {
  const small = encodePut(1n, 16);
  const large = encodePut(2n, 64 * 1024);
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(large.byteOffset, 0);
  assert.equal(large.buffer.byteLength, large.length);
  const decoded = decodeRequest(large);
  assert.equal(decoded.request.kind === 'put' ? decoded.request.put.value?.length : 0, 64 * 1024);
});
