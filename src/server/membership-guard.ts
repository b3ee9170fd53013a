/**
 * etcd's strict reconfiguration check (--strict-reconfig-check, on by default): a change is
 * refused when, given the members this member can reach right now, it could leave the cluster
 * without a working quorum. "Started" members are those that published their name (etcd's
 * definition); "reachable" ones have a live peer connection (the transport's liveness pings run
 * every heartbeat, so a dead peer drops out within a few of them). The member checking always
 * counts itself as both.
 */
import type { Member } from './server-api.ts';
import { ServerError } from './server-error.ts';

export interface ClusterView {
  readonly self: bigint;
  readonly members: readonly Member[];
  readonly reachable: (id: bigint) => boolean;
}

/** etcd 3.4 allows one learner at a time (--experimental-max-learners arrived in 3.6). */
export const MAX_LEARNERS = 1;

const voters = (view: ClusterView): readonly Member[] =>
  view.members.filter((member) => !member.isLearner);
const started = (member: Member): boolean => member.name !== '';
const quorumOf = (size: number): number => Math.floor(size / 2) + 1;

function allVotersReachable(view: ClusterView): boolean {
  return voters(view).every((member) => member.id === view.self || view.reachable(member.id));
}

export function checkCanAdd(view: ClusterView, isLearner: boolean): void {
  if (isLearner) {
    const learners = view.members.filter((member) => member.isLearner).length;
    if (learners >= MAX_LEARNERS) throw new ServerError('too-many-learners');
  } else {
    const size = voters(view).length + 1;
    if (voters(view).filter(started).length < quorumOf(size)) {
      throw new ServerError('not-enough-started-members');
    }
  }
  if (!allVotersReachable(view)) throw new ServerError('unhealthy-cluster');
}

export function checkCanRemove(view: ClusterView, id: bigint): void {
  const target = view.members.find((member) => member.id === id);
  if (target === undefined) throw new ServerError('member-not-found');
  if (target.isLearner) return;
  const remaining = voters(view).filter((member) => member.id !== id);
  if (remaining.length === 0 || remaining.filter(started).length < quorumOf(remaining.length)) {
    throw new ServerError('not-enough-started-members');
  }
  // A member that is down already is not part of the working quorum: removing it is safe.
  if (id !== view.self && !view.reachable(id)) return;
  const all = voters(view);
  const active = all.filter((member) => member.id === view.self || view.reachable(member.id));
  if (active.length - 1 < quorumOf(all.length - 1)) {
    throw new ServerError('not-enough-started-members');
  }
}

export function checkCanPromote(view: ClusterView, id: bigint): void {
  const target = view.members.find((member) => member.id === id);
  if (target === undefined) throw new ServerError('member-not-found');
  if (!target.isLearner) throw new ServerError('not-learner');
  const size = voters(view).length + 1;
  // The promoted learner counts as started: it is replicating, or it could not be ready.
  if (voters(view).filter(started).length + 1 < quorumOf(size)) {
    throw new ServerError('not-enough-started-members');
  }
  if (!allVotersReachable(view)) throw new ServerError('unhealthy-cluster');
}

/** etcd's learner readiness: its log matches at least 90 % of the leader's. */
export const LEARNER_READY_PERCENT = 0.9;

export function learnerIsReady(learnerMatch: number, leaderMatch: number): boolean {
  return learnerMatch >= leaderMatch * LEARNER_READY_PERCENT;
}
