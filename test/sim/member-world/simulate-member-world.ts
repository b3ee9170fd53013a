/**
 * Runs one seed of the member world: 3 or 5 real SigilMembers (proposal registry, read-index
 * batching, apply, lease expiry, snapshots, WAL recovery) on FaultyFileSystems and
 * MemoryBackends, a simulated peer network and per-process virtual clocks, all driven by the
 * world's event queue. KV, lease and watch clients run through the ServerApi while the nemesis
 * injects faults; then everything heals and the run requires a commit, final linearizable reads,
 * every lease gone, identical state (hashKv) and history on all members, and watches caught up.
 *
 * Determinism: members are async, so after every world event the pump waits one setImmediate
 * turn, by which time every microtask the event started has run. Nothing in the member uses a
 * real timer or event-loop turn (its clock, its background schedule and the WAL's group-commit
 * yield are all world events), so one seed gives one trace.
 */
import { SeededRandom } from '../../../src/base/index.ts';
import type { SigilMember } from '../../../src/server/index.ts';
import type { Violation } from '../checkers/invariants.ts';
import { checkKvHistory } from '../checkers/linearizability.ts';
import { SimNetwork } from '../sim-network.ts';
import { TraceRecorder } from '../trace.ts';
import { World } from '../world.ts';
import { ClientChannel } from './client-channel.ts';
import { encode, KvWorkload, type WorkloadHost } from './kv-workload.ts';
import { LEASE_PREFIX, LeaseWorkload } from './lease-workload.ts';
import { MemberNemesis } from './member-nemesis.ts';
import { describe, MemberProcess, type ProcessHost } from './member-process.ts';
import {
  describeMemberWorldOptions,
  drawMemberWorldOptions,
  type MemberWorldOptions,
} from './member-world-options.ts';
import { SimPeerNetwork } from './sim-peer-transport.ts';
import {
  ALL_KEYS,
  toEventRecord,
  watchOptionsOf,
  WatchWorkload,
  type EventRecord,
} from './watch-workload.ts';
import {
  checkHistoryMatchesState,
  checkLeaseHistory,
  checkWatchSession,
  groupByRevision,
} from './world-checkers.ts';

export interface MemberWorldRequest {
  readonly seed: number;
  readonly keepTrace?: boolean;
}

/** The same shape as the raft simulator's SimResult, so run-sim.ts reports both alike. */
export interface MemberWorldResult {
  readonly seed: number;
  readonly description: string;
  readonly steps: number;
  readonly virtualMs: number;
  readonly opsChecked: number;
  readonly violations: readonly Violation[];
  readonly linearizabilityUnknown: boolean;
  readonly traceHash: string;
  readonly trace: readonly string[] | null;
  readonly stats: Readonly<Record<string, number>>;
}

const STEPS_MAX = 3_000_000;
const drain = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Unhandled rejections in member code are bugs; they are charged to the running world. */
let current: MemberWorld | null = null;
const onUnhandledRejection = (reason: unknown): void => {
  current?.violation('unhandled rejection', describe(reason));
};

class MemberWorld implements ProcessHost, WorkloadHost {
  readonly world: World;
  readonly network: SimNetwork;
  readonly peerNetwork: SimPeerNetwork;
  readonly channel: ClientChannel;
  readonly processes: MemberProcess[] = [];
  readonly violations: Violation[] = [];
  readonly stats = new Map<string, number>();
  readonly kv: KvWorkload;
  readonly leases: LeaseWorkload;
  readonly watches: WatchWorkload;
  private readonly nemesis: MemberNemesis;
  private readonly checkpointRandom: SeededRandom;
  private latestRevision = 0;
  private done = false;
  finalHistory: Map<number, EventRecord[]> | null = null;
  finalRevision = 0;

  constructor(
    readonly options: MemberWorldOptions,
    keepTrace: boolean,
  ) {
    const root = new SeededRandom(options.seed ^ 0x3e3be35e);
    this.world = new World(root.fork(), new TraceRecorder(keepTrace));
    this.network = new SimNetwork(this.world, root.fork(), options.network);
    this.peerNetwork = new SimPeerNetwork(this.world, this.network, (id) => Number(id - 0x1000n));
    this.channel = new ClientChannel(this.world, this.network);
    const founders = Array.from({ length: options.memberCount }, (_, i) => ({
      id: BigInt(0x1001 + i),
      name: `m${i + 1}`,
      peerUrls: [`http://m${i + 1}:2380`],
    }));
    for (const founder of founders) {
      const endpoint = Number(founder.id - 0x1000n);
      this.processes.push(new MemberProcess(this, endpoint, founder.id, founders, root.fork()));
    }
    this.kv = new KvWorkload(this, options, root.fork());
    this.leases = new LeaseWorkload(this, options, root.fork(), options.kvClients + 1);
    this.watches = new WatchWorkload(
      this,
      options,
      root.fork(),
      options.kvClients + options.leaseClients + 2,
      () => this.latestRevision,
    );
    this.checkpointRandom = root.fork();
    this.nemesis = new MemberNemesis(
      this.world,
      this.network,
      this.processes,
      options,
      root.fork(),
      (line) => this.note(line),
    );
  }

