/**
 * The bbolt writer and reader agree: whatever buckets, nested buckets, keys and values are
 * written (values larger than a page, thousands of keys giving multi-level trees, small buckets
 * stored inline, with or without a stored freelist), reading the file back yields exactly them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BboltReader, BytesPageSource } from '../../src/backup/index.ts';
import { type BucketModel, readModel, writeModel } from './bbolt-kit.ts';

const keyArb = fc
  .uint8Array({ minLength: 1, maxLength: 24 })
  .map((k) => Buffer.from(k).toString('hex'));
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 20_000 }) },
);

const leafBucketArb: fc.Arbitrary<BucketModel> = fc
  .uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([key]) => key, maxLength: 60 })
  .map((pairs) => ({ values: new Map(pairs), buckets: new Map() }));

/** A bucket with values and up to a few nested buckets under keys distinct from the values'. */
const bucketArb: fc.Arbitrary<BucketModel> = fc
  .tuple(
    leafBucketArb,
    fc.uniqueArray(fc.tuple(keyArb, leafBucketArb), { selector: ([key]) => key, maxLength: 3 }),
  )
  .map(([base, nested]) => ({
    values: base.values,
    buckets: new Map(nested.filter(([key]) => !base.values.has(key))),
  }));

const rootArb: fc.Arbitrary<BucketModel> = fc
  .uniqueArray(fc.tuple(keyArb, bucketArb), { selector: ([key]) => key, maxLength: 6 })
  .map((buckets) => ({ values: new Map(), buckets: new Map(buckets) }));

const optionsArb = fc.record({
  pageSize: fc.constantFrom(1024, 4096),
  storeFreelist: fc.boolean(),
});

test('write then read returns arbitrary bucket contents', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(rootArb, optionsArb, (root, options) => {
      assert.deepEqual(readModel(writeModel(root, options)), root);
    }),
    { numRuns: 150 },
  );
});

test('many keys build multi-level trees that read back in order', { timeout: 120_000 }, () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2_000, max: 6_000 }),
      fc.constantFrom(1024, 4096),
      fc.integer({ min: 0, max: 300 }),
      (count, pageSize, valueBytes) => {
        const values = new Map<string, Uint8Array>();
        for (let i = 0; i < count; i++) {
          const key = Buffer.from(`key-${String(i * 7919).padStart(12, '0')}`).toString('hex');
          values.set(key, new Uint8Array(valueBytes).fill(i & 0xff));
        }
        const root: BucketModel = {
          values: new Map(),
          buckets: new Map([[Buffer.from('key').toString('hex'), { values, buckets: new Map() }]]),
        };
        const bytes = writeModel(root, { pageSize });
        assert.deepEqual(readModel(bytes), root);
        // The tree really has branch levels: its root page is a branch.
        const reader = BboltReader.open(new BytesPageSource(bytes));
        const keyBucket = [...reader.entries(reader.root())][0].bucket!;
        const rootPage = bytes.subarray(keyBucket.rootPage * pageSize);
        assert.equal(rootPage[8], 0x01, 'the key bucket root is a branch page');
      },
    ),
    { numRuns: 8 },
  );
});
