/**
 * A Sigil member: the ServerApi the client API calls, over the raft loop and the state machine.
 * Writes are proposed through raft and answered when applied here; linearizable reads wait for
 * a batched ReadIndex; serializable reads are served from local state at once.
 */
import { withSha256Trailer } from './snapshot-trailer.ts';
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
import { LEASE_TTL_MAX_SECONDS, type LeaseTimeToLive } from '../lease/index.ts';
import type { ConfChange, ConfState, SoftState } from '../raft/index.ts';
import { txnHasPut } from './applier.ts';
import { MemberCore } from './member-core.ts';
import { tapInbound } from './member-removal.ts';
import { disarmAlarms, memberStatus, SERVER_VERSION } from './member-maintenance.ts';
import { openMemberData } from './member-open.ts';
import type { MembersResponse } from './membership.ts';
import { encodeClusterInfo } from './membership-join.ts';
import {
  minLeaseTtlSeconds,
  validateMemberConfig,
  type MemberConfig,
  type MemberEnvironment,
} from './member-config.ts';
import { RaftLoop } from './raft-loop.ts';
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
import { StateMachine, type LeaseQueryAnswer } from './state-machine.ts';

export { SERVER_VERSION };
/** Lease ids we pick are positive int64s, as etcd's (its request id with the sign bit off). */
const AUTO_LEASE_ID_MASK = (1n << 63n) - 1n;

export class SigilMember extends MemberCore implements ServerApi {
  private constructor(
    config: MemberConfig,
    env: MemberEnvironment,
    stateMachine: StateMachine,
    raft: RaftLoop,
  ) {
    super(config, env, stateMachine, raft);
  }

