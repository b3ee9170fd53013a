/**
 * Watch guarantees: every event after the start revision, in order, exactly once, revisions
 * never split across responses, prev_kv, filters, compaction cancels, slow consumers catching
 * up from history without blocking writers.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type CommittedRevision,
  type Event,
  KvStore,
  WatchableStore,
  type Watcher,
  type WatchOptions,
  type WatchResponse,
} from '../../src/mvcc/index.ts';
import { MemoryBackend } from '../../src/storage/index.ts';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const s = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const describe = (e: Event): string => `${e.type} ${s(e.kv.key)}@${e.kv.modRevision}`;

/** A store whose catch-up work runs only when the test says so. */
function harness(options: { watcherEventsMax?: number; catchUpRevisionsMax?: number } = {}) {
  const tasks: (() => void)[] = [];
  const kv = new KvStore(new MemoryBackend());
  const history: CommittedRevision[] = [];
  kv.onCommit((revisions) => history.push(...revisions));
  const store = new WatchableStore(kv, { ...options, schedule: (task) => tasks.push(task) });
  const runTasks = (): void => {
    for (let guard = 0; tasks.length > 0; guard++) {
      assert.ok(guard < 100_000, 'catch-up never settles');
      tasks.shift()!();
    }
  };
  return { kv, store, history, runTasks };
}

function drain(watcher: Watcher): WatchResponse[] {
  const out: WatchResponse[] = [];
  for (let r = watcher.poll(); r !== undefined; r = watcher.poll()) out.push(r);
  return out;
}

