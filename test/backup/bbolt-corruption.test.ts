/**
 * The reader refuses damaged files with an error naming what is wrong, rather than returning
 * wrong data or crashing: truncation, broken meta pages, page headers that lie, cycles, keys
 * out of order, elements pointing outside their page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BboltCorruptError } from '../../src/backup/index.ts';
import { type BucketModel, readModel, writeModel } from './bbolt-kit.ts';

const PAGE = 1024;

function sampleDatabase(): Uint8Array {
  const values = new Map<string, Uint8Array>();
  for (let i = 0; i < 400; i++) {
    values.set(Buffer.from(`k${String(i).padStart(5, '0')}`).toString('hex'), new Uint8Array(20));
  }
  const root: BucketModel = {
    values: new Map(),
    buckets: new Map([[Buffer.from('data').toString('hex'), { values, buckets: new Map() }]]),
  };
  return writeModel(root, { pageSize: PAGE });
}

/** Page ids whose header carries `flags`. */
function pagesOfKind(bytes: Uint8Array, flags: number): number[] {
  const ids: number[] = [];
  for (let id = 2; id * PAGE < bytes.length; id++) {
    if (bytes[id * PAGE + 8] === flags) ids.push(id);
  }
  return ids;
}

const refused = (pattern: RegExp) => (error: unknown) =>
  error instanceof BboltCorruptError && pattern.test(error.message);

describe('bbolt reader refuses damaged files', () => {
  it('reads the undamaged sample', () => {
    assert.equal(readModel(sampleDatabase()).buckets.size, 1);
  });

  it('a truncated file', () => {
    const bytes = sampleDatabase();
    assert.throws(() => readModel(bytes.subarray(0, bytes.length - PAGE)), refused(/truncated/));
    assert.throws(() => readModel(bytes.subarray(0, 100)), refused(/too small/));
  });

  it('both meta pages damaged, but not just one', () => {
    const bytes = sampleDatabase();
    bytes[16 + 40] ^= 1; // meta 0's page count: its checksum no longer matches
    assert.equal(readModel(bytes).buckets.size, 1, 'meta 1 still serves');
    bytes[PAGE + 16 + 40] ^= 1;
    assert.throws(() => readModel(bytes), refused(/not a valid bbolt database.*checksum/));
  });

  it('a page whose header names another page', () => {
    const bytes = sampleDatabase();
    const leaf = pagesOfKind(bytes, 0x02)[0];
    bytes[leaf * PAGE] ^= 0x40;
    assert.throws(() => readModel(bytes), refused(new RegExp(`page ${leaf}: header names`)));
  });

  it('a branch that points back at itself', () => {
    const bytes = sampleDatabase();
    const branch = pagesOfKind(bytes, 0x01)[0];
    const view = new DataView(bytes.buffer, branch * PAGE);
    view.setBigUint64(16 + 8, BigInt(branch), true); // first element's child
    assert.throws(() => readModel(bytes), refused(/reached twice/));
  });

  it('keys out of order inside a leaf', () => {
    const bytes = sampleDatabase();
    const leaf = pagesOfKind(bytes, 0x02).find((id) => {
      const count = bytes[id * PAGE + 10];
      return count > 2;
    })!;
    // Point element 1's key at element 0's data: a repeated key.
    const view = new DataView(bytes.buffer, leaf * PAGE);
    const firstPos = view.getUint32(16 + 4, true);
    view.setUint32(32 + 4, firstPos - 16, true);
    assert.throws(() => readModel(bytes), refused(/out of order/));
  });

  it('an element pointing past its page', () => {
    const bytes = sampleDatabase();
    const leaf = pagesOfKind(bytes, 0x02)[1];
    new DataView(bytes.buffer, leaf * PAGE).setUint32(16 + 12, 1_000_000, true);
    assert.throws(() => readModel(bytes), refused(/overruns/));
  });

  it('a child page out of bounds', () => {
    const bytes = sampleDatabase();
    const branch = pagesOfKind(bytes, 0x01)[0];
    new DataView(bytes.buffer, branch * PAGE).setBigUint64(16 + 8, 1_000_000n, true);
    assert.throws(() => readModel(bytes), refused(/out of bounds/));
  });
});
