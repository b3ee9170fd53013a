/**
 * MVCC on LMDB (production sync mode, temp dir): batched put throughput, single-key range
 * throughput, and the footprint of 100,000 keys with 256-byte values after compaction and
 * space reclaim (file size against the raw key+value bytes, and process RSS growth).
 *
 *   node --expose-gc --import tsx bench/storage/mvcc-bench.ts
 *
 * Apply batches run one per event-loop turn, as the member applies one batch per raft Ready,
 * and the put figures include the final sync(), so commits the backend defers are paid for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { open } from 'lmdb';
import { KvStore } from '../../src/mvcc/index.ts';
import { LmdbBackend } from '../../src/storage/index.ts';

const PUTS_TOTAL = 200_000;
const PUTS_PER_BATCH = 1_000;
const RANGES_TOTAL = 500_000;
const FOOTPRINT_KEYS = 100_000;
const FOOTPRINT_VALUE_BYTES = 256;
const FOOTPRINT_REWRITES = 3;

const KEY_PREFIX = [0x6b, 0x65, 0x79, 0x2d]; // "key-"
const KEY_DIGITS = 10;

/**
 * `key-` and `i` as ten decimal digits, in a fresh view of Node's shared buffer pool per key, as
 * a member gets each key as a view of the request it decoded. Written digit by digit: building
 * a string and encoding it (TextEncoder) cost the harness ~10 % of the run's time, none of it
 * work the store does.
 */
function keyOf(i: number): Uint8Array {
  const key = Buffer.allocUnsafe(KEY_PREFIX.length + KEY_DIGITS);
  key.set(KEY_PREFIX);
  for (
    let at = key.length - 1, rest = i;
    at >= KEY_PREFIX.length;
    at--, rest = Math.floor(rest / 10)
  ) {
    key[at] = 0x30 + (rest % 10);
  }
  return key;
}

interface Result {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target: string;
  readonly ok: boolean;
}