  /** Opens (or bootstraps) the member's data and starts its raft loop and transport. */
  static async start(config: MemberConfig, env: MemberEnvironment): Promise<SigilMember> {
    validateMemberConfig(config);
    const schedule = env.schedule ?? ((task: () => void) => void setImmediate(task));
    const storage = await openMemberData(config, env, schedule);
    const snapshotIndex = storage.snapshot?.metadata.index ?? 0;
    const stateMachine = new StateMachine({
      backend: env.backend,
      clock: env.clock,
      minLeaseTtlSeconds: minLeaseTtlSeconds(config),
      schedule,
      answerLeaseQuery: (answer) => member?.answerLeaseQuery(answer),
    });
    stateMachine.ensureMembers(storage.founders);
    let member: SigilMember | null = null;
    const hooks = {
      applied: (...args: Parameters<SigilMember['onApplied']>) => member!.onApplied(...args),
      appliedTo: (index: number) => member!.reads.onApplied(index),
      readState: (context: Uint8Array, index: number) => member!.reads.onReadState(context, index),
      softState: (previous: SoftState, next: SoftState) => member!.onSoftState(previous, next),
      restored: () => member!.cluster.restored(),
      acceptConfChange: (change: ConfChange, current: ConfState) =>
        member!.cluster.acceptConfChange(change, current),
      confChange: (change: ConfChange) => member!.cluster.confChanged(change),
      fatal: (error: unknown) => member!.onFatal(error),
    };
    const raft = new RaftLoop({
      config,
      clock: env.clock,
      random: env.random,
      transport: tapInbound(env.transport, (message) => member?.cluster.observe(message)),
      logger: env.logger,
      storage,
      stateMachine,
      hooks,
    });
    member = new SigilMember(config, env, stateMachine, raft);
    member.cluster.start();
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
    this.checkServing();
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
      const chosen = id !== 0n ? id : this.pickLeaseId();
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

  /** etcd never hands out 0 (no lease): a masked id that comes out 0 is drawn again. */
  private pickLeaseId(): bigint {
    for (;;) {
      const id = this.proposer.nextId() & AUTO_LEASE_ID_MASK;
      if (id !== 0n) return id;
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
    const found = await this.leaseTimeToLiveOnLeader(id);
    return {
      header: this.header(),
      id,
      ttl: found.ttlSeconds,
      grantedTtl: found.grantedTtlSeconds,
      keys: keys ? found.keys : [],
    };
  }

  /**
   * Only the leader's lessor counts down, so only it knows the remaining TTL (etcd forwards
   * TimeToLive to the leader). A follower asks it through raft: its query entry is answered by
   * an entry the leader proposes when it applies the query.
   */
  private async leaseTimeToLiveOnLeader(id: bigint): Promise<LeaseTimeToLive> {
    const lessor = this.stateMachine.lessor;
    if (this.raft.isLeader) {
      await this.linearizableBarrier();
      if (this.raft.isLeader && lessor.isPrimary)
        return lessor.timeToLive(id, this.env.clock.nowMs());
    }
    return this.propose<LeaseTimeToLive>({ kind: 'leaseTimeToLiveQuery', id });
  }

  /** The leader's side of a follower's TimeToLive; a lost answer times out the follower. */
  private answerLeaseQuery(answer: LeaseQueryAnswer): void {
    if (!this.raft.isLeader || this.stopping !== null) return;
    this.propose({ kind: 'leaseTimeToLiveAnswer', ...answer }).catch(() => undefined);
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
    this.checkServing();
    if (linearizable) await this.linearizableBarrier();
    return { header: this.header(), members: this.stateMachine.members() };
  }

  memberAdd(
    peerUrls: readonly string[],
    isLearner: boolean,
  ): Promise<MembersResponse & { readonly member: Member }> {
    this.checkServing();
    return this.cluster.memberAdd(peerUrls, isLearner);
  }

  memberRemove(id: bigint): Promise<MembersResponse> {
    this.checkServing();
    return this.cluster.memberRemove(id);
  }

  memberUpdate(id: bigint, peerUrls: readonly string[]): Promise<MembersResponse> {
    this.checkServing();
    return this.cluster.memberUpdate(id, peerUrls);
  }

  memberPromote(id: bigint): Promise<MembersResponse> {
    this.checkServing();
    return this.cluster.memberPromote(id);
  }

  async moveLeader(targetId: bigint): Promise<{ readonly header: ResponseHeader }> {
    this.checkServing();
    await this.cluster.moveLeader(targetId);
    return { header: this.header() };
  }

  /** What this member tells a member about to join (membership-join.ts). */
  clusterInfo(): Uint8Array {
    const members = this.stateMachine.members();
    return encodeClusterInfo({ clusterId: this.config.clusterId, members });
  }

  /** A leader about to stop hands leadership to its most caught-up voter, waiting at most
   *  `timeoutMs`; resolves with whether another member leads (always true on a follower). */
  handOverLeadership(timeoutMs: number): Promise<boolean> {
    if (this.stopping !== null || this.failure !== null) return Promise.resolve(false);
    return this.cluster.handOverLeadership(timeoutMs);
  }

  async status(): Promise<StatusResponse> {
    this.checkRunning();
    return memberStatus({
      header: this.header(),
      backend: this.env.backend,
      stateMachine: this.stateMachine,
      leader: this.raft.leader,
      commitIndex: this.raft.commitIndex,
      term: this.raft.term,
      appliedIndex: this.raft.appliedIndex,
      isLearner: this.cluster.isLearner,
    });
  }

  async hashKv(revision: number): Promise<HashKvResult> {
    this.checkServing();
    const result = hashKv(this.stateMachine.kv, revision);
    return {
      header: this.header(),
      hash: result.hash,
      compactRevision: result.compactRevision,
      hashRevision: result.hashRevision,
    };
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
    this.checkServing();
    const disarmed = await disarmAlarms(
      alarm,
      this.stateMachine.alarms,
      (request) => this.propose(request),
      (found) => {
        if (found.memberId === this.config.memberId && found.alarm === 'NOSPACE') {
          this.housekeeping.spaceAlarmCleared();
        }
      },
    );
    return { header: this.header(), alarms: disarmed };
  }

  async defragment(): Promise<{ readonly header: ResponseHeader }> {
    this.checkServing();
    await this.env.backend.reclaimSpace();
    return { header: this.header() };
  }

  /** The backend's full state, followed (as etcd's Snapshot RPC does) by a 32-byte SHA-256
   *  of everything before it, which etcdctl checks when it saves the stream. */
  snapshot(): AsyncIterable<Uint8Array> {
    this.checkServing();
    return withSha256Trailer(this.env.backend.snapshot());
  }
}
