/**
 * The member's part in the cluster: membership changes (membership.ts), leadership transfer
 * (leadership.ts), keeping the peer transport in step with the applied member list, knowing
 * whether this member is a learner, stopping after its own removal (member-removal.ts), and
 * promoting caught-up learners when --auto-promote-learners is set.
 */
import { asMemberId, type TimerHandle } from '../base/index.ts';
import { NO_MEMBER, type ConfChange, type ConfState, type Message } from '../raft/index.ts';
import { Leadership } from './leadership.ts';
import type { MemberConfig, MemberEnvironment } from './member-config.ts';
import { RemovalWatch } from './member-removal.ts';
import { Membership, type MembersResponse } from './membership.ts';
import { decodeMembershipContext } from './membership-change.ts';
import { decodeClusterInfo } from './membership-join.ts';
import type { RaftLoop } from './raft-loop.ts';
import type { Member, ResponseHeader } from './server-api.ts';

export interface MemberClusterDeps {
  readonly config: MemberConfig;
  readonly env: MemberEnvironment;
  readonly raft: RaftLoop;
  readonly members: () => readonly Member[];
  readonly nextRequestId: () => bigint;
  readonly linearizableBarrier: () => Promise<void>;
  readonly header: () => ResponseHeader;
  /** Stops the member after its removal was committed elsewhere. */
  readonly stopRemoved: () => void;
}