function withStore<T>(
  body: (store: KvStore, backend: LmdbBackend, dataDir: string) => Promise<T>,
  syncMode: 'overlapping' | 'none' = 'overlapping',
): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-mvcc-bench-'));
  const backend = new LmdbBackend({ dataDir, syncMode });
  const store = new KvStore(backend);
  return body(store, backend, dataDir).finally(async () => {
    await backend.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes `count` puts of keys [first, first+count) in batches, one batch per event-loop turn as
 * the apply loop would, then waits until the backend has committed and flushed all of them.
 */
async function putBatches(
  store: KvStore,
  backend: LmdbBackend,
  first: number,
  count: number,
  value: Uint8Array,
): Promise<void> {
  for (let done = 0; done < count; done += PUTS_PER_BATCH) {
    const index = store.consistentIndex() + 1;
    store.applyBatch(index, (writer) => {
      const end = Math.min(count, done + PUTS_PER_BATCH);
      for (let i = done; i < end; i++) writer.put({ key: keyOf(first + i), value });
    });
    await nextTurn();
  }
  await backend.sync();
}

/** Resident memory split as Linux reports it: anonymous (heap, malloc) vs file-backed pages. */
function residentKinds(): { anonymousBytes: number; fileBytes: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  };
  return { anonymousBytes: field('RssAnon'), fileBytes: field('RssFile') + field('RssShmem') };
}

/**
 * With syncMode 'none' (never a production mode, see lmdb-backend.ts) the figure shows the
 * CPU cost of the MVCC path alone; the production figure adds LMDB's per-commit flush.
 */
async function benchPuts(syncMode: 'overlapping' | 'none'): Promise<Result> {
  return withStore(async (store, backend) => {
    const value = new Uint8Array(FOOTPRINT_VALUE_BYTES).fill(0x61);
    await putBatches(store, backend, 0, 50_000, value); // Warm-up: let the JIT settle.
    const started = performance.now();
    await putBatches(store, backend, 50_000, PUTS_TOTAL, value);
    const perSecond = PUTS_TOTAL / ((performance.now() - started) / 1000);
    const production = syncMode === 'overlapping';
    return {
      name: `batched puts, ${PUTS_PER_BATCH} per apply batch${production ? '' : ' (noSync: CPU path only)'}`,
      value: perSecond,
      unit: 'puts/s',
      target: production ? '>= 150000' : 'context',
      ok: perSecond >= 150_000,
    };
  }, syncMode);
}

async function benchRanges(): Promise<Result> {
  return withStore(async (store, backend) => {
    const keys = 100_000;
    await putBatches(store, backend, 0, keys, new Uint8Array(FOOTPRINT_VALUE_BYTES).fill(0x62));
    const probes = Array.from({ length: 4096 }, (_, i) => keyOf((i * 7919) % keys));
    let found = 0;
    for (let i = 0; i < 50_000; i++) found += store.range({ key: probes[i % probes.length] }).count;
    const started = performance.now();
    for (let i = 0; i < RANGES_TOTAL; i++)
      found += store.range({ key: probes[i % probes.length] }).count;
    const perSecond = RANGES_TOTAL / ((performance.now() - started) / 1000);
    if (found !== RANGES_TOTAL + 50_000) throw new Error(`ranges found ${found} keys`);
    return {
      name: 'single-key ranges',
      value: perSecond,
      unit: 'ranges/s',
      target: '>= 500000',
      ok: perSecond >= 500_000,
    };
  });
}

async function benchFootprint(): Promise<Result[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const residentBefore = residentKinds();
  return withStore(async (store, backend) => {
    for (let round = 0; round < FOOTPRINT_REWRITES; round++) {
      await putBatches(
        store,
        backend,
        0,
        FOOTPRINT_KEYS,
        new Uint8Array(FOOTPRINT_VALUE_BYTES).fill(0x30 + round),
      );
    }
    const beforeCompaction = backend.size().sizeBytes;
    store.compact({ revision: store.currentRevision });
    await store.runCompaction(10_000);
    const afterCompaction = backend.size().sizeBytes;
    const reclaim = await backend.reclaimSpace();
    gc?.();
    const rssUnsettled = process.memoryUsage().rss - before.rss;
    // V8 keeps heap pages freed by a full collection for reuse and gives them back over the
    // next collections: let it settle, as a member does between bursts, before measuring.
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      gc?.();
    }
    const memory = process.memoryUsage();
    const resident = residentKinds();
    const rssGrowth = memory.rss - before.rss;
    const anonymousGrowth = resident.anonymousBytes - residentBefore.anonymousBytes;
    const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
    const growth = (bytes: number): string => `${bytes >= 0 ? '+' : ''}${megabytes(bytes)}`;
    console.log(
      `  memory growth: rss ${growth(rssGrowth)} = anonymous ${growth(anonymousGrowth)} + file-backed ` +
        `${growth(resident.fileBytes - residentBefore.fileBytes)} (LMDB's mmap: page cache, reclaimable); ` +
        `heapUsed ${growth(memory.heapUsed - before.heapUsed)}, external ${growth(memory.external - before.external)}, ` +
        `arrayBuffers ${growth(memory.arrayBuffers - before.arrayBuffers)}, V8 heap committed ` +
        `${growth(memory.heapTotal - before.heapTotal)}; rss right after the first gc ${growth(rssUnsettled)} ` +
        `(${store.index.keyCount} keys indexed)` +
        (gc === undefined ? '; run with --expose-gc for a settled figure' : ''),
    );
    const raw = FOOTPRINT_KEYS * (keyOf(0).length + FOOTPRINT_VALUE_BYTES);
    const sizeRatio = reclaim.sizeAfterBytes / raw;
    console.log(
      `  footprint: raw ${(raw / 1e6).toFixed(1)} MB; file ${(beforeCompaction / 1e6).toFixed(1)} MB ` +
        `before compaction, ${(afterCompaction / 1e6).toFixed(1)} MB after (LMDB reuses, never shrinks), ` +
        `${(reclaim.sizeAfterBytes / 1e6).toFixed(1)} MB after reclaimSpace(); in use ${(backend.size().sizeInUseBytes / 1e6).toFixed(1)} MB`,
    );
    return [
      {
        name: 'file after compaction+reclaim / raw',
        value: sizeRatio,
        unit: 'x',
        target: '<= 2',
        ok: sizeRatio <= 2,
      },
      {
        name: 'anonymous RSS growth (100k keys, 300k revisions)',
        value: anonymousGrowth / 1e6,
        unit: 'MB',
        target: '<= 100',
        ok: anonymousGrowth <= 100e6,
      },
      {
        name: 'total RSS growth incl. LMDB file pages',
        value: rssGrowth / 1e6,
        unit: 'MB',
        target: 'context: file pages are page cache',
        ok: true,
      },
    ];
  });
}

