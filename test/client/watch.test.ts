/** Watches against real etcd, including resuming on another member after a crash. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  EtcdError,
  GrpcCode,
  SigilClient,
  type WatchEvent,
  type Watcher,
} from '../../src/client/index.ts';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';

let etcd: EtcdCluster;
let client: SigilClient;
const TIMEOUT = { timeout: 10_000 };

before(async () => {
  etcd = await startEtcd();
  client = new SigilClient({ endpoints: [...etcd.endpoints] });
});

after(async () => {
  client?.close();
  await etcd?.stop();
});

/** Takes the next `count` events, failing instead of hanging if they do not come. */
async function take(watcher: Watcher, count: number, timeoutMs = 5_000): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const iterator = watcher[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`only ${events.length} of ${count} events arrived`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    const next = await Promise.race([iterator.next(), timeout]).finally(() => clearTimeout(timer));
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

const describeEvent = (event: WatchEvent): string =>
  `${event.type} ${event.kv.key.toString()}=${event.kv.value.toString()}`;

test('a watch sees puts and deletes in order, with prevKv', TIMEOUT, async () => {
  const watcher = client.watch('w1/', { prefix: true, prevKv: true });
  await watcher.created;
  await client.put('w1/a', '1');
  await client.put('w1/a', '2');
  await client.delete('w1/a');
  await client.put('other', 'ignored');
  const events = await take(watcher, 3);
  assert.deepEqual(events.map(describeEvent), ['put w1/a=1', 'put w1/a=2', 'delete w1/a=']);
  assert.equal(events[0].prevKv, undefined);
  assert.equal(events[1].prevKv?.value.toString(), '1');
  assert.equal(events[2].prevKv?.value.toString(), '2');
  watcher.cancel();
});

test('startRevision replays history; filters drop event types', TIMEOUT, async () => {
  const first = await client.put('w2/k', 'a');
  await client.put('w2/k', 'b');
  await client.delete('w2/k');
  const replay = client.watch('w2/k', { startRevision: first.header.revision });
  assert.deepEqual((await take(replay, 3)).map(describeEvent), [
    'put w2/k=a',
    'put w2/k=b',
    'delete w2/k=',
  ]);
  replay.cancel();
  const noPut = client.watch('w2/k', { startRevision: first.header.revision, filters: ['noPut'] });
  assert.deepEqual((await take(noPut, 1)).map(describeEvent), ['delete w2/k=']);
  noPut.cancel();
});

test('many watchers share one stream and each gets only its keys', TIMEOUT, async () => {
  const watchers = Array.from({ length: 5 }, (_, i) => client.watch(`w3/${i}`));
  await Promise.all(watchers.map((watcher) => watcher.created));
  for (let i = 4; i >= 0; i--) await client.put(`w3/${i}`, String(i));
  for (let i = 0; i < 5; i++) {
    assert.deepEqual((await take(watchers[i], 1)).map(describeEvent), [`put w3/${i}=${i}`]);
  }
  for (const watcher of watchers) watcher.cancel();
});

test('cancel ends iteration; breaking out of for-await cancels too', TIMEOUT, async () => {
  const watcher = client.watch('w4');
  await watcher.created;
  await client.put('w4', 'x');
  for await (const event of watcher) {
    assert.equal(event.kv.value.toString(), 'x');
    break;
  }
  assert.equal(watcher.isDone, true);
  const next = await watcher[Symbol.asyncIterator]().next();
  assert.equal(next.done, true);
});

test('watching a compacted revision fails with the compaction error', TIMEOUT, async () => {
  const old = await client.put('w5', '1');
  const latest = await client.put('w5', '2');
  await client.compact(latest.header.revision);
  const watcher = client.watch('w5', { startRevision: old.header.revision });
  await assert.rejects(take(watcher, 1), (error: unknown) => {
    assert.ok(EtcdError.is(error));
    assert.equal(error.code, GrpcCode.OutOfRange);
    assert.match(error.message, /required revision has been compacted/);
    return true;
  });
});

test('progress notifications advance the resume revision', TIMEOUT, async () => {
  const watcher = client.watch('w6-never-written', { progressNotify: true });
  await watcher.created;
  const { header } = await client.put('w6-elsewhere', 'x');
  const before = watcher.nextRevision;
  client.requestWatchProgress();
  const deadline = Date.now() + 5_000;
  while (watcher.nextRevision <= header.revision && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(watcher.nextRevision > header.revision, `${before} -> ${watcher.nextRevision}`);
  watcher.cancel();
});

test(
  'a watch resumes on another member after a crash, without loss or repeats',
  { timeout: 30_000 },
  async () => {
    const cluster = await startEtcd({ members: 3 });
    // Crash a follower, not the leader, so the test measures the watch and not an election.
    const probe = new SigilClient({ endpoints: [cluster.endpoints[0]] });
    const { leader } = await probe.maintenance.status().finally(() => probe.close());
    const statuses = await Promise.all(
      cluster.endpoints.map(async (endpoint) => {
        const single = new SigilClient({ endpoints: [endpoint] });
        return single.maintenance.status().finally(() => single.close());
      }),
    );
    const leaderIndex = statuses.findIndex((status) => status.header.memberId === leader);
    const victim = leaderIndex === 0 ? 1 : 0;
    const order = [victim, ...[0, 1, 2].filter((index) => index !== victim)];
    const watching = new SigilClient({
      endpoints: order.map((index) => cluster.endpoints[index]),
      dialTimeoutMs: 1_000,
    });
    const writer = new SigilClient({
      endpoints: [cluster.endpoints[leaderIndex]],
      commandTimeoutMs: 10_000,
    });
    try {
      // The watch is the client's first call, so it uses the first channel: the victim.
      const watcher = watching.watch('resume/', { prefix: true });
      await watcher.created;
      await writer.put('resume/1', 'a');
      assert.deepEqual((await take(watcher, 1)).map(describeEvent), ['put resume/1=a']);
      await cluster.kill(victim);
      await writer.put('resume/2', 'b');
      await writer.put('resume/3', 'c');
      const events = await take(watcher, 2, 15_000);
      assert.deepEqual(events.map(describeEvent), ['put resume/2=b', 'put resume/3=c']);
      watcher.cancel();
    } finally {
      watching.close();
      writer.close();
      await cluster.stop();
    }
  },
);