export class MemberCluster {
  readonly membership: Membership;
  readonly leadership: Leadership;
  private readonly removal: RemovalWatch;
  /** Peers the transport knows, with their URLs joined. */
  private peers = new Map<bigint, string>();
  private learner = false;
  private autoPromoteTimer: TimerHandle | null = null;
  private removalProbeTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly deps: MemberClusterDeps) {
    const { config, env, raft } = deps;
    const node = (): RaftLoop['node'] => raft.node;
    const kick = (): void => raft.kick();
    this.leadership = new Leadership({
      memberId: config.memberId,
      clock: env.clock,
      electionMs: config.electionMs,
      node,
      kick,
      members: deps.members,
    });
    this.membership = new Membership({
      memberId: config.memberId,
      clock: env.clock,
      electionMs: config.electionMs,
      requestTimeoutMs: config.requestTimeoutMs,
      wallClockMs: env.wallClockMs,
      members: deps.members,
      node,
      kick,
      nextRequestId: deps.nextRequestId,
      linearizableBarrier: deps.linearizableBarrier,
      reachable: (id) => env.transport.peerStats(asMemberId(id))?.connected === true,
      header: deps.header,
      ...(env.forwardPromote === undefined ? {} : { forwardPromote: env.forwardPromote }),
      moveLeadershipAwayFrom: (leader) =>
        this.leadership.moveAwayFrom(leader, config.requestTimeoutMs),
    });
    this.removal = new RemovalWatch({
      memberId: config.memberId,
      clock: env.clock,
      electionMs: config.electionMs,
      stop: () => {
        env.logger.warn(
          { memberId: config.memberId.toString(16) },
          'the member has been permanently removed from the cluster; stopping',
        );
        deps.stopRemoved();
      },
    });
  }

  get isLearner(): boolean {
    return this.learner;
  }

  get removed(): boolean {
    return this.removal.removed;
  }

  start(): void {
    this.refreshRole(this.deps.raft.node.status().confState);
    this.syncPeers();
    if (this.deps.config.autoPromoteLearners === true) this.scheduleAutoPromote();
    if (this.deps.env.fetchClusterInfo !== undefined) this.scheduleRemovalProbe();
  }

  stop(): void {
    this.stopped = true;
    this.autoPromoteTimer?.cancel();
    this.autoPromoteTimer = null;
    this.removalProbeTimer?.cancel();
    this.removalProbeTimer = null;
    this.removal.cancel();
    this.membership.stop();
    this.leadership.stop();
  }

  // ---- raft loop hooks ----

  /** Every inbound peer message, before raft steps it. */
  observe(message: Message): void {
    this.removal.observe(message);
  }

  acceptConfChange(change: ConfChange, current: ConfState): boolean {
    const verdict = this.membership.judgeApplied(change, current);
    return verdict.accepted && verdict.touchesRaft;
  }

  confChanged(change: ConfChange): void {
    const raft = this.deps.raft;
    const conf = raft.node.status().confState;
    this.refreshRole(conf);
    this.syncPeers();
    const self = asMemberId(this.deps.config.memberId);
    const context = decodeMembershipContext(change.context);
    if (context.action === 'remove' && change.memberId === self && !this.isMember(conf)) {
      this.removal.selfRemoved(raft.commitIndex);
    }
    // A cluster of one need not wait an election timeout for itself (etcd fast-forwards too);
    // at bootstrap the configuration only appears when entries 1..n are applied. Raft refuses
    // to campaign while a conf change is unapplied (this one, until the Ready is advanced), so
    // the campaign waits for a timer turn.
    const alone = conf.voters.length === 1 && conf.voters[0] === self;
    if (alone && raft.leader === NO_MEMBER && !raft.isLeader) {
      this.deps.env.clock.setTimer(0, () => this.campaignAlone());
    }
  }

  private campaignAlone(): void {
    const raft = this.deps.raft;
    if (this.stopped || raft.isLeader || raft.leader !== NO_MEMBER) return;
    raft.node.campaign();
    raft.kick();
  }

  restored(): void {
    this.refreshRole(this.deps.raft.node.status().confState);
    this.syncPeers();
  }

  private isMember(conf: ConfState): boolean {
    const self = asMemberId(this.deps.config.memberId);
    return conf.voters.includes(self) || conf.learners.includes(self);
  }

  private refreshRole(conf: ConfState): void {
    this.learner = conf.learners.includes(asMemberId(this.deps.config.memberId));
  }

  /** Tells the transport about every member but this one (after start, restore, conf change),
   *  touching only what changed: re-adding a peer would drop its queue and connections. */
  syncPeers(): void {
    const transport = this.deps.env.transport;
    const current = new Map<bigint, string>();
    // A joiner that has applied nothing yet knows the cluster from its join plan.
    const applied = this.deps.members();
    const members = applied.length > 0 ? applied : this.deps.config.initialCluster;
    for (const member of members) {
      if (member.id === this.deps.config.memberId) continue;
      const urls = member.peerUrls.join(',');
      current.set(member.id, urls);
      const known = this.peers.get(member.id);
      if (known === undefined) transport.addPeer(asMemberId(member.id), member.peerUrls);
      else if (known !== urls) transport.updatePeer(asMemberId(member.id), member.peerUrls);
    }
    for (const id of this.peers.keys()) if (!current.has(id)) transport.removePeer(asMemberId(id));
    this.peers = current;
  }

  // ---- requests ----

  memberAdd(
    peerUrls: readonly string[],
    isLearner: boolean,
  ): Promise<MembersResponse & { readonly member: Member }> {
    return this.membership.add(peerUrls, isLearner);
  }

  memberRemove(id: bigint): Promise<MembersResponse> {
    return this.membership.remove(id);
  }

  memberUpdate(id: bigint, peerUrls: readonly string[]): Promise<MembersResponse> {
    return this.membership.update(id, peerUrls);
  }

  memberPromote(id: bigint): Promise<MembersResponse> {
    return this.membership.promote(id);
  }

  moveLeader(target: bigint): Promise<void> {
    return this.leadership.moveLeader(target, this.deps.config.requestTimeoutMs);
  }

  /** Before a planned stop: a leader hands over to its most caught-up voter (bounded). */
  handOverLeadership(timeoutMs: number): Promise<boolean> {
    return this.leadership.transferAway(timeoutMs);
  }

  // ---- removal probe (see member-removal.ts) ----

  private scheduleRemovalProbe(): void {
    const { config, env } = this.deps;
    this.removalProbeTimer = env.clock.setTimer(2 * config.electionMs, () => {
      this.removalProbeTimer = null;
      if (this.stopped) return;
      if (this.deps.raft.leader !== NO_MEMBER) {
        this.scheduleRemovalProbe();
        return;
      }
      void this.probeRemoval().finally(() => {
        if (!this.stopped) this.scheduleRemovalProbe();
      });
    });
  }

  private async probeRemoval(): Promise<void> {
    const fetch = this.deps.env.fetchClusterInfo;
    if (fetch === undefined) return;
    const { memberId, clusterId } = this.deps.config;
    const peers = this.deps.members().filter((member) => member.id !== memberId);
    const answers = await Promise.all(
      peers
        .flatMap((peer) => peer.peerUrls.slice(0, 1))
        .map((url) =>
          fetch(url).then(
            (bytes) => decodeClusterInfo(bytes),
            () => null,
          ),
        ),
    );
    const forgotten = answers.some(
      (info) =>
        info !== null &&
        info.clusterId === clusterId &&
        info.members.length > 0 &&
        !info.members.some((member) => member.id === memberId),
    );
    if (forgotten && !this.stopped) this.removal.removedElsewhere();
  }

  // ---- --auto-promote-learners ----

  private scheduleAutoPromote(): void {
    const { clock, logger } = this.deps.env;
    this.autoPromoteTimer = clock.setTimer(this.deps.config.heartbeatMs, () => {
      this.autoPromoteTimer = null;
      if (this.stopped) return;
      const raft = this.deps.raft;
      const ready = raft.isLeader
        ? this.deps
            .members()
            .filter((member) => member.isLearner && this.membership.learnerReady(member.id))
        : [];
      const next = ready[0];
      if (next === undefined) {
        this.scheduleAutoPromote();
        return;
      }
      this.membership
        .promote(next.id)
        .then(
          () => logger.info({ memberId: next.id.toString(16) }, 'promoted a caught-up learner'),
          (error: unknown) =>
            logger.warn({ memberId: next.id.toString(16), err: error }, 'auto-promotion failed'),
        )
        .finally(() => {
          if (!this.stopped && this.autoPromoteTimer === null) this.scheduleAutoPromote();
        });
    });
  }
}
