/**
 * Failover time, Sigil KV against etcd 3.4 measured the same way on this machine: start a
 * 3-member cluster (heartbeat 100 ms, election timeout 1000 ms, etcd's defaults), write a few
 * keys, SIGKILL the leader, and time from the kill to the next write that succeeds. Writers then
 * keep one put in flight on each surviving member, retrying at once on any error, so the first
 * success marks the moment the cluster accepts writes again. Each run uses a fresh cluster;
 * Sigil and etcd runs alternate so both see the same machine load.
 *
 *   npm run bench:failover -- [--runs 10] [--only sigil|etcd] [--trace]
 *
 * --trace logs the Sigil members at info level and prints, per run, the survivors' raft role
 * changes after the kill (see failover-trace.ts).
 *
 * Target (issue 5): Sigil's median at most 1.5 s and no worse than etcd's.
 */
import { loadavg } from 'node:os';
import { SigilClient } from '../src/client/index.ts';
import { startEtcd } from '../test/support/etcd-process.ts';
import { startSigildCluster } from '../test/support/sigild-cluster.ts';
import { describeTimeline, roleChangesAfter } from './failover-trace.ts';

type System = 'sigil' | 'etcd';

interface RunningCluster {
  readonly endpoints: readonly string[];
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
  /** Every member's log so far (Sigil only; etcd's are not collected). */
  logs(): string[];
}

const HEARTBEAT_MS = 100;
const ELECTION_MS = 1000;
const ATTEMPT_TIMEOUT_MS = 5_000;
const ATTEMPT_SPACING_MS = 25;
const GIVE_UP_MS = 30_000;

async function startCluster(system: System, trace: boolean): Promise<RunningCluster> {
  if (system === 'sigil') {
    const cluster = await startSigildCluster({
      members: 3,
      heartbeatMs: HEARTBEAT_MS,
      electionMs: ELECTION_MS,
      extraArgs: [trace ? '--log-level=info' : '--log-level=error'],
    });
    return {
      endpoints: cluster.endpoints,
      kill: (i) => cluster.kill(i),
      stop: () => cluster.stop(),
      logs: () => cluster.members.map((member) => member.log()),
    };
  }
  const cluster = await startEtcd({
    members: 3,
    extraArgs: [`--heartbeat-interval=${HEARTBEAT_MS}`, `--election-timeout=${ELECTION_MS}`],
  });
  return {
    endpoints: cluster.endpoints,
    kill: (i) => cluster.kill(i),
    stop: () => cluster.stop(),
    logs: () => [],
  };
}

/** The index of the member every member names as leader, polling until they agree. */
async function leaderIndex(client: SigilClient, endpoints: readonly string[]): Promise<number> {
  const deadline = Date.now() + GIVE_UP_MS;
  while (Date.now() < deadline) {
    try {
      const statuses = await Promise.all(
        endpoints.map((endpoint) => client.maintenance.status({ endpoint, timeoutMs: 1_000 })),
      );
      const leader = statuses[0].leader;
      const index = statuses.findIndex((status) => status.header.memberId === leader);
      if (leader !== 0n && index >= 0 && statuses.every((status) => status.leader === leader)) {
        return index;
      }
    } catch {
      // A member not ready yet: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the members did not agree on a leader');
}

/**
 * Starts a put on every survivor every ATTEMPT_SPACING_MS, without waiting for earlier ones, and
 * resolves with the time of the first that succeeds. Whether a server holds a leaderless write
 * until a leader appears (etcd) or refuses it at once (sigild's "no leader"), the first success
 * is then timed to within one spacing.
 */
function firstSuccessfulWrite(
  client: SigilClient,
  survivors: readonly string[],
  run: number,
  startedMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    let settled = false;
    const finish = (ms: number | Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(ticker);
      if (ms instanceof Error) reject(ms);
      else resolve(ms);
    };
    const launch = (): void => {
      if (performance.now() - startedMs > GIVE_UP_MS) {
        finish(new Error(`no write within ${GIVE_UP_MS} ms`));
        return;
      }
      for (const endpoint of survivors) {
        const key = `failover/${run}/${attempt++}`;
        client.put(key, 'x', { endpoint }).then(
          () => finish(performance.now() - startedMs),
          () => undefined, // No leader yet, or lost with the old leader; later attempts follow.
        );
      }
    };
    const ticker = setInterval(launch, ATTEMPT_SPACING_MS);
    launch();
  });
}

