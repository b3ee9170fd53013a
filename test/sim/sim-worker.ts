/**
 * A worker thread that runs a slice of the seeds for run-sim.ts, so a run uses every core.
 * Seeds are independent worlds, so splitting them changes nothing but the wall-clock time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Mutant } from '../../src/raft/index.ts';
import type { DiskKind } from './options-swarm.ts';
import { simulateSeeds, type SimResult } from './simulate.ts';

export interface WorkerRequest {
  readonly seeds: readonly number[];
  readonly mutant: Mutant | null;
  readonly memberCount: number | undefined;
  readonly keepTrace: boolean;
  /** Absent or 'raft': the raft-core simulator; 'member': real members (member-world/). */
  readonly world?: 'raft' | 'member';
  /** Forces the raft world's disk (model or real WAL); absent: drawn per seed. */
  readonly disk?: DiskKind;
}

const request = workerData as WorkerRequest;
const results: SimResult[] =
  request.world === 'member'
    ? await (
        await import('./member-world/simulate-member-world.ts')
      ).simulateMemberWorlds(request.seeds, request.keepTrace)
    : await simulateSeeds(request.seeds, {
        mutant: request.mutant,
        keepTrace: request.keepTrace,
        ...(request.memberCount === undefined ? {} : { memberCount: request.memberCount }),
        ...(request.disk === undefined ? {} : { disk: request.disk }),
      });
parentPort?.postMessage(results);
