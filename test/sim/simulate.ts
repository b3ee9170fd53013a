/**
 * Runs one seed: draws the world, builds the cluster, runs the fault phase with clients and the
 * nemesis, heals everything and requires the cluster to commit again within a tick budget
 * (liveness), reads every key once more, and finally checks the clients' history for
 * linearizability. Safety invariants are checked as every step happens; the first violation
 * ends the run.
 *
 * A run is async only because of the WAL disk: after each world event the run awaits the
 * disks' I/O (microtasks only, see wal-disk.ts), so storage work always completes between two
 * events, at points fixed by the seed.
 */
import { asMemberId, assert, BugError, SeededRandom } from '../../src/base/index.ts';
import type { ConfChange, ConfState, Message, Mutant } from '../../src/raft/index.ts';
import { InvariantChecker, type Violation } from './checkers/invariants.ts';
import { checkKvHistory } from './checkers/linearizability.ts';
import { Nemesis, type NemesisHost } from './nemesis.ts';
import { bootstrapDurableState } from './raft-adapter.ts';
import {
  describeSimOptions,
  drawSimOptions,
  type DiskKind,
  type SimOptions,
} from './options-swarm.ts';
import { SimDisk, type MemberDisk } from './sim-disk.ts';
import { SimMember, type ClientReply, type ClientRequest, type MemberHost } from './sim-member.ts';
import { SimNetwork } from './sim-network.ts';
import { TraceRecorder } from './trace.ts';
import { WalDisk } from './wal-disk.ts';
import { Workload, type WorkloadHost } from './workload.ts';
import { World } from './world.ts';

export interface SimulateRequest {
  readonly seed: number;
  readonly mutant?: Mutant | null;
  readonly memberCount?: number;
  /** Forces the disk kind (the swarm draws one per seed otherwise). */
  readonly disk?: DiskKind;
  readonly keepTrace?: boolean;
}

export interface SimResult {
  readonly seed: number;
  readonly description: string;
  readonly steps: number;
  readonly virtualMs: number;
  readonly opsChecked: number;
  readonly violations: readonly Violation[];
  /** True when the linearizability search hit its budget (no verdict). */
  readonly linearizabilityUnknown: boolean;
  readonly traceHash: string;
  readonly trace: readonly string[] | null;
  /** How often each kind of world event happened (crash, partition, snapshot, ...). */
  readonly stats: Readonly<Record<string, number>>;
}

/** A run that neither finishes nor fails within this many events is itself a failure. */
const STEPS_MAX = 5_000_000;
const PHASE_CHECK_MS = 50;

const clientEndpoint = (clientId: number): number => -(clientId + 1);

class Simulation implements MemberHost, WorkloadHost, NemesisHost {
  readonly world: World;
  readonly network: SimNetwork;
  readonly checker = new InvariantChecker();
  readonly members: SimMember[] = [];
  readonly random: SeededRandom;
  readonly workload: Workload;
  private readonly nemesis: Nemesis;
  private readonly byId = new Map<number, SimMember>();
  private latestConfiguration: ConfState;
  private latestConfigurationIndex = 0;
  private phase: 'faults' | 'liveness' | 'final-reads' = 'faults';
  private readonly probes = new Set<number>();
  private nextProbeId = 1_000_000_000;
  private committedAfterHeal = false;
  private readonly tickSkewRandom: SeededRandom;
  private readonly diskRandom: SeededRandom;
  private readonly disks: MemberDisk[] = [];
  /** Members whose disk got injected corruption and that have not restarted since. */
  private readonly doomed = new Set<number>();
  readonly stats = new Map<string, number>();