test('exactly once, in order, whole revisions, for fast and slow watchers', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          op: fc.constantFrom('put', 'put', 'delete', 'txn', 'watch', 'drain', 'compact'),
          key: fc.constantFrom('a', 'b', 'c', 'ca'),
          start: fc.nat(12),
          slow: fc.boolean(),
        }),
        { maxLength: 80 },
      ),
      (steps) => {
        const { kv, store, history, runTasks } = harness({
          watcherEventsMax: 3,
          catchUpRevisionsMax: 2,
        });
        const watchers: {
          watcher: Watcher;
          options: WatchOptions;
          got: WatchResponse[];
          from: number;
        }[] = [];
        for (const step of steps) {
          if (step.op === 'put') kv.put({ key: b(step.key), value: b(`${kv.currentRevision}`) });
          if (step.op === 'delete') kv.deleteRange({ key: b(step.key), rangeEnd: b('c') });
          if (step.op === 'txn') {
            kv.txn({
              success: [{ requestPut: { key: b('a') } }, { requestPut: { key: b('ca') } }],
            });
          }
          if (step.op === 'compact' && kv.currentRevision > kv.compactRevision + 2) {
            kv.compact({ revision: kv.compactRevision + 1 });
            if (step.slow) while (kv.compactionStep(100));
          }
          if (step.op === 'watch') {
            const options: WatchOptions = {
              key: b(step.key),
              ...(step.slow ? { rangeEnd: new Uint8Array([0]) } : {}),
              startRevision: step.start,
            };
            const from = step.start === 0 ? kv.currentRevision + 1 : step.start;
            watchers.push({ watcher: store.watch(options), options, got: [], from });
          }
          if (step.op === 'drain') {
            for (const w of watchers) w.got.push(...drain(w.watcher));
            runTasks();
          }
        }
        // Let everyone catch up.
        for (let round = 0; round < 1000 && store.unsyncedCount > 0; round++) {
          for (const w of watchers) w.got.push(...drain(w.watcher));
          runTasks();
        }
        for (const w of watchers) w.got.push(...drain(w.watcher));
        for (const { got, options, from } of watchers) {
          const cancelled = got.find((r) => r.canceled);
          if (cancelled !== undefined) {
            assert.ok(
              from < cancelled.compactRevision,
              'cancelled only when its start was compacted',
            );
            assert.equal(got[got.length - 1], cancelled, 'nothing after the cancel');
          }
          const events = got.flatMap((r) => r.events);
          const want = history
            .filter((c) => c.revision >= from)
            .flatMap((c) => c.events)
            .filter((e) =>
              options.rangeEnd === undefined
                ? s(e.kv.key) === s(options.key)
                : s(e.kv.key) >= s(options.key),
            );
          if (cancelled === undefined) assert.deepEqual(events.map(describe), want.map(describe));
          else assert.deepEqual(events.map(describe), want.slice(0, events.length).map(describe));
          // A revision's events are never split across responses.
          const seen = new Set<number>();
          for (const response of got) {
            const revisions = new Set(response.events.map((e) => e.kv.modRevision));
            for (const revision of revisions) {
              assert.ok(!seen.has(revision), `revision ${revision} split across responses`);
              seen.add(revision);
            }
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('prev_kv, filters and a watch from an old revision', () => {
  const { kv, store, runTasks } = harness();
  kv.put({ key: b('k'), value: b('one') }); // rev 2
  kv.put({ key: b('k'), value: b('two') }); // rev 3
  kv.deleteRange({ key: b('k') }); // rev 4
  const all = store.watch({ key: b('k'), startRevision: 2, prevKv: true });
  const noPut = store.watch({ key: b('k'), startRevision: 2, filters: ['NOPUT'] });
  const noDelete = store.watch({ key: b('k'), startRevision: 2, filters: ['NODELETE'] });
  runTasks();
  const events = drain(all).flatMap((r) => r.events);
  assert.deepEqual(events.map(describe), ['PUT k@2', 'PUT k@3', 'DELETE k@4']);
  assert.equal(events[0].prevKv, undefined, 'a create has no prev_kv');
  assert.equal(s(events[1].prevKv!.value), 'one');
  assert.equal(s(events[2].prevKv!.value), 'two');
  assert.equal(events[2].kv.createRevision, 0, 'a DELETE kv carries only key and mod_revision');
  assert.deepEqual(
    drain(noPut)
      .flatMap((r) => r.events)
      .map(describe),
    ['DELETE k@4'],
  );
  assert.deepEqual(
    drain(noDelete)
      .flatMap((r) => r.events)
      .map(describe),
    ['PUT k@2', 'PUT k@3'],
  );
  // Live from now on, prev_kv included.
  kv.put({ key: b('k'), value: b('three') });
  const live = drain(all);
  assert.equal(live.length, 1);
  assert.equal(live[0].events[0].prevKv, undefined, 'recreated after delete: a create');
  assert.equal(live[0].revision, 5);
});

test('a watch whose start revision was compacted is cancelled with the compact revision', () => {
  const { kv, store, runTasks } = harness();
  for (let i = 0; i < 5; i++) kv.put({ key: b('k'), value: b(`${i}`) });
  kv.compact({ revision: 4 });
  const watcher = store.watch({ key: b('k'), startRevision: 3 }); // Just below.
  runTasks();
  const responses = drain(watcher);
  assert.deepEqual(
    responses.map((r) => ({
      canceled: r.canceled,
      compactRevision: r.compactRevision,
      n: r.events.length,
    })),
    [{ canceled: true, compactRevision: 4, n: 0 }],
  );
  assert.equal(watcher.isClosed, true);
  // Starting exactly at the compact revision is allowed (etcd: cancelled only below it).
  const atCompact = store.watch({ key: b('k'), startRevision: 4 });
  runTasks();
  assert.deepEqual(
    drain(atCompact)
      .flatMap((r) => r.events)
      .map(describe),
    ['PUT k@4', 'PUT k@5', 'PUT k@6'],
  );
});

test('a slow watcher does not block writers and catches up from history', async () => {
  const kv = new KvStore(new MemoryBackend());
  const store = new WatchableStore(kv, { watcherEventsMax: 8, catchUpRevisionsMax: 16 });
  const watcher = store.watch({ key: b('k'), rangeEnd: b('l') });
  const received: string[] = [];
  const consumer = (async () => {
    for await (const response of watcher) {
      for (const event of response.events) received.push(describe(event));
      if (received.length >= 1000) return;
      await new Promise((resolve) => setTimeout(resolve, 1)); // Slow.
    }
  })();
  // Writers are never held back: 1,000 writes happen synchronously, all before any delivery.
  for (let i = 0; i < 1000; i++) kv.put({ key: b(`k${i % 10}`), value: b(`${i}`) });
  assert.ok(watcher.pendingEvents <= 8, 'the buffer stays bounded');
  assert.equal(store.unsyncedCount, 1, 'the slow watcher was moved to unsynced');
  await consumer;
  const want = Array.from({ length: 1000 }, (_, i) => `PUT k${i % 10}@${i + 2}`);
  assert.deepEqual(received, want);
  assert.equal(store.unsyncedCount, 0, 'back in the synced set');
  store.cancel(watcher);
});

test('progress notification only for synced watchers', () => {
  const { kv, store, runTasks } = harness();
  kv.put({ key: b('x') });
  const synced = store.watch({ key: b('k') });
  const behind = store.watch({ key: b('k'), startRevision: 1 });
  assert.equal(store.requestProgress(synced), true);
  assert.equal(store.requestProgress(behind), false);
  assert.deepEqual(
    drain(synced).map((r) => ({ events: r.events.length, revision: r.revision })),
    [{ events: 0, revision: 2 }],
  );
  runTasks();
  assert.equal(store.requestProgress(behind), true);
});