/**
 * The same work on bare lmdb-js in the same run (append puts of 16-byte keys and 300-byte
 * values in batches, point gets), so figures from a busy machine can be read as a ratio.
 */
async function benchRawLmdb(): Promise<{ putsPerSecond: number; getsPerSecond: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-lmdb-raw-'));
  const root = open({ path: path.join(dataDir, 'db'), noSubdir: true, overlappingSync: true });
  try {
    const db = root.openDB<Buffer, Buffer>({
      name: 'raw',
      keyEncoding: 'binary',
      encoding: 'binary',
    });
    const value = Buffer.alloc(300, 1);
    const keyAt = (i: number): Buffer => {
      const key = Buffer.alloc(16);
      key.writeUInt32BE(i, 4);
      return key;
    };
    let started = performance.now();
    for (let done = 0; done < PUTS_TOTAL; done += PUTS_PER_BATCH) {
      root.transactionSync(() => {
        for (let i = done; i < done + PUTS_PER_BATCH; i++)
          db.putSync(keyAt(i), value, { append: true });
      });
      await nextTurn();
    }
    await root.flushed;
    const putsPerSecond = PUTS_TOTAL / ((performance.now() - started) / 1000);
    const probes = Array.from({ length: 4096 }, (_, i) => keyAt((i * 7919) % PUTS_TOTAL));
    started = performance.now();
    let bytes = 0;
    for (let i = 0; i < RANGES_TOTAL; i++)
      bytes += db.getBinaryFast(probes[i % probes.length])?.length ?? 0;
    const getsPerSecond = RANGES_TOTAL / ((performance.now() - started) / 1000);
    if (bytes !== RANGES_TOTAL * 300) throw new Error('raw gets missed keys');
    return { putsPerSecond, getsPerSecond };
  } finally {
    await root.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runMvccBench(): Promise<void> {
  console.log(
    `mvcc-bench on LMDB (overlappingSync), node ${process.version}, ${os.cpus().length} CPUs, ` +
      `load average ${os
        .loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}`,
  );
  const footprint = await benchFootprint();
  const puts = await benchPuts('overlapping');
  const ranges = await benchRanges();
  const results = [...footprint, puts, ranges, await benchPuts('none')];
  const raw = await benchRawLmdb();
  console.log(
    `  bare lmdb-js in this run: ${Math.round(raw.putsPerSecond).toLocaleString('en-US')} puts/s, ` +
      `${Math.round(raw.getsPerSecond).toLocaleString('en-US')} gets/s; MVCC reaches ` +
      `${((puts.value / raw.putsPerSecond) * 100).toFixed(0)} % and ` +
      `${((ranges.value / raw.getsPerSecond) * 100).toFixed(0)} % of them`,
  );
  for (const r of results) {
    const value =
      r.value >= 1000 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(2);
    console.log(`  ${r.ok ? 'ok  ' : 'MISS'} ${r.name}: ${value} ${r.unit} (target ${r.target})`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMvccBench();
}
