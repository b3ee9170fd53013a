/**
 * Draws a member world from one seed (swarm testing): cluster size, timing, how often members
 * snapshot, how the network misbehaves, which faults are on and how a crash treats the
 * backend, and the size of each workload. Each seed is a different mix.
 */
import { SeededRandom } from '../../../src/base/index.ts';
import type { NetworkOptions } from '../options-swarm.ts';

export type BackendCrashModel = 'synced' | 'kept' | 'rolled-back' | 'mixed';

export interface MemberWorldOptions {
  readonly seed: number;
  readonly memberCount: 3 | 5;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  /** Per-process clock rate is 1 ± up to this. */
  readonly clockDriftMax: number;
  readonly snapshotCount: number;
  readonly snapshotCatchUpEntries: number;
  readonly walSegmentBytes: number;
  readonly network: NetworkOptions;
  /** Mean time between fault actions; 0 switches the nemesis off. */
  readonly faultIntervalMs: number;
  readonly partitionWeight: number;
  readonly crashWeight: number;
  readonly burstWeight: number;
  readonly transferWeight: number;
  readonly powerCutRate: number;
  readonly tornWriteRate: number;
  /** What a crash does to the state machine's backend: back to its last sync (all LMDB
   *  promises; the WAL replays the rest), always kept (a durable LMDB), rolled back to its last
   *  checkpoint or sync (LMDB commits that had not reached the disk), or drawn per crash. */
  readonly backendOnCrash: BackendCrashModel;
  readonly faultDurationMsMax: number;
  readonly kvClients: number;
  readonly kvKeys: number;
  readonly kvOperations: number;
  readonly serializableReadRate: number;
  readonly leaseClients: number;
  readonly leasesPerClient: number;
  readonly watchers: number;
  readonly clientTimeoutMs: number;
  readonly faultPhaseMsMax: number;
}

const pick = <T>(random: SeededRandom, choices: readonly T[]): T =>
  choices[random.int(choices.length)];

const weight = (random: SeededRandom): number => (random.chance(0.3) ? 0 : 1 + random.int(4));

export function drawMemberWorldOptions(seed: number): MemberWorldOptions {
  const random = new SeededRandom(seed ^ 0x3e3be3);
  const heartbeatMs = pick(random, [10, 20, 20, 50]);
  const electionMs = heartbeatMs * pick(random, [5, 10, 10]);
  // A round trip must fit in an election timeout several times over, or liveness is not owed.
  const delayMinMs = pick(random, [0, 1, 2]);
  const delayMaxMs = Math.min(delayMinMs + pick(random, [1, 3, 5, 10]), Math.floor(electionMs / 8));
  return {
    seed,
    memberCount: pick(random, [3, 3, 3, 5] as const),
    heartbeatMs,
    electionMs,
    clockDriftMax: pick(random, [0, 0.01, 0.05]),
    snapshotCount: pick(random, [10, 25, 100, 1000]),
    snapshotCatchUpEntries: pick(random, [0, 3, 20]),
    walSegmentBytes: pick(random, [8 * 1024, 64 * 1024]),
    network: {
      delayMinMs,
      delayMaxMs,
      lossRate: pick(random, [0, 0, 0.01, 0.05, 0.1]),
      duplicateRate: pick(random, [0, 0, 0.01, 0.05]),
      lateRate: pick(random, [0, 0.01, 0.05]),
    },
    faultIntervalMs: pick(random, [0, 100, 200, 400, 400]),
    partitionWeight: weight(random),
    crashWeight: weight(random),
    burstWeight: weight(random),
    transferWeight: weight(random),
    powerCutRate: pick(random, [0, 0.1, 0.3]),
    tornWriteRate: pick(random, [0, 0.3, 0.7]),
    backendOnCrash: pick(random, ['synced', 'kept', 'rolled-back', 'mixed'] as const),
    faultDurationMsMax: pick(random, [100, 300, 1000]),
    kvClients: 1 + random.int(4),
    kvKeys: 1 + random.int(3),
    kvOperations: 40 + random.int(80),
    serializableReadRate: pick(random, [0, 0.1, 0.3]),
    leaseClients: pick(random, [0, 1, 2, 2]),
    leasesPerClient: 2 + random.int(3),
    watchers: pick(random, [0, 1, 2, 3]),
    clientTimeoutMs: electionMs * pick(random, [3, 6]),
    faultPhaseMsMax: 6_000,
  };
}

export function describeMemberWorldOptions(options: MemberWorldOptions): string {
  const { network } = options;
  return [
    `members=${options.memberCount} heartbeat=${options.heartbeatMs}ms election=${options.electionMs}ms`,
    `drift=${options.clockDriftMax} snapshotCount=${options.snapshotCount}`,
    `catchUp=${options.snapshotCatchUpEntries} segment=${options.walSegmentBytes}B`,
    `delay=${network.delayMinMs}-${network.delayMaxMs}ms loss=${network.lossRate}`,
    `dup=${network.duplicateRate} late=${network.lateRate}`,
    `faults/${options.faultIntervalMs}ms partition=${options.partitionWeight}`,
    `crash=${options.crashWeight} burst=${options.burstWeight} transfer=${options.transferWeight}`,
    `powercut=${options.powerCutRate} torn=${options.tornWriteRate} backend=${options.backendOnCrash}`,
    `kv=${options.kvClients}x${options.kvOperations}/${options.kvKeys}keys`,
    `serializable=${options.serializableReadRate} leases=${options.leaseClients}x${options.leasesPerClient}`,
    `watchers=${options.watchers} timeout=${options.clientTimeoutMs}ms`,
  ].join(' ');
}