  constructor(
    readonly options: SimOptions,
    keepTrace: boolean,
  ) {
    const root = new SeededRandom(options.seed ^ 0x5eed5eed);
    this.world = new World(root.fork(), new TraceRecorder(keepTrace));
    this.network = new SimNetwork(this.world, root.fork(), options.network);
    this.random = root.fork();
    this.tickSkewRandom = root.fork();
    this.workload = new Workload(this, options, root.fork());
    this.nemesis = new Nemesis(this, options.faults, root.fork());
    // Forked last, so a seed draws everything else the same on either disk.
    this.diskRandom = root.fork();
    const founders = Array.from({ length: options.memberCount }, (_, i) =>
      asMemberId(BigInt(i + 1)),
    );
    this.latestConfiguration = { voters: founders, learners: [] };
    for (let i = 0; i < options.memberCount; i++) {
      const disk = this.createDisk();
      disk.format(bootstrapDurableState(founders));
      this.createMember(this.latestConfiguration, disk);
    }
  }

  /** A fresh, empty disk for the next member to be created. */
  private createDisk(): MemberDisk {
    const disk: MemberDisk =
      this.options.disk.kind === 'wal'
        ? new WalDisk({
            random: this.diskRandom.fork(),
            segmentBytes: this.options.disk.walSegmentBytes,
            memberId: this.members.length + 1,
          })
        : new SimDisk();
    this.disks.push(disk);
    return disk;
  }

  /** Every disk's I/O in flight, or null when all are idle (checked without awaiting, so
   *  model-disk runs never leave the synchronous path); rejects with a storage failure. */
  private diskWork(): Promise<unknown> | null {
    let pending: Promise<void>[] | null = null;
    for (const disk of this.disks) {
      const work = disk.settled();
      if (work !== null) (pending ??= []).push(work);
    }
    return pending === null ? null : Promise.all(pending);
  }

  private createMember(founders: ConfState, disk: MemberDisk): SimMember {
    const numericId = this.members.length + 1;
    const skew = this.options.tickSkewMax * (2 * this.tickSkewRandom.float() - 1);
    const tickMs = Math.max(1, Math.round(this.options.tickMs * (1 + skew)));
    const member = new SimMember(numericId, tickMs, this, disk, founders);
    this.members.push(member);
    this.byId.set(numericId, member);
    return member;
  }

  async run(): Promise<void> {
    this.note(`world ${describeSimOptions(this.options)}`);
    await this.diskWork();
    for (const member of this.members) {
      const failure = member.start();
      assert(failure === null, `a freshly formatted disk is readable (${failure})`);
    }
    this.workload.start();
    this.nemesis.start();
    this.world.schedule(PHASE_CHECK_MS, () => this.checkFaultPhase());
    const timeLimitMs = this.options.faultPhaseMsMax + 3 * this.livenessBudgetMs() + 10_000;
    while (this.checker.violations.length === 0) {
      try {
        if (!this.world.step()) break;
        const work = this.diskWork();
        if (work !== null) await work;
      } catch (error) {
        this.checker.violations.push(describeException(error));
        break;
      }
      if (this.world.steps > STEPS_MAX || this.world.nowMs > timeLimitMs) {
        this.checker.violations.push({
          property: 'liveness',
          detail: `the run did not finish within ${STEPS_MAX} steps and ${timeLimitMs} ms`,
        });
        break;
      }
    }
    if (this.checker.violations.length === 0 && !this.world.stopped) {
      this.checker.violations.push({ property: 'liveness', detail: 'the world ran out of events' });
    }
    this.workload.finish();
  }

  private livenessBudgetMs(): number {
    const slowestTickMs = Math.max(
      ...this.members.map((member) => member.tickMs),
      this.options.tickMs,
    );
    return this.options.livenessTicksMax * slowestTickMs;
  }

  private checkFaultPhase(): void {
    if (this.phase !== 'faults') return;
    const done = this.workload.regularClientsDone;
    if (done || this.world.nowMs >= this.options.faultPhaseMsMax) this.heal();
    else this.world.schedule(PHASE_CHECK_MS, () => this.checkFaultPhase());
  }

