/**
 * Leadership transfer: Maintenance.MoveLeader, handing leadership away before the leader is
 * removed, and before a leader stops on SIGTERM (so a planned restart costs no election
 * timeout). Raft abandons a transfer that has not finished within an election timeout, so a
 * wait longer than that re-asks.
 */
import { asMemberId, type Clock, type TimerHandle } from '../base/index.ts';
import { NO_MEMBER, type RawNode } from '../raft/index.ts';
import type { Member } from './server-api.ts';
import { ServerError } from './server-error.ts';

export interface LeadershipDeps {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly electionMs: number;
  readonly node: () => RawNode;
  readonly kick: () => void;
  readonly members: () => readonly Member[];
}

interface LeaderWaiter {
  readonly satisfied: (leader: bigint) => boolean;
  readonly done: (ok: boolean) => void;
}

export class Leadership {
  private readonly waiters = new Set<LeaderWaiter>();

  constructor(private readonly deps: LeadershipDeps) {}

  private get leader(): bigint {
    return this.deps.node().status().lead;
  }

  /** Called by the member whenever raft's soft state changes, with the leader it reports.
   *  Not status().lead, which can run ahead of the reported state: a stopping leader would then
   *  exit before the member acted on (and logged) the new leader it waited for. */
  leaderChanged(leader: bigint): void {
    for (const waiter of [...this.waiters]) if (waiter.satisfied(leader)) waiter.done(true);
  }

  /** MoveLeader: this member must lead; the target must be a voting member. */
  async moveLeader(target: bigint, timeoutMs: number): Promise<void> {
    if (this.leader !== this.deps.memberId) throw new ServerError('not-leader');
    const member = this.deps.members().find((candidate) => candidate.id === target);
    if (member === undefined || member.isLearner) throw new ServerError('bad-leader-transferee');
    if (target === this.deps.memberId) return;
    const moved = await this.transferTo(target, timeoutMs, (leader) => leader === target);
    if (!moved) throw new ServerError('leader-transfer-timed-out');
  }

  /** The voter (other than this member) whose log matches the leader's furthest, among those
   *  that look alive; null when this member does not lead or has no such voter. A follower
   *  looks alive when it was heard from since the last CheckQuorum round, or when replication
   *  to it streams (a lost connection turns it back to probing). The second test matters: each
   *  CheckQuorum round forgets every follower's activity until its next heartbeat response
   *  arrives, and a SIGTERM landing in that gap would otherwise find no voter to hand over to
   *  and cost the cluster a whole election timeout. Ties go to the one heard from. */
  mostCaughtUpVoter(): bigint | null {
    const progress = this.deps.node().status().progress;
    if (progress === null) return null;
    let best: { id: bigint; match: number; heard: boolean } | null = null;
    for (const [id, state] of progress) {
      if (id === this.deps.memberId || state.isLearner) continue;
      if (!state.recentActive && state.state !== 'replicate') continue;
      const better =
        best === null ||
        state.match > best.match ||
        (state.match === best.match && state.recentActive && !best.heard);
      if (better) best = { id, match: state.match, heard: state.recentActive };
    }
    return best?.id ?? null;
  }

  /** On the leader: hands leadership to the most caught-up voter; resolves with whether
   *  another member leads now (false: none could take over within `timeoutMs`). */
  async transferAway(timeoutMs: number): Promise<boolean> {
    if (this.leader !== this.deps.memberId) return true;
    const target = this.mostCaughtUpVoter();
    if (target === null) return false;
    const self = this.deps.memberId;
    return this.transferTo(target, timeoutMs, (leader) => leader !== NO_MEMBER && leader !== self);
  }

  /** Makes sure `leader` no longer leads, from any member: the leader transfers itself; a
   *  follower asks the leader (raft forwards the request) to hand over to this member if it
   *  votes, else to another voter. */
  async moveAwayFrom(leader: bigint, timeoutMs: number): Promise<void> {
    const self = this.deps.memberId;
    const others = (current: bigint): boolean => current !== NO_MEMBER && current !== leader;
    if (leader === self) {
      if (!(await this.transferAway(timeoutMs))) throw new ServerError('leader-transfer-timed-out');
      return;
    }
    const voters = this.deps.members().filter((member) => !member.isLearner);
    const target = voters.some((member) => member.id === self)
      ? self
      : voters.find((member) => member.id !== leader)?.id;
    if (target === undefined) throw new ServerError('not-enough-started-members');
    if (!(await this.transferTo(target, timeoutMs, others))) {
      throw new ServerError('leader-transfer-timed-out');
    }
  }

  private transferTo(
    target: bigint,
    timeoutMs: number,
    satisfied: (leader: bigint) => boolean,
  ): Promise<boolean> {
    const { clock } = this.deps;
    return new Promise<boolean>((resolve) => {
      const timers: TimerHandle[] = [];
      const waiter: LeaderWaiter = {
        satisfied,
        done: (ok) => {
          this.waiters.delete(waiter);
          for (const timer of timers) timer.cancel();
          resolve(ok);
        },
      };
      this.waiters.add(waiter);
      const ask = (): void => {
        if (!this.waiters.has(waiter)) return;
        this.deps.node().transferLeader(asMemberId(target));
        this.deps.kick();
        timers.push(clock.setTimer(this.deps.electionMs, ask));
      };
      timers.push(clock.setTimer(timeoutMs, () => waiter.done(false)));
      ask();
      if (satisfied(this.leader)) waiter.done(true);
    });
  }

  /** Releases every wait (the member is stopping). */
  stop(): void {
    for (const waiter of [...this.waiters]) waiter.done(false);
  }
}