/** Milliseconds from SIGKILL of the leader to the first successful put on a survivor. */
async function measureOnce(system: System, run: number, trace: boolean): Promise<number> {
  const cluster = await startCluster(system, trace);
  const client = new SigilClient({
    endpoints: [...cluster.endpoints],
    dialTimeoutMs: 1_000,
    commandTimeoutMs: ATTEMPT_TIMEOUT_MS,
  });
  try {
    const leader = await leaderIndex(client, cluster.endpoints);
    const survivors = cluster.endpoints.filter((_, index) => index !== leader);
    // Warm the connections to the survivors, so the measurement holds no dial.
    for (let i = 0; i < 5; i++) {
      for (const endpoint of survivors) await client.put(`warm/${i}`, 'x', { endpoint });
    }
    const startedMs = performance.now();
    const killedAtMs = Date.now();
    const killed = cluster.kill(leader);
    const elapsed = await firstSuccessfulWrite(client, survivors, run, startedMs);
    await killed;
    if (!Number.isFinite(elapsed)) throw new Error(`${system}: no write within ${GIVE_UP_MS} ms`);
    if (trace && system === 'sigil') {
      // The survivors log the new leader's arrival shortly after the write can succeed.
      await new Promise((resolve) => setTimeout(resolve, 200));
      console.log(describeTimeline(roleChangesAfter(cluster.logs(), killedAtMs), elapsed));
    }
    return elapsed;
  } finally {
    client.close();
    await cluster.stop();
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

interface Options {
  readonly runs: number;
  readonly systems: System[];
  readonly trace: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let runs = 10;
  let trace = false;
  let systems: System[] = ['sigil', 'etcd'];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--only') {
      const only = argv[++i];
      if (only !== 'sigil' && only !== 'etcd') throw new Error('--only takes sigil or etcd');
      systems = [only];
    } else if (argv[i] === '--trace') trace = true;
    else throw new Error(`unknown argument ${argv[i]}; usage: --runs N --only sigil|etcd --trace`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');
  return { runs, systems, trace };
}

async function main(): Promise<void> {
  const { runs, systems, trace } = parseArgs(process.argv.slice(2));
  console.log(
    `failover: 3 members, heartbeat ${HEARTBEAT_MS} ms, election timeout ${ELECTION_MS} ms, ` +
      `${runs} runs each; load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}`,
  );
  const results = new Map<System, number[]>(systems.map((system) => [system, []]));
  for (let run = 1; run <= runs; run++) {
    for (const system of systems) {
      const ms = await measureOnce(system, run, trace);
      results.get(system)?.push(ms);
      console.log(`run ${String(run).padStart(2)} ${system.padEnd(5)} ${Math.round(ms)} ms`);
    }
  }
  for (const [system, times] of results) {
    console.log(
      `${system.padEnd(5)} median ${Math.round(median(times))} ms; runs: ` +
        times.map((ms) => Math.round(ms)).join(', '),
    );
  }
  const sigil = results.get('sigil');
  const etcd = results.get('etcd');
  if (sigil !== undefined) {
    const withinBound = median(sigil) <= 1_500;
    const vsEtcd =
      etcd === undefined ? 'not measured' : median(sigil) <= median(etcd) ? 'yes' : 'no';
    console.log(
      `target: sigil median <= 1500 ms: ${withinBound ? 'yes' : 'no'}; no worse than etcd: ${vsEtcd}; ` +
        `load average ${loadavg()
          .map((load) => load.toFixed(2))
          .join(' ')}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
