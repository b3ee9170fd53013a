/**
 * A worker thread that runs a slice of the seeds for run-sim.ts, so a run uses every core.
 * Seeds are independent worlds, so splitting them changes nothing but the wall-clock time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Mutant } from '../../src/raft/index.ts';
import { simulate, type SimResult } from './simulate.ts';

export interface WorkerRequest {
  readonly seeds: readonly number[];
  readonly mutant: Mutant | null;
  readonly memberCount: number | undefined;
  readonly keepTrace: boolean;
}

const request = workerData as WorkerRequest;
const results: SimResult[] = request.seeds.map((seed) =>
  simulate({
    seed,
    mutant: request.mutant,
    keepTrace: request.keepTrace,
    ...(request.memberCount === undefined ? {} : { memberCount: request.memberCount }),
  }),
);
parentPort?.postMessage(results);
