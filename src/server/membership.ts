/**
 * Membership changes requested through the Cluster API (etcd's MemberAdd / Remove / Update /
 * Promote): checks against the current member list (after a linearizable barrier, so the list is
 * the cluster's latest), etcd's strict reconfiguration guard, then a conf-change proposal that
 * is answered when it is applied here.
 *
 * A proposal made on a follower is forwarded by raft and may be dropped (no leader, a change
 * already in flight); it is proposed again every election timeout until applied or the request
 * times out. A duplicate is harmless: every member judges each applied change again
 * (membership-change.ts), and a repeat of an applied change is refused without effect.
 */
import { asMemberId, type Clock, type TimerHandle } from '../base/index.ts';
import type { ConfChange, ConfChangeType, ConfState, RawNode } from '../raft/index.ts';
import {
  checkCanAdd,
  checkCanPromote,
  checkCanRemove,
  learnerIsReady,
  type ClusterView,
} from './membership-guard.ts';
import {
  decodeMembershipContext,
  encodeMembershipContext,
  judgeConfChange,
  type ConfChangeVerdict,
  type MembershipContext,
} from './membership-change.ts';
import { checkPeerUrls, deriveAddedMemberId } from './membership-ids.ts';
import type { Member, MembersAnswer, ResponseHeader } from './server-api.ts';
import { ServerError } from './server-error.ts';

export interface MembershipDeps {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
  readonly wallClockMs: () => number;
  readonly members: () => readonly Member[];
  readonly node: () => RawNode;
  readonly kick: () => void;
  readonly nextRequestId: () => bigint;
  /** Resolves once this member has applied everything committed when it was called. */
  readonly linearizableBarrier: () => Promise<void>;
  readonly reachable: (id: bigint) => boolean;
  readonly header: () => ResponseHeader;
  readonly forwardPromote?: (leaderClientUrls: readonly string[], id: bigint) => Promise<void>;
  /** Hands leadership away from `leader` before it is removed (leadership.ts). */
  readonly moveLeadershipAwayFrom: (leader: bigint) => Promise<void>;
}

export type MembersResponse = MembersAnswer;

type Waiter = (verdict: ConfChangeVerdict) => void;

export class Membership {
  private readonly waiters = new Map<bigint, Waiter>();

  constructor(private readonly deps: MembershipDeps) {}

  private view(): ClusterView {
    return {
      self: this.deps.memberId,
      members: this.deps.members(),
      reachable: this.deps.reachable,
    };
  }

  private respond(): MembersResponse {
    return { header: this.deps.header(), members: this.deps.members() };
  }

  async add(
    peerUrls: readonly string[],
    isLearner: boolean,
  ): Promise<MembersResponse & { readonly member: Member }> {
    checkPeerUrls(peerUrls);
    await this.deps.linearizableBarrier();
    const view = this.view();
    const taken = new Set(view.members.flatMap((member) => member.peerUrls));
    if (peerUrls.some((url) => taken.has(url))) throw new ServerError('peer-url-exists');
    checkCanAdd(view, isLearner);
    const id = deriveAddedMemberId(peerUrls, this.deps.wallClockMs() / 1000);
    if (view.members.some((member) => member.id === id)) throw new ServerError('member-exists');
    const member: Member = { id, name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner };
    await this.change(isLearner ? 'add-learner' : 'add-voter', id, 'add', member);
    return { ...this.respond(), member };
  }

  async remove(id: bigint): Promise<MembersResponse> {
    await this.deps.linearizableBarrier();
    checkCanRemove(this.view(), id);
    // Removing the leader: hand leadership over first, so the removal is committed and
    // applied by a leader that stays (ARCHITECTURE §9, FINDINGS §3).
    if (id === this.deps.node().status().lead) await this.deps.moveLeadershipAwayFrom(id);
    await this.change('remove-member', id, 'remove', null);
    return this.respond();
  }

