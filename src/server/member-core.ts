/**
 * What every Sigil member API method stands on: building the member's parts (proposer,
 * read-index batcher, housekeeping, cluster role, auto-compactor), introspection, response
 * headers, proposing and linearizable barriers, the raft loop's hooks, and the graceful stop.
 * member.ts builds the ServerApi on top of it.
 */
import { NO_MEMBER, type SoftState } from '../raft/index.ts';
import type { CompactionRequest } from '../mvcc/index.ts';
import { AutoCompactor } from './auto-compactor.ts';
import { Housekeeping } from './housekeeping.ts';
import { MemberCluster } from './member-cluster.ts';
import type { MemberConfig, MemberEnvironment } from './member-config.ts';
import type { ProposalRegistry } from './proposal-registry.ts';
import { Proposer } from './proposer.ts';
import type { RaftLoop } from './raft-loop.ts';
import { ReadIndexBatcher } from './read-index-batcher.ts';
import type { InternalRequest } from './request.ts';
import type { ResponseHeader, WithHeader } from './server-api.ts';
import { ServerError } from './server-error.ts';
import type { StateMachine } from './state-machine.ts';

export abstract class MemberCore {
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
  protected readonly proposer: Proposer;
  protected readonly reads: ReadIndexBatcher;
  protected readonly compactor: AutoCompactor | null;
  protected readonly housekeeping: Housekeeping;
  protected stopping: Promise<void> | null = null;
  protected failure: unknown = null;
  protected readonly cluster: MemberCluster;
  protected removedStop: (() => void) | null = null;
  /** Resolves when the member stopped itself because it was removed from the cluster. */
  readonly removed = new Promise<void>((resolve) => (this.removedStop = resolve));

  protected constructor(
    readonly config: MemberConfig,
    protected readonly env: MemberEnvironment,
    protected readonly stateMachine: StateMachine,
    protected readonly raft: RaftLoop,
  ) {
    this.limits = { maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps };
    this.proposer = new Proposer({
      clock: env.clock,
      memberId: config.memberId,
      wallClockMs: env.wallClockMs(),
      requestTimeoutMs: config.requestTimeoutMs,
      leaderWaitMs: config.electionMs,
      maxRequestBytes: config.maxRequestBytes,
      checkRunning: () => this.checkRunning(),
      leader: () => this.raft.leader,
      propose: (data, refused) => this.raft.propose(data, refused),
    });
    this.reads = new ReadIndexBatcher(
      env.clock,
      {
        memberId: config.memberId,
        startedAtWallMs: Math.floor(env.wallClockMs()),
        requestReadIndex: (context) => {
          const result = this.raft.readIndex(context);
          return result.ok ? null : 'no-leader';
        },
        appliedIndex: () => this.raft.appliedIndex,
      },
      config.electionMs,
      config.requestTimeoutMs,
    );
    this.housekeeping = new Housekeeping({
      clock: env.clock,
      logger: env.logger,
      memberId: config.memberId,
      name: config.name,
      clientUrls: config.clientUrls,
      quotaBackendBytes: config.quotaBackendBytes,
      hasLeader: () => this.raft.leader !== NO_MEMBER && this.failure === null,
      isLeader: () => this.raft.isLeader,
      lessor: () => this.stateMachine.lessor,
      backendSizeBytes: () => this.env.backend.size().sizeBytes,
      propose: (request) => this.propose(request),
    });
    this.cluster = new MemberCluster({
      config,
      env,
      raft,
      members: () => this.stateMachine.members(),
      nextRequestId: () => this.proposer.nextId(),
      linearizableBarrier: () => this.linearizableBarrier(),
      header: () => this.header(),
      stopRemoved: () => void this.stop().then(() => this.removedStop?.()),
    });
    this.compactor =
      config.autoCompaction === null
        ? null
        : new AutoCompactor(env.clock, config.autoCompaction, {
            isLeader: () => this.raft.isLeader,
            currentRevision: () => this.stateMachine.kv.currentRevision,
            compactRevision: () => this.stateMachine.kv.compactRevision,
            compact: (revision) => this.compact({ revision }),
          });
  }

  /** The auto-compactor compacts through the member's own API. */
  abstract compact(request: CompactionRequest): Promise<{ readonly header: ResponseHeader }>;