  note(line: string): void {
    this.world.trace.record(this.world.nowMs, line);
    const kind = line.split(' ', 1)[0];
    this.stats.set(kind, (this.stats.get(kind) ?? 0) + 1);
  }

  count(event: string): void {
    this.stats.set(event, (this.stats.get(event) ?? 0) + 1);
  }

  trace(line: string): void {
    this.world.trace.record(this.world.nowMs, line);
  }

  violation(property: string, detail: string): void {
    this.violations.push({ property, detail });
  }

  sawRevision(revision: number): void {
    this.latestRevision = Math.max(this.latestRevision, revision);
  }

  /** Pumps the world until the controller is done or something failed. */
  async run(): Promise<void> {
    const timeLimitMs = this.options.faultPhaseMsMax + 120 * this.options.electionMs + 30_000;
    this.note(`world ${describeMemberWorldOptions(this.options)}`);
    for (const process of this.processes) process.start();
    this.scheduleCheckpoints(this.checkpointRandom);
    this.control().then(
      () => void (this.done = true),
      (error: unknown) => this.violation('exception', describe(error)),
    );
    while (!this.done && this.violations.length === 0) {
      if (!this.world.step()) {
        this.violation('liveness', 'the world ran out of events');
        break;
      }
      await drain();
      for (const process of this.processes) {
        const failure = process.failure();
        if (failure !== null) {
          this.violation('member failure', `m${process.endpoint}: ${describe(failure)}`);
        }
      }
      if (this.world.steps > STEPS_MAX || this.world.nowMs > timeLimitMs) {
        this.violation(
          'liveness',
          `the run did not finish within ${STEPS_MAX} steps and ${timeLimitMs} ms`,
        );
        break;
      }
    }
  }

  /** Backends reach the disk at random moments, each member on its own. */
  private scheduleCheckpoints(random: SeededRandom): void {
    this.world.schedule(20 + random.int(200), () => {
      if (this.done) return;
      for (const process of this.processes) if (random.chance(0.5)) process.checkpoint();
      this.scheduleCheckpoints(random);
    });
  }

  private sleep(ms: number): Promise<void> {
    return this.channel.sleep(ms);
  }

  /** Polls `condition` every `everyMs` until it holds (true) or `budgetMs` passed (false). */
  private async until(
    condition: () => Promise<boolean> | boolean,
    budgetMs: number,
    everyMs = 50,
  ): Promise<boolean> {
    const deadline = this.world.nowMs + budgetMs;
    for (;;) {
      if (await condition()) return true;
      if (this.world.nowMs >= deadline) return false;
      await this.sleep(everyMs);
    }
  }

