/**
 * A Sigil member: the ServerApi the client API calls, over the raft loop and the state machine.
 * Writes are proposed through raft and answered when applied here; linearizable reads wait for
 * a batched ReadIndex; serializable reads are served from local state at once.
 */
import { createHash } from 'node:crypto';
import { asMemberId } from '../base/index.ts';
import { hashKv, type WatchOptions } from '../mvcc/index.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../mvcc/index.ts';
import { LEASE_TTL_MAX_SECONDS } from '../lease/index.ts';
import { NO_MEMBER, type SoftState } from '../raft/index.ts';
import { txnHasPut } from './applier.ts';
import { AutoCompactor } from './auto-compactor.ts';
import { Housekeeping } from './housekeeping.ts';
import {
  minLeaseTtlSeconds,
  validateMemberConfig,
  type MemberConfig,
  type MemberEnvironment,
} from './member-config.ts';
import type { ProposalRegistry } from './proposal-registry.ts';
import { Proposer } from './proposer.ts';
import { openRaftStorage } from './raft-storage.ts';
import { RaftLoop } from './raft-loop.ts';
import { ReadIndexBatcher } from './read-index-batcher.ts';
import type { InternalRequest } from './request.ts';
import type {
  AlarmMember,
  HashKvResult,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  Member,
  ResponseHeader,
  ServerApi,
  ServerWatch,
  StatusResponse,
  WithHeader,
} from './server-api.ts';
import { ServerError } from './server-error.ts';
import { StateMachine } from './state-machine.ts';

export const SERVER_VERSION = '3.5.0';
/** Ids we pick ourselves stay below 2^53: MVCC keeps a key's lease as a JS number. */
const AUTO_LEASE_ID_MASK = (1n << 53n) - 1n;

export class SigilMember implements ServerApi {
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
  private readonly proposer: Proposer;
  private readonly reads: ReadIndexBatcher;
  private readonly compactor: AutoCompactor | null;
  private readonly housekeeping: Housekeeping;
  private stopping: Promise<void> | null = null;
  private failure: unknown = null;
  /** Peers the transport knows, with their URLs joined. */
  private peers = new Map<bigint, string>();