  /** Ends the fault phase: from here the cluster must elect a leader and commit in time. */
  private heal(): void {
    this.phase = 'liveness';
    this.nemesis.healAll();
    const deadlineMs = this.world.nowMs + this.livenessBudgetMs();
    const probeEveryMs = this.options.electionTicks * this.options.tickMs;
    const probe = (): void => {
      if (this.committedAfterHeal) return;
      if (this.world.nowMs > deadlineMs) {
        if (this.excuseLiveness()) return;
        this.checker.violations.push({
          property: 'liveness',
          detail:
            `no leader committed within ${this.options.livenessTicksMax} ticks after healing; ` +
            this.describeMembers(),
        });
        return;
      }
      const leader = this.leader();
      if (leader !== null) {
        const requestId = this.nextProbeId++;
        this.probes.add(requestId);
        const result = leader.proposeProbe(requestId);
        this.note(
          `probe ${requestId} at ${leader.numericId}: ${result.ok ? 'proposed' : result.reason}`,
        );
      }
      this.world.schedule(probeEveryMs, probe);
    };
    probe();
  }

  onProbeApplied(member: SimMember, requestId: number): void {
    if (this.committedAfterHeal || !this.probes.has(requestId)) return;
    this.committedAfterHeal = true;
    this.note(`probe ${requestId} committed (applied at ${member.numericId})`);
    this.phase = 'final-reads';
    const deadlineMs = this.world.nowMs + this.livenessBudgetMs();
    this.workload.startFinalReads(() => {
      this.note('final reads done');
      this.world.stopped = true;
    });
    this.world.schedule(deadlineMs - this.world.nowMs, () => {
      if (this.world.stopped || this.excuseLiveness()) return;
      this.checker.violations.push({
        property: 'liveness',
        detail:
          'the final reads did not complete within the liveness budget after healing; ' +
          this.describeMembers(),
      });
    });
  }

  /**
   * Liveness is owed only while a quorum can still form among members with readable disks:
   * members whose disk failed (injected corruption) are gone for good, like a dead disk in
   * production. A member elects and commits by the configuration it applied, which may lag
   * or lead the others' (a removal it holds but does not know is committed), and a member
   * whose configuration lost its quorum cannot help the others either (it refuses votes to
   * shorter logs). So once a disk failed, liveness is excused if the newest configuration or
   * any living member's lacks a readable majority. Consulted only when liveness already failed,
   * and only in seeds that lost a disk, so it cannot hide a liveness bug elsewhere.
   */
  private excuseLiveness(): boolean {
    const failed = new Set(
      this.members.filter((member) => member.state === 'failed').map((m) => m.numericId),
    );
    if (failed.size === 0) return false;
    const living = this.members.filter((m) => m.state !== 'failed' && m.state !== 'removed');
    const configurations = [this.latestConfiguration, ...living.map((m) => m.configuration)];
    if (configurations.every((configuration) => hasHealthyMajority(configuration, failed))) {
      return false;
    }
    this.note(
      `liveness not owed: a configuration in use lost its quorum to failed disks ${[...failed]}`,
    );
    this.world.stopped = true;
    return true;
  }

  /** Each member's state, for liveness reports. */
  describeMembers(): string {
    return this.members.map((member) => member.describe()).join('; ');
  }

  /** Records a world event in the trace and counts it by its first word (fault coverage). */
  note(line: string): void {
    this.world.trace.record(this.world.nowMs, line);
    const words = line.split(' ', 2);
    const kind = words[0] === 'partition' ? words.join(' ') : words[0];
    this.stats.set(kind, (this.stats.get(kind) ?? 0) + 1);
    if (line.includes('(torn)'))
      this.stats.set('torn-write', (this.stats.get('torn-write') ?? 0) + 1);
    if (line.includes('(bit rot injected)'))
      this.stats.set('bit-rot', (this.stats.get('bit-rot') ?? 0) + 1);
  }

  leader(): SimMember | null {
    let best: SimMember | null = null;
    let bestTerm = -1;
    for (const member of this.members) {
      if (!member.isUp || member.role !== 'leader') continue;
      const term = member.term();
      if (term > bestTerm) {
        best = member;
        bestTerm = term;
      }
    }
    return best;
  }

  configuration(): ConfState {
    return this.latestConfiguration;
  }

