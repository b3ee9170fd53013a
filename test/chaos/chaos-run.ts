/**
 * One chaos run: start the cluster, run clients, watchers, the compactor and a nemesis (random
 * faults for a time limit, or kill/restart cycles), heal everything, let the workload prove the
 * cluster writes again, then check the history: linearizability (per key, with the project's
 * checker), the watch guarantees, acknowledged writes, HashKV and final-state convergence, and
 * members that died on their own. Returns the report; its last line is the summary.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../../src/base/index.ts';
import { checkKvHistory } from '../sim/checkers/linearizability.ts';
import { ChaosCluster } from './chaos-cluster.ts';
import type { ChaosRunOptions } from './chaos-options.ts';
import { BASE_FAULTS } from './chaos-options.ts';
import { checkConvergence, finalWatchSession, readFinalState } from './final-checks.ts';
import { HistoryRecorder, toCheckerHistory } from './history.ts';
import { KvWorkload } from './kv-workload.ts';
import { Nemesis, NemesisLog, runCompactor, type FaultName } from './nemesis.ts';
import { runRestartCycles } from './restart-cycles.ts';
import { buildSlowDiskShim } from './slow-disk/slow-disk.ts';
import {
  checkFinalStateAgainstWatches,
  checkWatchSessions,
  findLostWrites,
} from './watch-checker.ts';
import { WatchWorkload } from './watch-workload.ts';

export interface ChaosRunResult {
  readonly passed: boolean;
  readonly lines: string[];
  readonly longestWriteGapMs: number;
  readonly lostWrites: number;
  readonly linearizable: 'yes' | 'no' | 'unknown';
  readonly watchViolations: number;
  readonly runDirectory: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const OPERATION_TIMEOUT_MS = 3_000;

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const random = new SeededRandom(options.seed);
  const runDirectory = await mkdtemp(join(tmpdir(), 'sigil-chaos-'));
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    options.progress(line);
  };
  say(
    `chaos: scenario ${options.scenario}, ${options.members} members, seed ${options.seed}, run directory ${runDirectory}`,
  );
  const faults: FaultName[] = [...BASE_FAULTS];
  if (options.membership) faults.push('membership');
  const built = await buildSlowDiskShim(runDirectory);
  if (built.shim === null) {
    faults.splice(faults.indexOf('slow-disk'), 1);
    say(`slow-disk fault left out: ${built.reason}`);
  }
  const cluster = await ChaosCluster.start({
    members: options.members,
    runDirectory,
    heartbeatMs: options.heartbeatMs,
    electionMs: options.electionMs,
    slowDisk: built.shim,
    extraArgs: options.extraArgs,
    sigild: options.sigild,
  });
  let passed = false;
  try {
    const result = await exercise(cluster, options, faults, random, say);
    passed = result.passed;
    return { ...result, lines, runDirectory };
  } finally {
    await cluster.stop();
    if (passed && !options.keepDirectory) await rm(runDirectory, { recursive: true, force: true });
    else say(`member logs and data kept in ${runDirectory}`);
  }
}

async function exercise(
  cluster: ChaosCluster,
  options: ChaosRunOptions,
  faults: readonly FaultName[],
  random: SeededRandom,
  say: (line: string) => void,
): Promise<Omit<ChaosRunResult, 'lines' | 'runDirectory'>> {
  const endpoints = cluster.endpoints;
  const history = new HistoryRecorder();
  const log = new NemesisLog();
  const workload = new KvWorkload(
    endpoints,
    history,
    {
      clients: options.clients,
      slots: options.slots,
      operationsPerKey: options.operationsPerKey,
      operationTimeoutMs: OPERATION_TIMEOUT_MS,
      thinkMs: 10,
      mix: { get: 0.4, put: 0.3, cas: 0.3 },
    },
    random.fork(),
  );
  const watchers = new WatchWorkload(
    endpoints,
    {
      watchers: options.watchers,
      slots: options.slots,
      progressRequestMs: 1_000,
      silenceMs: 4_000,
    },
    random.fork(),
    () => history.latestRevision,
  );
  let stopping = false;
  const running = [workload.run(), watchers.run()];
  if (options.compaction) {
    const latest = (): number => history.latestRevision;
    running.push(runCompactor(endpoints, latest, random.fork(), log, () => stopping));
  } else say('compactor off (--no-compaction)');
  const startedMs = Date.now();
  await sleep(1_000);
  const nemesis = new Nemesis(
    cluster,
    { faults, faultMs: { min: 1_000, max: 6_000 }, quietMs: { min: 500, max: 3_000 } },
    random.fork(),
    log,
  );
  const reporter = setInterval(() => {
    const counts = history.counts();
    const elapsedS = Math.round((Date.now() - startedMs) / 1000);
    say(`  ${elapsedS}s: ${counts.ops} ops, ${counts.ok} ok; faults: ${log.summary()}`);
  }, 30_000);
  if (options.scenario === 'chaos') {
    const faultsDone = nemesis.run();
    await sleep(options.timeLimitS * 1000);
    nemesis.stop();
    await faultsDone;
  } else {
    await runRestartCycles(cluster, options.cycles, random.fork(), log, () => false);
  }
  clearInterval(reporter);
  const faultsEndedMs = Date.now();
  // Heal everything and prove the cluster writes again.
  const healProblems: string[] = [];
  cluster.faults.healAll();
  await nemesis.restoreRemovedMembers();
  for (const member of cluster.members.filter((m) => m.removed)) {
    healProblems.push(`member ${member.index} could not be added back after the faults healed`);
  }
  for (const member of cluster.members) {
    cluster.resume(member.index);
    await cluster.setDiskDelay(member.index, 0);
    if (cluster.isRunning(member.index) || member.removed) continue;
    try {
      await cluster.restart(member.index);
    } catch (error) {
      healProblems.push(`member ${member.index} did not restart: ${(error as Error).message}`);
    }
  }
  await sleep(4_000);
  const writesAfterHeal = workload.writeCompletionsMs.filter((ms) => ms > faultsEndedMs + 1_000);
  stopping = true;
  workload.stop();
  watchers.stop();
  await Promise.all(running);
  const active = cluster.members.filter((member) => !member.removed).map((m) => m.endpoint);
  const convergence = await checkConvergence(active, 60_000);
  const finalState = await readFinalState(active);
  for (const [index, endpoint] of active.entries()) {
    watchers.sessions.push(
      await finalWatchSession(
        endpoint,
        index,
        Math.max(1, convergence.compactRevision),
        convergence.revision,
        20_000,
      ),
    );
  }
  // The checks.
  const counts = history.counts();
  const linearizability = checkKvHistory(toCheckerHistory(history.operations), 20_000_000);
  const watch = checkWatchSessions(watchers.sessions);
  const lost = findLostWrites(
    watchers.sessions,
    watch.union,
    history.acknowledgedWrites(),
    finalState.state,
  );
  const finalVsWatch = checkFinalStateAgainstWatches(watch.union, finalState.state);
  for (const [key, final] of finalState.state) {
    if (!workload.attempted.get(key)?.has(final.value)) {
      finalVsWatch.push(`${key} ends ${final.value}@${final.modRevision}, a value nobody wrote`);
    }
  }
  const crashes = cluster.crashes();
  const gap = longestGap(workload.writeCompletionsMs, startedMs, faultsEndedMs);
  const problems = [
    ...healProblems,
    ...convergence.problems,
    ...finalState.problems,
    ...watch.violations,
    ...lost.lost,
    ...finalVsWatch,
    ...crashes,
  ];
  if (writesAfterHeal.length === 0)
    problems.push('no write succeeded after the faults were healed');
  if (linearizability.kind === 'not-linearizable') {
    problems.push(`not linearizable on key ${linearizability.key}: ${linearizability.detail}`);
  }
  if (linearizability.kind === 'unknown') {
    problems.push(`linearizability search exhausted its budget on key ${linearizability.key}`);
  }
  say(`faults: ${log.summary()}`);
  say(`proxy: ${JSON.stringify(cluster.proxyCounters())}`);
  for (const line of log.lines.slice(-20)) say(`  ${line}`);
  for (const problem of problems.slice(0, 40)) say(`VIOLATION ${problem}`);
  if (problems.length > 40) say(`... and ${problems.length - 40} more violations`);
  say(
    `longest write gap: ${gap.lengthMs} ms from ${((gap.startMs - startedMs) / 1000).toFixed(1)}s ` +
      `(writes acknowledged: ${workload.writeCompletionsMs.length})`,
  );
  say(
    `watch: ${watchers.sessions.length} sessions, ${watch.events} events, ${watch.bookmarks} progress notifications, ` +
      `${watch.violations.length} violations (ordered, unique, atomic, reliable, resumable, bookmarkable, agreement)`,
  );
  say(
    `acknowledged writes: ${history.acknowledgedWrites().length}, checked against watches or final state; unverifiable ${lost.unverified}`,
  );
  say(
    `hashkv: ${convergence.problems.length === 0 ? 'all members equal' : 'DIVERGED'} at revision ${convergence.revision} ` +
      `[${convergence.hashes.join(' | ')}]`,
  );
  const linearizable =
    linearizability.kind === 'linearizable'
      ? 'yes'
      : linearizability.kind === 'not-linearizable'
        ? 'no'
        : 'unknown';
  say(
    `ops: ${counts.ops}, ok: ${counts.ok}, failed: ${counts.failed}, indeterminate: ${counts.indeterminate}, ` +
      `linearizable: ${linearizable}, lost acknowledged writes: ${lost.lost.length}`,
  );
  return {
    passed: problems.length === 0,
    longestWriteGapMs: gap.lengthMs,
    lostWrites: lost.lost.length,
    linearizable,
    watchViolations: watch.violations.length,
  };
}

/** The longest stretch within [fromMs, toMs] without a successful write completing, and
 *  where it started (to find the fault that caused it in the log). */
export function longestGap(
  completionsMs: readonly number[],
  fromMs: number,
  toMs: number,
): { lengthMs: number; startMs: number } {
  let longest = { lengthMs: 0, startMs: fromMs };
  let previous = fromMs;
  for (const ms of [...completionsMs.filter((at) => at >= fromMs && at <= toMs), toMs]) {
    if (ms - previous > longest.lengthMs) longest = { lengthMs: ms - previous, startMs: previous };
    previous = ms;
  }
  return longest;
}
