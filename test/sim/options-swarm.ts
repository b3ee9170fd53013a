/**
 * Draws the whole simulated world from one seed (swarm testing, as TigerBeetle's VOPR does): the
 * cluster size, timing, which fault classes are switched on and how hard, and the workload. Each
 * seed is a different mix, so rare combinations get explored without a hand-written list.
 */
import { SeededRandom } from '../../src/base/index.ts';
import type { Mutant } from '../../src/raft/types.ts';

export interface NetworkOptions {
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Probability that a message is dropped. */
  readonly lossRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** Probability that a message is held back far longer than usual (reordering it). */
  readonly lateRate: number;
}

export interface FaultOptions {
  /** Mean time between fault actions during the fault phase. */
  readonly intervalMs: number;
  /** Relative weights of the fault actions; zero switches a class off for this seed. */
  readonly partitionWeight: number;
  readonly crashWeight: number;
  readonly pauseWeight: number;
  readonly membershipWeight: number;
  readonly transferWeight: number;
  readonly networkBurstWeight: number;
  /** Probability that a crash takes down a majority at once (a power cut) rather than one. */
  readonly correlatedCrashRate: number;
  /** Probability that a crash leaves a torn prefix of the unsynced writes. */
  readonly tornWriteRate: number;
  readonly faultDurationMsMax: number;
}

/** Which disk the members write: the in-memory model (sim-disk.ts) or the real WAL and
 *  Snapshotter on a faulty file system (wal-disk.ts). */
export type DiskKind = 'model' | 'wal';
export const DISK_KINDS: readonly DiskKind[] = ['model', 'wal'];

export interface DiskOptions {
  readonly kind: DiskKind;
  /** WAL segment size: small, so cuts and releases happen often (and the faulty file system
   *  copies a whole file per fsync, so big segments would only cost time). */
  readonly walSegmentBytes: number;
  /** Probability that a crash also flips a bit of synced WAL data (WAL disk only). */
  readonly corruptionRate: number;
}

export interface SimOptions {
  readonly seed: number;
  readonly mutant: Mutant | null;
  readonly memberCount: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly tickMs: number;
  /** Each member's tick period is tickMs * (1 + skew) with skew drawn in [-max, +max]. */
  readonly tickSkewMax: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /** Applied entries between state-machine snapshots; 0 never snapshots. */
  readonly snapshotEveryEntries: number;
  /** Entries kept behind a snapshot when the log is compacted (small: followers need snapshots). */
  readonly compactionMarginEntries: number;
  readonly network: NetworkOptions;
  readonly faults: FaultOptions;
  readonly clientCount: number;
  readonly keyCount: number;
  readonly operationCount: number;
  readonly thinkMsMax: number;
  readonly clientTimeoutMs: number;
  /** The fault phase ends when the workload is done or after this long, whichever is first. */
  readonly faultPhaseMsMax: number;
  /** After healing, a leader must commit within this many of its ticks. */
  readonly livenessTicksMax: number;
  readonly disk: DiskOptions;
}

export interface SwarmOverrides {
  readonly memberCount?: number;
  readonly mutant?: Mutant | null;
  readonly disk?: DiskKind;
}

const pick = <T>(random: SeededRandom, choices: readonly T[]): T =>
  choices[random.int(choices.length)];

/** A weight that is zero for roughly a third of seeds, so each class is also tested alone. */
const weight = (random: SeededRandom): number => (random.chance(0.35) ? 0 : 1 + random.int(4));