  /** `promise`, or undefined if it has not settled within `ms` (errors become undefined). */
  private within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return Promise.race([
      promise.then(
        (value) => value,
        () => undefined,
      ),
      this.sleep(ms).then(() => undefined),
    ]);
  }

  private livenessBudgetMs(): number {
    return 60 * this.options.electionMs + 2_000;
  }

  private async control(): Promise<void> {
    let workloadsDone = false;
    const workloads = Promise.all([this.kv.run(), this.leases.run()]).then(() => {
      workloadsDone = true;
    });
    void this.watches.run();
    this.nemesis.start();
    await this.until(() => workloadsDone, this.options.faultPhaseMsMax, 50);
    this.kv.stopping = true;
    this.leases.stopping = true;
    this.nemesis.healAll();
    if (!(await this.probe())) return;
    await workloads;
    const deadline = this.world.nowMs + this.livenessBudgetMs();
    const read = await this.kv.finalReads(
      this.options.kvClients,
      () => this.world.nowMs > deadline,
    );
    if (!read) {
      return this.violation(
        'liveness',
        'the final linearizable reads did not complete after healing',
      );
    }
    if (!(await this.waitForLeasesGone())) return;
    if (!(await this.converge())) return;
    await this.readFinalHistories();
  }

  private up(): SigilMember[] {
    return this.processes.flatMap((process) =>
      process.isUp && process.member !== null ? [process.member] : [],
    );
  }

  /** After healing, some member must commit a write within the liveness budget. */
  private async probe(): Promise<boolean> {
    let attempt = 0;
    const committed = await this.until(
      async () => {
        const members = this.up();
        if (members.length === 0) return false;
        const member = members[attempt++ % members.length];
        const result = await this.within(
          member.put({ key: encode('p/probe'), value: encode(`probe${attempt}`) }),
          this.options.electionMs * 4,
        );
        return result !== undefined;
      },
      this.livenessBudgetMs(),
      this.options.electionMs,
    );
    this.note(committed ? 'probe committed' : 'probe failed');
    if (!committed) {
      this.violation(
        'liveness',
        `no write committed within ${this.livenessBudgetMs()} ms after healing`,
      );
    }
    return committed;
  }

  /** Every lease ends (revoked, or expired once keepalives stopped): nothing may remain. */
  private async waitForLeasesGone(): Promise<boolean> {
    const maxTtlSeconds = Math.max(2, ...this.leases.leases.map((lease) => lease.ttlSeconds));
    const budgetMs = 3 * maxTtlSeconds * 1000 + this.livenessBudgetMs();
    const gone = await this.until(
      async () => {
        for (const process of this.processes) {
          const member = process.member;
          if (!process.isUp || member === null) return false;
          const leases = await this.within(member.leaseLeases(), this.options.electionMs * 4);
          if (leases === undefined || leases.leases.length > 0) return false;
          const keys = await member.range({
            key: encode(LEASE_PREFIX),
            rangeEnd: encode('l0'),
            serializable: true,
          });
          if (keys.count > 0) return false;
        }
        return true;
      },
      budgetMs,
      250,
    );
    this.note(gone ? 'leases gone' : 'leases remain');
    if (!gone) {
      this.violation(
        'lease',
        `leases or their keys remain on some member ${budgetMs} ms after healing: ${await this.describeLeases()}`,
      );
    }
    return gone;
  }

  private async describeLeases(): Promise<string> {
    const parts: string[] = [];
    for (const process of this.processes) {
      const member = process.member;
      if (member === null) {
        parts.push(`m${process.endpoint} down`);
        continue;
      }
      const keys = await member.range({
        key: encode(LEASE_PREFIX),
        rangeEnd: encode('l0'),
        serializable: true,
      });
      parts.push(
        `m${process.endpoint}${member.isLeader ? ' (leader)' : ''}: ${keys.kvs.map((kv) => `${new TextDecoder().decode(kv.key)}@lease${kv.lease}`).join(' ') || 'no keys'}`,
      );
    }
    return parts.join('; ');
  }

  /** All members reach the same applied index and then the same hashKv. */
  private async converge(): Promise<boolean> {
    let detail = '';
    const converged = await this.until(
      async () => {
        const members = this.up();
        if (members.length !== this.processes.length) {
          detail = 'not every member is up';
          return false;
        }
        const applied = new Set(members.map((member) => member.appliedIndex));
        const revisions = new Set(members.map((member) => member.header().revision));
        if (applied.size > 1 || revisions.size > 1) {
          detail = `applied ${members.map((member) => member.appliedIndex).join('/')}`;
          return false;
        }
        const hashes = await Promise.all(members.map((member) => member.hashKv(0)));
        const distinct = new Set(hashes.map((hash) => `${hash.header.revision}:${hash.hash}`));
        if (distinct.size > 1) {
          // Equal applied indexes with different state: divergence, not slowness.
          this.violation(
            'convergence',
            `members applied index ${[...applied][0]} but hash differently: ${[...distinct].join(', ')}`,
          );
          return true;
        }
        return true;
      },
      this.livenessBudgetMs(),
      100,
    );
    if (!converged) this.violation('liveness', `members did not converge: ${detail}`);
    this.note(`converged at revision ${this.up()[0]?.header().revision ?? 0}`);
    return converged && this.violations.length === 0;
  }

  /** Each member's history from revision 1, which must be identical everywhere. */
  private async readFinalHistories(): Promise<void> {
    const histories: EventRecord[][] = [];
    for (const member of this.up()) {
      const revision = member.header().revision;
      const events: EventRecord[] = [];
      const watch = member.watch({ ...watchOptionsOf(ALL_KEYS, 1) });
      const consumed = (async () => {
        for await (const response of watch) {
          for (const event of response.events) events.push(toEventRecord(event));
          if (events.length > 0 && events[events.length - 1].modRevision >= revision) return;
        }
      })();
      const finished = await this.within(
        consumed.then(() => true),
        this.livenessBudgetMs(),
      );
      watch.cancel();
      if (finished !== true) {
        return this.violation(
          'watch',
          `a watch from revision 1 on ${member.memberId.toString(16)} never reached ${revision}`,
        );
      }
      histories.push(events);
      this.finalRevision = revision;
      const state = await member.range({
        key: new Uint8Array([0]),
        rangeEnd: new Uint8Array([0]),
        serializable: true,
      });
      const mismatch = checkHistoryMatchesState(groupByRevision(events), revision, state.kvs);
      if (mismatch !== null) {
        return this.violation('history', `m${Number(member.memberId - 0x1000n)}: ${mismatch}`);
      }
    }
    // Lease ids are bigints, which JSON has no form for.
    const text = (history: unknown): string =>
      JSON.stringify(history, (_key, value: unknown) =>
        typeof value === 'bigint' ? `${value}n` : value,
      );
    const reference = text(histories[0]);
    for (let i = 1; i < histories.length; i++) {
      if (text(histories[i]) !== reference) {
        return this.violation('watch', `members disagree on the history (member index ${i})`);
      }
    }
    this.finalHistory = groupByRevision(histories[0] ?? []);
    // Open sessions must catch up now that every member has applied everything.
    const caughtUp = await this.until(
      () =>
        this.watches
          .liveSessions()
          .every(
            (session) =>
              checkWatchSession(session, this.finalHistory!, this.finalRevision, true) === null,
          ),
      this.livenessBudgetMs(),
      100,
    );
    this.note(caughtUp ? 'watches caught up' : 'watches behind');
    this.liveAtEnd = new Set(this.watches.liveSessions());
    this.watches.stopAll();
  }

  liveAtEnd = new Set<unknown>();
}

