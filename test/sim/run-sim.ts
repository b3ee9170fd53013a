/**
 * The simulator's command line:
 *
 *   npm run sim -- --seeds N [--start S] [--mutant NAME] [--members M] [--disk model|wal] [--trace]
 *   npm run sim -- --world member --seeds N [--start S] [--trace]
 *
 * `--world raft` (the default) simulates the raft core alone; `--world member` runs real
 * SigilMembers (test/sim/member-world/).
 *
 * runs seeds S..S+N-1 and prints, for each failing seed, the violated property and the command
 * that replays it. The last line is always the summary; the exit code is 1 when any seed failed.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { MUTANTS, type Mutant } from '../../src/raft/index.ts';
import { DISK_KINDS, type DiskKind } from './options-swarm.ts';
import { simulateSeeds, type SimResult } from './simulate.ts';
import type { WorkerRequest } from './sim-worker.ts';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run sim -- --seeds N [--start S] [--mutant NAME] [--members M] [--trace] [--jobs J] [--world raft|member] [--disk model|wal]\n` +
      `mutants: ${MUTANTS.join(', ')}\n`,
  );
  process.exit(2);
}

function parseNatural(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) usage(`--${name} must be a natural number`);
  return value;
}

/** Runs `seeds` on `jobs` worker threads (results in seed order), or inline for one job. */
async function runSeeds(
  seeds: number[],
  jobs: number,
  request: Omit<WorkerRequest, 'seeds'>,
): Promise<SimResult[]> {
  if (request.world === 'member' && (jobs <= 1 || seeds.length < 2 * jobs)) {
    // Loaded only when asked for: the raft-core runs need none of the member's code.
    const { simulateMemberWorlds } = await import('./member-world/simulate-member-world.ts');
    return simulateMemberWorlds(seeds, request.keepTrace);
  }
  if (jobs <= 1 || seeds.length < 2 * jobs) {
    return await simulateSeeds(seeds, {
      mutant: request.mutant,
      keepTrace: request.keepTrace,
      ...(request.memberCount === undefined ? {} : { memberCount: request.memberCount }),
      ...(request.disk === undefined ? {} : { disk: request.disk }),
    });
  }
  // Interleaved slices balance the load: neighbouring seeds are unrelated worlds anyway.
  const slices = Array.from({ length: jobs }, (_, job) => seeds.filter((_, i) => i % jobs === job));
  const sliced = await Promise.all(
    slices.map(
      (slice) =>
        new Promise<SimResult[]>((resolve, reject) => {
          const data: WorkerRequest = { ...request, seeds: slice };
          // A worker starts without the parent's loader hooks, so it registers tsx itself
          // before importing the TypeScript entry point.
          const entry = JSON.stringify(new URL('./sim-worker.ts', import.meta.url).href);
          const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`;
          const worker = new Worker(bootstrap, { eval: true, workerData: data });
          worker.once('message', (results: SimResult[]) => resolve(results));
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`simulator worker exited with ${code}`));
          });
        }),
    ),
  );
  const results: SimResult[] = [];
  for (let i = 0; i < seeds.length; i++) results.push(sliced[i % jobs][Math.floor(i / jobs)]);
  return results;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        mutant: { type: 'string' },
        members: { type: 'string' },
        trace: { type: 'boolean', default: false },
        jobs: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        world: { type: 'string', default: 'raft' },
        disk: { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values;
  const seeds = parseNatural(values.seeds, 'seeds', 1);
  const start = parseNatural(values.start, 'start', 0);
  const memberCount =
    values.members === undefined ? undefined : parseNatural(values.members, 'members', 3);
  if (memberCount !== undefined && ![1, 3, 5, 7].includes(memberCount)) {
    usage('--members must be 1, 3, 5 or 7');
  }
  const world = values.world;
  if (world !== 'raft' && world !== 'member') usage('--world must be raft or member');
  if (world === 'member' && (values.mutant !== undefined || memberCount !== undefined)) {
    usage('--mutant and --members apply to --world raft only');
  }
  // Absent: each seed draws its disk (half model, half the real WAL on a faulty file system).
  const disk = values.disk as DiskKind | undefined;
  if (disk !== undefined && !DISK_KINDS.includes(disk)) usage('--disk must be model or wal');
  if (world === 'member' && disk !== undefined) usage('--disk applies to --world raft only');
  let mutant: Mutant | null = null;
  if (values.mutant !== undefined) {
    if (!(MUTANTS as readonly string[]).includes(values.mutant))
      usage(`unknown mutant ${values.mutant}`);
    mutant = values.mutant as Mutant;
  }
  const keepTrace = values.trace === true;
  let steps = 0;
  let opsChecked = 0;
  let violations = 0;
  let unknown = 0;
  const startedMs = performance.now();
  const defaultJobs = keepTrace ? 1 : Math.min(2, availableParallelism());
  const jobs = parseNatural(values.jobs, 'jobs', defaultJobs);
  const seedList = Array.from({ length: seeds }, (_, i) => start + i);
  const results = await runSeeds(seedList, Math.max(1, jobs), {
    mutant,
    memberCount,
    keepTrace,
    world,
    ...(disk === undefined ? {} : { disk }),
  });
  for (const result of results) {
    const seed = result.seed;
    steps += result.steps;
    opsChecked += result.opsChecked;
    if (result.linearizabilityUnknown) {
      unknown++;
      process.stdout.write(`seed ${seed}: linearizability search budget exhausted (no verdict)\n`);
    }
    if (keepTrace && result.trace !== null) {
      for (const line of result.trace) process.stdout.write(`${line}\n`);
    }
    if (result.violations.length === 0) continue;
    violations++;
    const first = result.violations[0];
    const replay = [
      `npm run sim --${world === 'member' ? ' --world member' : ''} --seeds 1`,
      `--start ${seed}`,
      ...(mutant === null ? [] : [`--mutant ${mutant}`]),
      ...(memberCount === undefined ? [] : [`--members ${memberCount}`]),
      ...(disk === undefined ? [] : [`--disk ${disk}`]),
      '--trace',
    ].join(' ');
    process.stdout.write(
      `FAIL seed ${seed}: ${first.property}: ${first.detail}\n` +
        `  world: ${result.description}\n` +
        `  at step ${result.steps}, ${result.virtualMs} ms virtual\n` +
        `  replay: ${replay}\n`,
    );
  }
  const elapsedMs = performance.now() - startedMs;
  if (values.quiet !== true) {
    process.stderr.write(
      `${((seeds * 60_000) / Math.max(elapsedMs, 1)).toFixed(0)} seeds/min` +
        `${unknown > 0 ? `, ${unknown} without a linearizability verdict` : ''}\n`,
    );
  }
  process.stdout.write(
    `seeds: ${seeds}, steps: ${steps}, client ops checked: ${opsChecked}, violations: ${violations}\n`,
  );
  process.exitCode = violations > 0 ? 1 : 0;
}

await main();
