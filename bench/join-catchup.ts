/**
 * How long a new member takes to catch up (issue 5 target: within 10 s). A 3-member sigild
 * cluster is loaded with N keys (default 100,000) of 256-byte values, in transactions of 100
 * puts; then the clock starts, MemberAdd announces a 4th member, its sigild starts with
 * `--initial-cluster-state existing`, and the clock stops when that member serves a
 * serializable read of the last key written. With --snapshot-count below N the leader's log
 * no longer reaches back to index 1, so the new member is caught up by a streamed snapshot.
 *
 *   node --import tsx bench/join-catchup.ts [--keys 100000] [--snapshot-count 10000] [--learner]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { op, SigilClient } from '../src/client/index.ts';
import { reserveJoiner, startJoiner, type SigildJoiner } from '../test/e2e/sigild-joiner.ts';
import { startSigildCluster } from '../test/support/sigild-cluster.ts';

const VALUE_BYTES = 256;
const PUTS_PER_TXN = 100;
const LOAD_CONCURRENCY = 8;
const GIVE_UP_MS = 120_000;

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    'snapshot-count': { type: 'string', default: '10000' },
    learner: { type: 'boolean', default: false },
    /** Prints the new member's log (info level) after the run, to see where the time went. */
    'joiner-log': { type: 'boolean', default: false },
    /** Writes a CPU profile of the new member's process into this directory. */
    'joiner-profile': { type: 'string' },
  },
});
const keyCount = Number(values.keys);
const snapshotCount = Number(values['snapshot-count']);
if (!Number.isSafeInteger(keyCount) || keyCount < 1) throw new Error('--keys: a positive integer');

const keyOf = (i: number): string => `bench/join/${String(i).padStart(8, '0')}`;

async function load(client: SigilClient): Promise<void> {
  const value = 'v'.repeat(VALUE_BYTES);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keyCount) {
      const start = next;
      next = Math.min(keyCount, next + PUTS_PER_TXN);
      const puts = [];
      for (let i = start; i < next; i++) puts.push(op.put(keyOf(i), value));
      await client
        .txn()
        .success(...puts)
        .commit();
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

async function main(): Promise<void> {
  const cluster = await startSigildCluster({
    members: 3,
    extraArgs: [`--snapshot-count=${snapshotCount}`, '--log-level=warn'],
    readyTimeoutMs: 120_000,
  });
  let joiner: SigildJoiner | null = null;
  try {
    const client = new SigilClient({ endpoints: [...cluster.endpoints], commandTimeoutMs: 30_000 });
    const loadStart = performance.now();
    await load(client);
    const loadMs = performance.now() - loadStart;
    const lastKey = keyOf(keyCount - 1);
    const reserved = await reserveJoiner('sigil3');
    const started = performance.now();
    const added = await client.cluster.memberAdd([reserved.peerUrl], {
      isLearner: values.learner === true,
    });
    const addedMs = performance.now() - started;
    const joinerLogLevel = values['joiner-log'] === true ? 'info' : 'warn';
    const profileDir = values['joiner-profile'];
    if (profileDir !== undefined) {
      process.env.SIGILD_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${profileDir}`;
    }
    joiner = startJoiner(cluster, reserved, [`--log-level=${joinerLogLevel}`]);
    delete process.env.SIGILD_NODE_FLAGS;
    const joinerStartedAt = Date.now();
    // A fresh client per attempt: a gRPC channel that failed to connect backs off for seconds.
    const newReader = (): SigilClient =>
      new SigilClient({
        endpoints: [reserved.endpoint],
        dialTimeoutMs: 200,
        commandTimeoutMs: 1_000,
      });
    let firstAnswerMs: number | null = null;
    let caughtUpMs: number | null = null;
    while (caughtUpMs === null && performance.now() - started < GIVE_UP_MS) {
      const reader = newReader();
      try {
        const read = await reader.get(lastKey, { serializable: true });
        firstAnswerMs ??= performance.now() - started;
        if (read.kvs.length === 1) caughtUpMs = performance.now() - started;
      } catch {
        // Not serving yet.
      } finally {
        reader.close();
      }
      if (caughtUpMs === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    client.close();
    const load1 = loadavg()[0].toFixed(2);
    console.log(
      JSON.stringify({
        keys: keyCount,
        valueBytes: VALUE_BYTES,
        snapshotCount,
        asLearner: values.learner === true,
        memberId: added.member.id.toString(16),
        loadSeconds: +(loadMs / 1000).toFixed(1),
        memberAddMs: +addedMs.toFixed(0),
        firstServedMs: firstAnswerMs === null ? null : +firstAnswerMs.toFixed(0),
        caughtUpMs: caughtUpMs === null ? null : +caughtUpMs.toFixed(0),
        loadAverage1m: Number(load1),
      }),
    );
    if (values['joiner-log'] === true) {
      for (const line of joiner.log().split('\n')) {
        const match = /"time":(\d+).*"msg":"([^"]*)"/.exec(line);
        if (match !== null) console.error(`+${Number(match[1]) - joinerStartedAt} ms ${match[2]}`);
      }
    }
    if (caughtUpMs === null) {
      console.error(joiner.log().slice(-4000));
      process.exitCode = 1;
    }
  } finally {
    await joiner?.stop();
    await cluster.stop();
  }
}

await main();