  /** Clients keep their endpoint list in sync with the membership, as etcd clients do. */
  memberIds(): readonly number[] {
    const { voters, learners } = this.latestConfiguration;
    return [...voters, ...learners]
      .map(Number)
      .filter((id) => this.byId.get(id)?.state !== 'removed');
  }

  crash(member: SimMember, tornWrite: boolean): void {
    const corrupt =
      this.options.disk.kind === 'wal' &&
      this.diskRandom.chance(this.options.disk.corruptionRate) &&
      this.quorumSurvivesLosing(member);
    const report = member.crash(tornWrite, corrupt);
    if (report.corrupted) this.doomed.add(member.numericId);
    this.note(`crash ${member.numericId}: ${report.description}`);
  }

  /** Whether every configuration in play (the newest, and each member's own) keeps a readable
   *  majority if `member`'s disk fails too. Corruption is injected only then, so most
   *  corrupted seeds still owe liveness (membership changes later may still break it). */
  private quorumSurvivesLosing(member: SimMember): boolean {
    const lost = new Set([...this.doomed, member.numericId]);
    for (const other of this.members) if (other.state === 'failed') lost.add(other.numericId);
    const configurations = [this.latestConfiguration];
    for (const other of this.members) {
      if (!lost.has(other.numericId) && other.state !== 'removed') {
        configurations.push(other.configuration);
      }
    }
    return configurations.every((configuration) => hasHealthyMajority(configuration, lost));
  }

  restart(member: SimMember): void {
    const failure = member.start();
    this.doomed.delete(member.numericId);
    if (failure !== null) {
      // Detected corruption (wal-disk.ts checks it is the injected flip): a dead disk.
      this.note(`disk-failed ${member.numericId}: stays down for good: ${failure}`);
      return;
    }
    this.note(`restart ${member.numericId} (incarnation ${member.incarnation})`);
  }

  addMember(asLearner: boolean): SimMember | null {
    const leader = this.leader();
    if (leader === null) return null;
    const member = this.createMember({ voters: [], learners: [] }, this.createDisk());
    const failure = member.start();
    assert(failure === null, `an empty disk is readable (${failure})`);
    const change: ConfChange = {
      type: asLearner ? 'add-learner' : 'add-voter',
      memberId: member.id,
      context: new Uint8Array(0),
    };
    const result = leader.proposeConfChange(change);
    this.note(`add ${change.type} ${member.numericId}: ${result.ok ? 'proposed' : result.reason}`);
    if (result.ok) return member;
    // Never proposed, so never a member: it leaves the world.
    member.remove();
    return null;
  }

  onConfChangeApplied(member: SimMember, change: ConfChange, confState: ConfState): void {
    const index = member.appliedIndex;
    if (index > this.latestConfigurationIndex) {
      this.latestConfigurationIndex = index;
      this.latestConfiguration = confState;
    }
    if (change.type !== 'remove-member' || change.memberId !== member.id) return;
    // The process keeps running: it is no longer promotable, so it cannot disrupt, and exiting
    // (as etcd does after a delay) could leave the remaining voters unable to learn that the
    // removal committed; see FINDINGS.md.
    this.note(`member ${member.numericId} applied its own removal`);
  }

  sendToPeer(from: SimMember, message: Message): void {
    const target = this.byId.get(Number(message.to));
    const incarnation = from.incarnation;
    const isSnapshot = message.type === 'MsgSnap';
    // Feedback to the sender is deferred: it is in the middle of handling a Ready.
    const reportLater = (succeeded: boolean, partitioned: boolean): void => {
      this.world.schedule(0, () => {
        if (from.incarnation !== incarnation || !from.isUp) return;
        if (partitioned) from.reportUnreachable(message.to);
        if (isSnapshot) from.reportSnapshot(message.to, succeeded, incarnation);
      });
    };
    if (target === undefined || target.state === 'removed') {
      if (isSnapshot) reportLater(false, false);
      return;
    }
    this.network.send(
      from.numericId,
      target.numericId,
      () => {
        this.world.trace.record(this.world.nowMs, describeDelivery(message));
        const accepted = target.deliverPeerMessage(message);
        if (isSnapshot) reportLater(accepted, false);
      },
      (reason) => reportLater(false, reason === 'partition'),
    );
  }