export function drawSimOptions(seed: number, overrides: SwarmOverrides = {}): SimOptions {
  const random = new SeededRandom(seed);
  const memberCount = overrides.memberCount ?? pick(random, [1, 3, 3, 3, 3, 5, 5, 7]);
  const tickMs = pick(random, [5, 10, 10, 20]);
  const electionTicks = pick(random, [5, 10, 10, 20]);
  const heartbeatTicks = Math.max(1, Math.floor(electionTicks / pick(random, [3, 5, 10])));
  // A round trip must fit in an election timeout several times over, or no election could
  // ever finish: liveness is only owed to a cluster whose timing allows it.
  const electionMs = tickMs * electionTicks;
  const delayMinMs = pick(random, [0, 1, 1, 2]);
  const delayMaxMs = Math.min(
    delayMinMs + pick(random, [1, 3, 5, 10, 30]),
    Math.floor(electionMs / 8),
  );
  const network: NetworkOptions = {
    delayMinMs,
    delayMaxMs,
    lossRate: pick(random, [0, 0, 0.01, 0.05, 0.1, 0.3]),
    duplicateRate: pick(random, [0, 0, 0.01, 0.05, 0.2]),
    lateRate: pick(random, [0, 0.01, 0.05]),
  };
  const faults: FaultOptions = {
    intervalMs: pick(random, [50, 100, 200, 400]),
    partitionWeight: weight(random),
    crashWeight: weight(random),
    pauseWeight: weight(random),
    membershipWeight: weight(random),
    transferWeight: weight(random),
    networkBurstWeight: weight(random),
    correlatedCrashRate: pick(random, [0, 0.1, 0.3]),
    tornWriteRate: pick(random, [0, 0.3, 0.7]),
    faultDurationMsMax: pick(random, [100, 300, 1000]),
  };
  const drawn: Omit<SimOptions, 'disk'> = {
    seed,
    mutant: overrides.mutant ?? null,
    memberCount,
    electionTicks,
    heartbeatTicks,
    tickMs,
    tickSkewMax: pick(random, [0, 0.05, 0.2, 0.4]),
    // 1 byte still sends one entry per message: the slow path where a follower acknowledges a
    // prefix of what the leader has, which the commit rules must handle.
    maxSizePerMsgBytes: pick(random, [1, 256, 1 << 20]),
    maxInflightMsgs: pick(random, [1, 4, 256]),
    snapshotEveryEntries: pick(random, [0, 5, 20, 100]),
    compactionMarginEntries: pick(random, [0, 2, 10]),
    network,
    faults,
    clientCount: 1 + random.int(5),
    keyCount: 1 + random.int(4),
    operationCount: 100 + random.int(201),
    thinkMsMax: pick(random, [0, 5, 20]),
    clientTimeoutMs: tickMs * electionTicks * pick(random, [2, 4]),
    faultPhaseMsMax: 20_000,
    livenessTicksMax: electionTicks * 30,
  };
  // Drawn last, so every other choice of a seed is the same whichever disk it runs on.
  const kind: DiskKind = random.chance(0.5) ? 'wal' : 'model';
  const disk: DiskOptions = {
    kind: overrides.disk ?? kind,
    walSegmentBytes: pick(random, [4096, 4096, 16384]),
    corruptionRate: pick(random, [0, 0.1, 0.3]),
  };
  return { ...drawn, disk };
}

export function describeSimOptions(options: SimOptions): string {
  const { network, faults } = options;
  return [
    `members=${options.memberCount} tick=${options.tickMs}ms±${options.tickSkewMax}`,
    `election=${options.electionTicks} heartbeat=${options.heartbeatTicks}`,
    `msg=${options.maxSizePerMsgBytes}B inflight=${options.maxInflightMsgs}`,
    `snapshotEvery=${options.snapshotEveryEntries} margin=${options.compactionMarginEntries}`,
    `delay=${network.delayMinMs}-${network.delayMaxMs}ms loss=${network.lossRate}`,
    `dup=${network.duplicateRate} late=${network.lateRate}`,
    `faults/${faults.intervalMs}ms partition=${faults.partitionWeight} crash=${faults.crashWeight}`,
    `pause=${faults.pauseWeight} membership=${faults.membershipWeight}`,
    `transfer=${faults.transferWeight} burst=${faults.networkBurstWeight}`,
    `powercut=${faults.correlatedCrashRate} torn=${faults.tornWriteRate}`,
    `clients=${options.clientCount} keys=${options.keyCount} ops=${options.operationCount}`,
    `timeout=${options.clientTimeoutMs}ms`,
    options.disk.kind === 'model'
      ? 'disk=model'
      : `disk=wal segment=${options.disk.walSegmentBytes}B rot=${options.disk.corruptionRate}`,
  ].join(' ');
}
