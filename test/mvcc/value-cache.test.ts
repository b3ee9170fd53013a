/**
 * The value cache behind single-key ranges: its bounds, and a property that the cached path
 * (a plain single-key range) and the backend path (the same key as a one-key interval, which
 * reads through executeRange) give the same answer at every revision, across puts, deletes,
 * txns, compactions, physical compaction, restarts and snapshot restores that reuse revision
 * numbers for other values. The model test (mvcc-property.test.ts) checks both paths against
 * the model as well.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isMvccError, KvStore, type KvStoreOptions } from '../../src/mvcc/index.ts';
import { KeyIndex } from '../../src/mvcc/key-index.ts';
import { ValueCache } from '../../src/mvcc/value-cache.ts';
import { type Backend, LmdbBackend, MemoryBackend } from '../../src/storage/index.ts';
import { plain } from './mvcc-model-runner.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const KEYS = ['a', 'ab', 'b', 'c'];

function keyValue(key: string, value: string, modRevision: number) {
  return {
    key: bytes(key),
    value: bytes(value),
    createRevision: modRevision,
    modRevision,
    version: 1,
    lease: 0n,
  };
}

test('ValueCache keeps at most its entries and bytes, oldest out first', () => {
  const cache = new ValueCache(3, 40);
  const indexes = ['k1', 'k2', 'k3', 'k4'].map((key) => new KeyIndex(key));
  indexes.forEach((index, i) => cache.put(index, 100 + i, keyValue(index.key, 'v', i + 2)));
  assert.equal(cache.entries, 3, 'entry bound');
  assert.equal(cache.get(indexes[0], 100), undefined, 'the oldest entry left first');
  assert.equal(cache.get(indexes[3], 103)?.modRevision, 5);
  assert.equal(cache.get(indexes[3], 104), undefined, 'another revision of the key misses');
  // Replacing a key's entry keeps one slot for it.
  cache.put(indexes[3], 104, keyValue('k4', 'w', 6));
  assert.equal(cache.entries, 3);
  assert.equal(cache.get(indexes[3], 103), undefined);
  assert.equal(cache.get(indexes[3], 104)?.modRevision, 6);
  // A big value pushes older entries out until the bytes fit.
  cache.put(indexes[0], 200, keyValue('k1', 'x'.repeat(30), 7));
  assert.ok(cache.sizeBytes <= 40, `bytes bound: ${cache.sizeBytes}`);
  assert.equal(cache.get(indexes[0], 200)?.modRevision, 7);
  // A value above the bound is never cached.
  cache.put(indexes[1], 300, keyValue('k2', 'y'.repeat(60), 8));
  assert.equal(cache.get(indexes[1], 300), undefined);
  assert.ok(cache.sizeBytes <= 40);
});

type Step =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'delete'; key: string; all: boolean }
  | { kind: 'txn'; key: string; other: string; value: string }
  | { kind: 'compact'; back: number }
  | { kind: 'compactionStep' }
  | { kind: 'restart' }
  | { kind: 'restore'; writes: number };

const keyArb = fc.constantFrom(...KEYS);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: keyArb,
      value: fc.constantFrom('', 'x', 'yy', 'zzz'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb, all: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('txn' as const),
      key: keyArb,
      other: keyArb,
      value: fc.constantFrom('t', 'uu'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'compactionStep' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), writes: fc.nat(6) }) },
);

/** A range's answer as a plain value, or the MvccError code it fails with. */
function answer(read: () => unknown): unknown {
  try {
    return plain(read());
  } catch (error) {
    if (isMvccError(error)) return { error: error.code };
    throw error;
  }
}

/** Every key at every revision from before the compaction to the present, through both paths. */
function checkPathsAgree(store: KvStore, where: string): void {
  const low = Math.max(1, store.compactRevision - 1);
  for (let revision = low; revision <= store.currentRevision; revision++) {
    for (const key of KEYS) {
      const cached = (): unknown => store.range({ key: bytes(key), revision });
      const viaBackend = answer(() =>
        store.range({ key: bytes(key), rangeEnd: bytes(`${key}\0`), revision }),
      );
      assert.deepStrictEqual(answer(cached), viaBackend, `${where}: ${key}@${revision}`);
      // The second read may be served from the cache filled by the first.
      assert.deepStrictEqual(answer(cached), viaBackend, `${where}: ${key}@${revision} again`);
      const keysOnly = answer(() => store.range({ key: bytes(key), revision, keysOnly: true }));
      const keysOnlyViaBackend = answer(() =>
        store.range({ key: bytes(key), rangeEnd: bytes(`${key}\0`), revision, keysOnly: true }),
      );
      assert.deepStrictEqual(keysOnly, keysOnlyViaBackend, `${where}: ${key}@${revision} keys`);
    }
  }
}

