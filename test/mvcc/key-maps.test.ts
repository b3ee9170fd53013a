/**
 * The two maps behind the key index, each against a plain model under random operations:
 * KeyHashMap (lookups by key bytes; growth and backward-shift deletion must never lose or
 * invent an entry) and SortedKeyMap (order, including the append fast path and chunk splits).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { hashBytes, hashKeyString, KeyHashMap } from '../../src/mvcc/key-hash-map.ts';
import { keyString } from '../../src/mvcc/key-index.ts';
import { SortedKeyMap } from '../../src/mvcc/sorted-key-map.ts';

interface Entry {
  readonly key: string;
}

/** Keys from a universe large enough to grow the table and form long probe runs. */
const keyBytesArb = fc.oneof(
  fc.integer({ min: 0, max: 2_999 }).map((n) => new TextEncoder().encode(`k${n}`)),
  fc.uint8Array({ minLength: 0, maxLength: 3 }),
);

type Op =
  | { readonly kind: 'insert'; readonly key: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'get'; readonly key: Uint8Array };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: keyBytesArb.map((key) => ({ kind: 'insert' as const, key })) },
  { weight: 3, arbitrary: keyBytesArb.map((key) => ({ kind: 'delete' as const, key })) },
  { weight: 2, arbitrary: keyBytesArb.map((key) => ({ kind: 'get' as const, key })) },
);

test('hashBytes and hashKeyString agree on every key', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (key) => {
      assert.equal(hashBytes(key), hashKeyString(keyString(key)));
    }),
  );
});

test('KeyHashMap answers like a Map through inserts, deletes and growth', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1_500, maxLength: 4_000 }), (ops) => {
      const map = new KeyHashMap<Entry>();
      const model = new Map<string, Entry>();
      for (const op of ops) {
        const key = keyString(op.key);
        if (op.kind === 'insert') {
          if (model.has(key)) continue;
          const entry = { key };
          model.set(key, entry);
          if (op.key.length % 2 === 0) map.insert(entry);
          else map.insert(entry, hashBytes(op.key));
        } else if (op.kind === 'delete') {
          assert.equal(map.delete(key), model.delete(key));
        } else {
          assert.equal(map.get(op.key), model.get(key));
        }
        assert.equal(map.size, model.size);
      }
      // Every entry the model holds is found, and a deleted one is not.
      for (const [key, entry] of model) {
        assert.equal(map.get(new Uint8Array(Buffer.from(key, 'latin1'))), entry);
      }
      for (const op of ops) {
        if (!model.has(keyString(op.key))) assert.equal(map.get(op.key), undefined);
      }
    }),
    { numRuns: 30 },
  );
});

test('SortedKeyMap keeps key order through appends, inserts, splits and deletes', () => {
  // Ascending runs exercise the append fast path; the rest insert before existing keys.
  const keyArb = fc.integer({ min: 0, max: 5_000 }).map((n) => `k${String(n).padStart(5, '0')}`);
  const opArb2 = fc.oneof(
    { weight: 4, arbitrary: keyArb.map((key) => ({ insert: true, key })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 1, max: 1_200 }))
        .map(([first, count]) => ({ run: [first, count] as const })),
    },
    { weight: 2, arbitrary: keyArb.map((key) => ({ insert: false, key })) },
  );
  fc.assert(
    fc.property(fc.array(opArb2, { maxLength: 300 }), (ops) => {
      const map = new SortedKeyMap<Entry>();
      const model = new Set<string>();
      const insert = (key: string): void => {
        if (model.has(key)) return;
        model.add(key);
        map.insert({ key });
      };
      for (const op of ops) {
        if ('run' in op) {
          const [first, count] = op.run;
          for (let n = first; n < first + count; n++) insert(`k${String(n).padStart(5, '0')}`);
        } else if (op.insert) insert(op.key);
        else assert.equal(map.delete(op.key), model.delete(op.key));
      }
      const sorted = [...model].sort();
      assert.deepEqual(
        [...map.values()].map((entry) => entry.key),
        sorted,
      );
      assert.equal(map.size, sorted.length);
      const inRange: string[] = [];
      map.forEachInRange('k01000', 'k03000', (entry) => {
        inRange.push(entry.key);
        return true;
      });
      assert.deepEqual(
        inRange,
        sorted.filter((key) => key >= 'k01000' && key < 'k03000'),
      );
      for (const key of sorted.slice(0, 50)) assert.equal(map.get(key)?.key, key);
    }),
    { numRuns: 60 },
  );
});