  private constructor(
    readonly config: MemberConfig,
    private readonly env: MemberEnvironment,
    private readonly stateMachine: StateMachine,
    private readonly raft: RaftLoop,
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
      propose: (data) => this.raft.propose(data),
    });
    this.reads = new ReadIndexBatcher(
      env.clock,
      {
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

  /** Opens (or bootstraps) the member's data and starts its raft loop and transport. */
  static async start(config: MemberConfig, env: MemberEnvironment): Promise<SigilMember> {
    validateMemberConfig(config);
    const schedule = env.schedule ?? ((task: () => void) => void setImmediate(task));
    // The WAL's group commit yields through the same scheduler as all other background work:
    // with an injected one (the simulator's), no real event-loop turn is left to decide order.
    const storage = await openRaftStorage({
      ...config,
      fs: env.fs,
      ...(env.schedule === undefined
        ? {}
        : { yieldToAppenders: () => new Promise<void>((resolve) => schedule(resolve)) }),
    });
    if (env.backend.restorePending() && storage.snapshot === null) {
      throw new Error('the backend holds a half-finished restore and no snapshot can repair it');
    }
    const snapshotIndex = storage.snapshot?.metadata.index ?? 0;
    if (
      storage.snapshot !== null &&
      (env.backend.restorePending() || env.backend.consistentIndex() < snapshotIndex)
    ) {
      await env.backend.restore(
        (async function* (data: Uint8Array) {
          yield data;
        })(storage.snapshot.data),
      );
    }
    const stateMachine = new StateMachine({
      backend: env.backend,
      clock: env.clock,
      minLeaseTtlSeconds: minLeaseTtlSeconds(config),
      schedule,
    });
    stateMachine.ensureMembers(storage.founders);
    let member: SigilMember | null = null;
    const hooks = {
      applied: (...args: Parameters<SigilMember['onApplied']>) => member!.onApplied(...args),
      appliedTo: (index: number) => member!.reads.onApplied(index),
      readState: (context: Uint8Array, index: number) => member!.reads.onReadState(context, index),
      softState: (previous: SoftState, next: SoftState) => member!.onSoftState(previous, next),
      restored: () => member!.syncPeers(),
      confChange: () => member!.syncPeers(),
      fatal: (error: unknown) => member!.onFatal(error),
    };
    const raft = new RaftLoop({
      config,
      clock: env.clock,
      random: env.random,
      transport: env.transport,
      logger: env.logger,
      storage,
      stateMachine,
      hooks,
    });
    member = new SigilMember(config, env, stateMachine, raft);
    member.syncPeers();
    await env.transport.start();
    raft.start();
    member.housekeeping.start();
    member.compactor?.start();
    env.logger.info(
      { memberId: config.memberId.toString(16), fresh: storage.fresh, snapshotIndex },
      'member started',
    );
    return member;
  }

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

  private headerAt(revision: number): ResponseHeader {
    return {
      clusterId: this.config.clusterId,
      memberId: this.config.memberId,
      revision,
      raftTerm: this.raft.term,
    };
  }

  private withHeader<T extends { header: { revision: number } }>(response: T): WithHeader<T> {
    return { ...response, header: this.headerAt(response.header.revision) };
  }

  // ---- KV ----

  async range(request: RangeRequest): Promise<WithHeader<RangeResponse>> {
    this.checkRunning();
    if (request.serializable !== true) await this.linearizableBarrier();
    return this.withHeader(this.stateMachine.kv.range(request));
  }

  async put(request: PutRequest): Promise<WithHeader<PutResponse>> {
    this.checkSpace();
    return this.withHeader(await this.propose<PutResponse>({ kind: 'put', put: request }));
  }

  async deleteRange(request: DeleteRangeRequest): Promise<WithHeader<DeleteRangeResponse>> {
    const response = await this.propose<DeleteRangeResponse>({
      kind: 'deleteRange',
      deleteRange: request,
    });
    return this.withHeader(response);
  }

  async txn(request: TxnRequest): Promise<WithHeader<TxnResponse>> {
    if (txnHasPut(request)) this.checkSpace();
    return this.withHeader(await this.propose<TxnResponse>({ kind: 'txn', txn: request }));
  }

  async compact(request: CompactionRequest): Promise<{ readonly header: ResponseHeader }> {
    const response = await this.propose<{ header: { revision: number } }>({
      kind: 'compact',
      compact: request,
    });
    return { header: this.headerAt(response.header.revision) };
  }

  watch(options: WatchOptions & { readonly watchId?: number }): ServerWatch {
    this.checkRunning();
    const stateMachine = this.stateMachine;
    const watcher = stateMachine.watch(options);
    const id = options.watchId ?? watcher.id;
    const store = stateMachine.watchable;
    return {
      id,
      cancel: () => stateMachine.cancelWatch(watcher),
      requestProgress: () => void store.requestProgress(watcher),
      async *[Symbol.asyncIterator]() {
        for await (const response of watcher) yield { ...response, watchId: id };
      },
    };
  }

  // ---- leases ----

  async leaseGrant(ttlSeconds: number, id: bigint): Promise<LeaseGrantResponse> {
    this.checkSpace();
    if (ttlSeconds > LEASE_TTL_MAX_SECONDS) throw new ServerError('lease-ttl-too-large');
    for (let attempt = 0; ; attempt++) {
      const chosen = id !== 0n ? id : this.proposer.nextId() & AUTO_LEASE_ID_MASK;
      try {
        const granted = await this.propose<{ id: bigint; ttl: number }>({
          kind: 'leaseGrant',
          id: chosen,
          ttlSeconds,
        });
        return { header: this.header(), id: granted.id, ttl: granted.ttl };
      } catch (error) {
        // An id we picked ourselves collided with another member's pick: pick again.
        const collided = error instanceof ServerError && error.code === 'lease-exists';
        if (!(collided && id === 0n && attempt < 3)) throw error;
      }
    }
  }

  async leaseRevoke(id: bigint): Promise<{ readonly header: ResponseHeader }> {
    await this.propose({ kind: 'leaseRevoke', id });
    return { header: this.header() };
  }

  async leaseKeepAlive(
    id: bigint,
  ): Promise<{ readonly header: ResponseHeader; readonly ttl: number }> {
    this.checkRunning();
    const lessor = this.stateMachine.lessor;
    // The leader's clock decides expiry, so it renews locally; a follower sends the renewal
    // through raft, and it takes effect when the leader applies it.
    if (this.raft.isLeader && lessor.isPrimary) {
      return { header: this.header(), ttl: lessor.renew(id, this.env.clock.nowMs()) };
    }
    const ttl = await this.propose<number>({ kind: 'leaseRenew', id });
    return { header: this.header(), ttl };
  }

  async leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLiveResponse> {
    await this.linearizableBarrier();
    const found = this.stateMachine.lessor.timeToLive(id, this.env.clock.nowMs());
    return {
      header: this.header(),
      id,
      ttl: found.ttlSeconds,
      grantedTtl: found.grantedTtlSeconds,
      keys: keys ? found.keys : [],
    };
  }

  async leaseLeases(): Promise<{
    readonly header: ResponseHeader;
    readonly leases: readonly bigint[];
  }> {
    await this.linearizableBarrier();
    return { header: this.header(), leases: this.stateMachine.lessor.leaseIds() };
  }

  // ---- cluster and maintenance ----

  async memberList(linearizable: boolean): Promise<{
    readonly header: ResponseHeader;
    readonly members: readonly Member[];
  }> {
    this.checkRunning();
    if (linearizable) await this.linearizableBarrier();
    return { header: this.header(), members: this.stateMachine.members() };
  }

  async status(): Promise<StatusResponse> {
    this.checkRunning();
    const size = this.env.backend.size();
    return {
      header: this.header(),
      version: SERVER_VERSION,
      dbSize: size.sizeBytes,
      dbSizeInUse: size.sizeInUseBytes,
      leader: this.raft.leader,
      raftIndex: this.raft.commitIndex,
      raftTerm: this.raft.term,
      raftAppliedIndex: this.raft.appliedIndex,
      errors: this.stateMachine.alarms.map(
        (alarm) => `memberID:${alarm.memberId} alarm:${alarm.alarm} `,
      ),
      isLearner: false,
    };
  }

  async hashKv(revision: number): Promise<HashKvResult> {
    this.checkRunning();
    const result = hashKv(this.stateMachine.kv, revision);
    return { header: this.header(), hash: result.hash, compactRevision: result.compactRevision };
  }

  async alarmList(): Promise<{
    readonly header: ResponseHeader;
    readonly alarms: readonly AlarmMember[];
  }> {
    await this.linearizableBarrier();
    return { header: this.header(), alarms: [...this.stateMachine.alarms] };
  }

  async alarmDisarm(
    alarm: AlarmMember,
  ): Promise<{ readonly header: ResponseHeader; readonly alarms: readonly AlarmMember[] }> {
    const matches = (active: AlarmMember): boolean =>
      (alarm.memberId === 0n || active.memberId === alarm.memberId) &&
      (alarm.alarm === 'NONE' || active.alarm === alarm.alarm);
    const disarmed = this.stateMachine.alarms.filter(matches);
    for (const active of disarmed) {
      await this.propose({ kind: 'alarm', action: 'deactivate', ...active });
      if (active.memberId === this.config.memberId && active.alarm === 'NOSPACE') {
        this.housekeeping.spaceAlarmCleared();
      }
    }
    return { header: this.header(), alarms: disarmed };
  }

  async defragment(): Promise<{ readonly header: ResponseHeader }> {
    this.checkRunning();
    await this.env.backend.reclaimSpace();
    return { header: this.header() };
  }

  /** The backend's full state, followed (as etcd's Snapshot RPC does) by a 32-byte SHA-256
   *  of everything before it, which etcdctl checks when it saves the stream. */
  snapshot(): AsyncIterable<Uint8Array> {
    this.checkRunning();
    const state = this.env.backend.snapshot();
    return (async function* () {
      const digest = createHash('sha256');
      for await (const chunk of state) {
        digest.update(chunk);
        yield chunk;
      }
      yield new Uint8Array(digest.digest());
    })();
  }

  // ---- proposals and reads ----

  private propose<T>(request: InternalRequest): Promise<T> {
    return this.proposer.propose<T>(request);
  }

  private async linearizableBarrier(): Promise<void> {
    this.checkRunning();
    await this.proposer.waitForLeader();
    await this.reads.wait();
  }

  private checkRunning(): void {
    if (this.stopping !== null || this.failure !== null) throw new ServerError('stopped');
  }

  private checkSpace(): void {
    if (this.stateMachine.alarms.some((alarm) => alarm.alarm === 'NOSPACE')) {
      throw new ServerError('no-space');
    }
  }

  // ---- raft loop hooks ----

  private onApplied(id: bigint, outcome: Parameters<ProposalRegistry['settle']>[1]): void {
    this.proposer.registry.settle(id, outcome);
  }

  private onSoftState(previous: SoftState, next: SoftState): void {
    const now = this.env.clock.nowMs();
    if (next.role === 'leader' && previous.role !== 'leader') this.stateMachine.lessor.promote(now);
    if (next.role !== 'leader' && previous.role === 'leader') {
      this.stateMachine.lessor.demote();
      this.housekeeping.demoted();
    }
    this.proposer.softStateChanged(previous, next);
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

  /** Tells the transport about every member but this one (after start, restore, conf change),
   *  touching only what changed: re-adding a peer would drop its queue and connections. */
  private syncPeers(): void {
    const transport = this.env.transport;
    const current = new Map<bigint, string>();
    for (const member of this.stateMachine.members()) {
      if (member.id === this.config.memberId) continue;
      const urls = member.peerUrls.join(',');
      current.set(member.id, urls);
      const known = this.peers.get(member.id);
      if (known === undefined) transport.addPeer(asMemberId(member.id), member.peerUrls);
      else if (known !== urls) transport.updatePeer(asMemberId(member.id), member.peerUrls);
    }
    for (const id of this.peers.keys()) if (!current.has(id)) transport.removePeer(asMemberId(id));
    this.peers = current;
  }

  private onFatal(error: unknown): void {
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