/** A snapshot of another store whose revisions carry other values than this one's. */
async function foreignSnapshot(writes: number): Promise<AsyncIterable<Uint8Array>> {
  const other = new KvStore(new MemoryBackend());
  for (let i = 0; i < writes; i++) {
    other.put({ key: bytes(KEYS[i % KEYS.length]), value: bytes(`foreign${i}`) });
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of other.backend.snapshot()) chunks.push(new Uint8Array(chunk));
  return (async function* () {
    yield* chunks;
  })();
}

async function applyStep(store: KvStore, step: Step): Promise<void> {
  try {
    switch (step.kind) {
      case 'put':
        store.put({ key: bytes(step.key), value: bytes(step.value) });
        return;
      case 'delete':
        store.deleteRange({ key: bytes(step.key), ...(step.all ? { rangeEnd: bytes('\0') } : {}) });
        return;
      case 'txn':
        store.txn({
          compare: [{ key: bytes(step.key), target: 'VERSION', result: 'GREATER', version: 0 }],
          success: [{ requestPut: { key: bytes(step.other), value: bytes(step.value) } }],
          failure: [{ requestDeleteRange: { key: bytes(step.other) } }],
        });
        return;
      case 'compact':
        store.compact({ revision: Math.max(1, store.currentRevision - step.back) });
        return;
      case 'compactionStep':
        store.compactionStep(2);
        return;
      case 'restart':
      case 'restore':
        return; // Handled by the caller, which owns the backend.
    }
  } catch (error) {
    if (!isMvccError(error)) throw error;
  }
}

async function runSteps(
  open: () => Promise<Backend>,
  reopen: () => Promise<Backend>,
  steps: Step[],
  options: KvStoreOptions,
): Promise<void> {
  let store = new KvStore(await open(), options);
  for (const [number, step] of steps.entries()) {
    if (step.kind === 'restart') store = new KvStore(await reopen(), options);
    else if (step.kind === 'restore')
      await store.restoreSnapshot(await foreignSnapshot(step.writes));
    else await applyStep(store, step);
    checkPathsAgree(store, `step ${number} ${JSON.stringify(step)}`);
  }
}

const cacheSizes: KvStoreOptions[] = [
  {}, // Default bounds: everything read stays cached.
  { valueCacheEntriesMax: 2, valueCacheBytesMax: 6 }, // Constant eviction.
];

for (const options of cacheSizes) {
  const label = options.valueCacheEntriesMax === undefined ? 'default' : 'tiny';
  test(`cached and backend single-key reads agree (MemoryBackend, ${label} cache)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const backend = new MemoryBackend();
        await runSteps(
          async () => backend,
          async () => backend,
          steps,
          options,
        );
      }),
      { numRuns: 150 },
    );
  });

  test(`cached and backend single-key reads agree (LmdbBackend, ${label} cache)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-value-cache-'));
        let backend = new LmdbBackend({ dataDir, syncMode: 'none' });
        try {
          await runSteps(
            async () => backend,
            async () => {
              await backend.close();
              backend = new LmdbBackend({ dataDir, syncMode: 'none' });
              return backend;
            },
            steps,
            options,
          );
        } finally {
          await backend.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
}

test('a hot key is served from the cache until it changes', () => {
  const store = new KvStore(new MemoryBackend());
  store.put({ key: bytes('hot'), value: bytes('v1') });
  const first = store.range({ key: bytes('hot') }).kvs[0];
  assert.equal(store.valueCacheSize.entries, 1);
  assert.equal(store.range({ key: bytes('hot') }).kvs[0], first, 'the same cached KeyValue');
  store.put({ key: bytes('hot'), value: bytes('v2') });
  const second = store.range({ key: bytes('hot') }).kvs[0];
  assert.equal(new TextDecoder().decode(second.value), 'v2', 'a put is never hidden');
  assert.equal(store.valueCacheSize.entries, 1, 'the key keeps one slot');
  const old = store.range({ key: bytes('hot'), revision: first.modRevision }).kvs[0];
  assert.equal(new TextDecoder().decode(old.value), 'v1', 'an older revision reads the backend');
});