  // ---- introspection (tests, sigild, status) ----

  get memberId(): bigint {
    return this.config.memberId;
  }
  get leaderId(): bigint {
    return this.raft.leader;
  }
  get isLeader(): boolean {
    return this.raft.isLeader;
  }
  get appliedIndex(): number {
    return this.raft.appliedIndex;
  }
  get raftTerm(): number {
    return this.raft.term;
  }
  get failed(): unknown {
    return this.failure;
  }
  /** Live access to the raft node for tests and tools (campaign, transfer, status). */
  get raftNode(): RaftLoop['node'] {
    return this.raft.node;
  }
  /** Wakes the raft loop after the raft node was driven directly. */
  kickRaft(): void {
    this.raft.kick();
  }

  header(): ResponseHeader {
    return this.headerAt(this.stateMachine.kv.currentRevision);
  }

  protected headerAt(revision: number): ResponseHeader {
    return {
      clusterId: this.config.clusterId,
      memberId: this.config.memberId,
      revision,
      raftTerm: this.raft.term,
    };
  }

  protected withHeader<T extends { header: { revision: number } }>(response: T): WithHeader<T> {
    return { ...response, header: this.headerAt(response.header.revision) };
  }

  // ---- proposals and reads ----

  protected propose<T>(request: InternalRequest): Promise<T> {
    // A learner takes no client writes; what it announces itself (its name and client URLs,
    // a NOSPACE alarm) still goes through raft, as in etcd.
    if (request.kind !== 'memberAttributes' && request.kind !== 'alarm' && this.cluster.isLearner) {
      return Promise.reject(new ServerError('learner-rpc'));
    }
    return this.proposer.propose<T>(request);
  }

  protected async linearizableBarrier(): Promise<void> {
    this.checkServing();
    await this.proposer.waitForLeader();
    await this.reads.wait();
  }

  protected checkRunning(): void {
    if (this.stopping !== null || this.failure !== null) throw new ServerError('stopped');
  }

  /** Running, and not a learner: a learner serves only Status and serializable reads
   *  (etcd 3.4 refuses every other RPC on a learner). */
  protected checkServing(): void {
    this.checkRunning();
    if (this.cluster.isLearner) throw new ServerError('learner-rpc');
  }

  protected checkSpace(): void {
    if (this.stateMachine.alarms.some((alarm) => alarm.alarm === 'NOSPACE')) {
      throw new ServerError('no-space');
    }
  }

  // ---- raft loop hooks ----

  protected onApplied(id: bigint, outcome: Parameters<ProposalRegistry['settle']>[1]): void {
    this.proposer.registry.settle(id, outcome);
  }

  protected onSoftState(previous: SoftState, next: SoftState): void {
    const now = this.env.clock.nowMs();
    if (next.role === 'leader' && previous.role !== 'leader') this.stateMachine.lessor.promote(now);
    if (next.role !== 'leader' && previous.role === 'leader') {
      this.stateMachine.lessor.demote();
      this.housekeeping.demoted();
    }
    this.proposer.softStateChanged(previous, next);
    this.cluster.leadership.leaderChanged(next.leader);
    if (next.leader !== NO_MEMBER && next.leader !== previous.leader) {
      this.env.observer?.leaderChanged();
      this.housekeeping.leaderKnown();
    }
    this.env.logger.info(
      {
        memberId: this.config.memberId.toString(16),
        leader: next.leader.toString(16),
        role: next.role,
        term: this.raft.term,
      },
      'raft role changed',
    );
  }

  protected onFatal(error: unknown): void {
    this.failure = error;
    this.env.logger.error({ err: error }, 'member stopped by a fatal error');
    this.proposer.stop();
    this.reads.stop();
  }

  /** Graceful stop: refuse new work, fail what waits, finish the Ready in progress (its WAL
   *  write included), stop the transport. The backend belongs to the caller, who closes it. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.housekeeping.stop();
      this.compactor?.stop();
      this.cluster.stop();
      this.proposer.stop();
      this.reads.stop();
      await this.raft.stop();
      this.stateMachine.close();
      await this.env.transport.stop();
      this.env.logger.info({ memberId: this.config.memberId.toString(16) }, 'member stopped');
    })();
    return this.stopping;
  }
}