  async update(id: bigint, peerUrls: readonly string[]): Promise<MembersResponse> {
    checkPeerUrls(peerUrls);
    await this.deps.linearizableBarrier();
    const members = this.deps.members();
    const target = members.find((member) => member.id === id);
    if (target === undefined) throw new ServerError('member-not-found');
    const taken = new Set(members.filter((m) => m.id !== id).flatMap((m) => m.peerUrls));
    if (peerUrls.some((url) => taken.has(url))) throw new ServerError('peer-url-exists');
    const updated: Member = { ...target, peerUrls: [...peerUrls] };
    await this.change(target.isLearner ? 'add-learner' : 'add-voter', id, 'update', updated);
    return this.respond();
  }

  async promote(id: bigint): Promise<MembersResponse> {
    await this.deps.linearizableBarrier();
    checkCanPromote(this.view(), id);
    const status = this.deps.node().status();
    if (status.progress === null) {
      // etcd forwards a promotion to the leader, which alone tracks the learner's progress.
      const leader = this.deps.members().find((member) => member.id === status.lead);
      const forward = this.deps.forwardPromote;
      if (forward === undefined || leader === undefined || leader.clientUrls.length === 0) {
        throw new ServerError('not-leader');
      }
      await forward(leader.clientUrls, id);
      await this.deps.linearizableBarrier();
      return this.respond();
    }
    if (!this.learnerReady(id)) throw new ServerError('learner-not-ready');
    await this.change('add-voter', id, 'promote', null);
    return this.respond();
  }

  /** Whether `id` is a learner whose log is close enough to the leader's to vote (leader
   *  only; elsewhere nobody knows how far the learner got). */
  learnerReady(id: bigint): boolean {
    const status = this.deps.node().status();
    const learner = status.progress?.get(asMemberId(id));
    const leader = status.progress?.get(status.id);
    if (learner === undefined || leader === undefined || !learner.isLearner) return false;
    return learnerIsReady(learner.match, leader.match);
  }

  /** Proposes a change and waits for it to be applied here; throws etcd's error when the
   *  applied change was refused. */
  private async change(
    type: ConfChangeType,
    id: bigint,
    action: MembershipContext['action'],
    member: Member | null,
  ): Promise<void> {
    const requestId = this.deps.nextRequestId();
    const change: ConfChange = {
      type,
      memberId: asMemberId(id),
      context: encodeMembershipContext({ action, requestId, member }),
    };
    const verdict = await this.proposeUntilApplied(requestId, change);
    if (!verdict.accepted) throw new ServerError(verdict.error);
  }

  private proposeUntilApplied(requestId: bigint, change: ConfChange): Promise<ConfChangeVerdict> {
    const { clock } = this.deps;
    const deadline = clock.nowMs() + this.deps.requestTimeoutMs;
    return new Promise<ConfChangeVerdict>((resolve, reject) => {
      let timer: TimerHandle | null = null;
      const attempt = (): void => {
        if (!this.waiters.has(requestId)) return;
        if (clock.nowMs() >= deadline) {
          this.waiters.delete(requestId);
          reject(new ServerError('timed-out'));
          return;
        }
        this.deps.node().proposeConfChange(change);
        this.deps.kick();
        timer = clock.setTimer(this.deps.electionMs, attempt);
      };
      this.waiters.set(requestId, (verdict) => {
        timer?.cancel();
        this.waiters.delete(requestId);
        resolve(verdict);
      });
      // Proposed from a timer, not inline: the caller may be inside a raft loop hook.
      timer = clock.setTimer(0, attempt);
    });
  }

  /** The raft loop's acceptConfChange hook: judges a committed change against the
   *  configuration in force before it, and answers the request that proposed it. */
  judgeApplied(change: ConfChange, current: ConfState): ConfChangeVerdict {
    const context = decodeMembershipContext(change.context);
    const verdict = judgeConfChange(current, change, context);
    this.waiters.get(context.requestId)?.(verdict);
    return verdict;
  }

  /** Fails every waiting request (the member is stopping). */
  stop(): void {
    for (const waiter of [...this.waiters.values()]) {
      waiter({ accepted: false, error: 'stopped' });
    }
  }
}