export async function simulateMemberWorld(request: MemberWorldRequest): Promise<MemberWorldResult> {
  const options = drawMemberWorldOptions(request.seed);
  const world = new MemberWorld(options, request.keepTrace ?? false);
  current = world;
  process.on('unhandledRejection', onUnhandledRejection);
  try {
    await world.run();
  } finally {
    process.off('unhandledRejection', onUnhandledRejection);
    current = null;
  }
  const violations = [...world.violations];
  const history = world.kv.history;
  let linearizabilityUnknown = false;
  if (violations.length === 0) {
    const result = checkKvHistory(history);
    if (result.kind === 'not-linearizable') {
      violations.push({
        property: 'linearizability',
        detail: `key ${result.key}: ${result.detail}`,
      });
    } else if (result.kind === 'unknown') linearizabilityUnknown = true;
    const early = world.leases.earlyExpiries[0];
    if (early !== undefined) violations.push({ property: 'lease keepalive', detail: early });
    const invented = world.kv.checkSerializableReads();
    if (invented !== null) violations.push({ property: 'serializable read', detail: invented });
  }
  const finalHistory = world.finalHistory;
  if (violations.length === 0 && finalHistory !== null) {
    const lease = checkLeaseHistory(finalHistory, world.finalRevision);
    if (lease !== null) violations.push({ property: 'lease', detail: lease });
    for (const session of world.watches.sessions) {
      const problem = checkWatchSession(
        session,
        finalHistory,
        world.finalRevision,
        world.liveAtEnd.has(session),
      );
      if (problem !== null) {
        violations.push({ property: 'watch', detail: problem });
        break;
      }
    }
  }
  const stats = Object.fromEntries(world.stats);
  stats['watch-sessions'] = world.watches.sessions.length;
  stats['leases granted'] = world.leases.leases.length;
  return {
    seed: request.seed,
    description: describeMemberWorldOptions(options),
    steps: world.world.steps,
    virtualMs: world.world.nowMs,
    opsChecked: history.filter(
      (operation) => operation.output !== null || operation.input.kind !== 'get',
    ).length,
    violations,
    linearizabilityUnknown,
    traceHash: world.world.trace.digest(),
    trace: world.world.trace.lines,
    stats,
  };
}

/** Runs seeds one after another (each world owns the process's unhandled-rejection hook). */
export async function simulateMemberWorlds(
  seeds: readonly number[],
  keepTrace: boolean,
): Promise<MemberWorldResult[]> {
  const results: MemberWorldResult[] = [];
  for (const seed of seeds) results.push(await simulateMemberWorld({ seed, keepTrace }));
  return results;
}