  replyToClient(from: SimMember, reply: ClientReply): void {
    this.network.send(
      from.numericId,
      clientEndpoint(reply.clientId),
      () => this.workload.onReply(reply),
      () => {},
      false,
    );
  }

  sendRequest(member: number, request: ClientRequest): void {
    const target = this.byId.get(member);
    if (target === undefined) return;
    this.network.send(
      clientEndpoint(request.clientId),
      member,
      () => {
        if (target.receiveClientRequest(request)) return;
        // Connection refused: the client learns at once that nothing was proposed.
        this.world.schedule(1, () =>
          this.workload.onReply({
            requestId: request.requestId,
            clientId: request.clientId,
            outcome: { ok: false, reason: 'unavailable', leaderHint: -1 },
          }),
        );
      },
      () => {},
      false,
    );
  }

  onAcknowledged(index: number, term: number): void {
    this.checker.onAcknowledged(index, term);
  }
}

/** Whether more than half of `configuration`'s voters are outside `lost`. */
function hasHealthyMajority(configuration: ConfState, lost: ReadonlySet<number>): boolean {
  const voters = configuration.voters.map(Number);
  const healthy = voters.filter((id) => !lost.has(id)).length;
  return healthy > Math.floor(voters.length / 2);
}

function describeDelivery(message: Message): string {
  return (
    `deliver ${message.type} ${message.from}->${message.to} t${message.term} ` +
    `i${message.index}/${message.logTerm} c${message.commit} n${message.entries.length}` +
    `${message.reject ? ' reject' : ''}${message.snapshot === null ? '' : ` snap${message.snapshot.metadata.index}`}`
  );
}

function describeException(error: unknown): Violation {
  if (error instanceof Error) {
    // The first frame in the code under test, past the assertion helper itself.
    const frame =
      (error.stack ?? '')
        .split('\n')
        .find((line) => line.includes('/src/') && !line.includes('/src/base/assert.ts')) ?? '';
    return {
      property: error instanceof BugError ? 'core assertion' : `exception (${error.name})`,
      detail: `${error.message}${frame === '' ? '' : ` (${frame.trim()})`}`,
    };
  }
  return { property: 'exception', detail: String(error) };
}

export async function simulate(request: SimulateRequest): Promise<SimResult> {
  const overrides = {
    ...(request.mutant === undefined ? {} : { mutant: request.mutant }),
    ...(request.memberCount === undefined ? {} : { memberCount: request.memberCount }),
    ...(request.disk === undefined ? {} : { disk: request.disk }),
  };
  const options = drawSimOptions(request.seed, overrides);
  const simulation = new Simulation(options, request.keepTrace ?? false);
  await simulation.run();
  const violations = [...simulation.checker.violations];
  const history = simulation.workload.history;
  const opsChecked = history.filter((op) => op.input.kind !== 'get' || op.output !== null).length;
  let linearizabilityUnknown = false;
  if (violations.length === 0) {
    const result = checkKvHistory(history);
    if (result.kind === 'not-linearizable') {
      violations.push({
        property: 'linearizability',
        detail: `key ${result.key}: ${result.detail}`,
      });
    } else if (result.kind === 'unknown') {
      linearizabilityUnknown = true;
    }
  }
  return {
    seed: request.seed,
    description: describeSimOptions(options),
    steps: simulation.world.steps,
    virtualMs: simulation.world.nowMs,
    opsChecked,
    violations,
    linearizabilityUnknown,
    traceHash: simulation.world.trace.digest(),
    trace: simulation.world.trace.lines,
    stats: Object.fromEntries(simulation.stats),
  };
}

/** Runs `seeds` one after another with the same overrides, results in seed order. */
export async function simulateSeeds(
  seeds: readonly number[],
  request: Omit<SimulateRequest, 'seed'>,
): Promise<SimResult[]> {
  const results: SimResult[] = [];
  for (const seed of seeds) results.push(await simulate({ ...request, seed }));
  return results;
}
