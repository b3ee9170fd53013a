/**
 * Follower behaviour: accept the leader's log, heartbeats and snapshots; forward what only a
 * leader can do (proposals, reads, leadership transfer) to the known leader.
 */
import { assert, asLogIndex } from '../base/index.ts';
import { OK, type RaftCore } from './raft-core.ts';
import { NO_MEMBER, type Message, type Snapshot, type StepResult } from './types.ts';

export function stepFollower(raft: RaftCore, message: Message): StepResult {
  assert(raft.role === 'follower', 'stepFollower runs only for followers');
  switch (message.type) {
    case 'MsgProp':
    case 'MsgReadIndex':
    case 'MsgTransferLeader':
      return forwardToLeader(raft, message);
    case 'MsgApp':
      hearFromLeader(raft, message);
      handleAppendEntries(raft, message);
      return OK;
    case 'MsgHeartbeat':
      hearFromLeader(raft, message);
      handleHeartbeat(raft, message);
      return OK;
    case 'MsgSnap':
      hearFromLeader(raft, message);
      handleSnapshot(raft, message);
      return OK;
    case 'MsgTimeoutNow':
      // The leader chose us: campaign now, skipping PreVote and the lease of the others.
      raft.hup('transfer');
      return OK;
    case 'MsgReadIndexResp':
      assert(message.from === raft.lead || raft.lead === NO_MEMBER, 'reads come from a leader');
      raft.readStates.push({ index: message.index, context: message.context });
      return OK;
    case 'MsgUnreachable':
      if (message.from === raft.lead && raft.preVote) leaderLost(raft);
      return OK;
    default:
      return OK;
  }
}

/** Ticks between the quick campaigns of two followers that lost the same leader. Members'
 *  ticks are not in phase, so one tick apart could still fire within a millisecond of each
 *  other; two ticks apart leave the first a whole tick for its pre-vote round. */
const LEADER_LOST_CAMPAIGN_GAP_TICKS = 2;

/**
 * The application could not reach our leader: its stream to it broke. When the leader's
 * process died, the kernel closed its sockets at once, so this arrives within milliseconds,
 * long before an election timeout of silence would. Departing from etcd-io/raft (which ignores
 * it on a follower), we forget the leader, which also gives up its lease so the other
 * followers' pre-votes are granted, and campaign after a few ticks instead of a whole
 * randomized election timeout.
 *
 * It is only a hint, and safe when wrong: the campaign is a pre-election (hence only with
 * PreVote), which changes no term, and a member that still hears the leader refuses it while
 * in lease; the leader's next heartbeat makes us its follower again. Followers that lost the
 * leader together are staggered by their rank among the remaining voters, so the first one's
 * pre-vote round is over before the next one starts and their votes do not split.
 */
function leaderLost(raft: RaftCore): void {
  const lost = raft.lead;
  raft.lead = NO_MEMBER;
  if (!raft.promotable()) return;
  const rank = raft.tracker.voters.filter((id) => id !== lost).indexOf(raft.id);
  assert(rank >= 0, 'a promotable member is a voter');
  const delayTicks = 1 + LEADER_LOST_CAMPAIGN_GAP_TICKS * rank;
  raft.electionElapsed = Math.max(
    raft.electionElapsed,
    raft.randomizedElectionTimeout - delayTicks,
  );
}

function forwardToLeader(raft: RaftCore, message: Message): StepResult {
  if (raft.lead === NO_MEMBER) return { ok: false, reason: 'no-leader' };
  assert(raft.lead !== raft.id, 'a follower never names itself leader');
  // A forwarded transfer keeps the target as its sender, which is how the leader reads it.
  const from = message.type === 'MsgTransferLeader' ? message.from : raft.id;
  if (message.type === 'MsgTransferLeader' && from === raft.lead) return OK;
  raft.send({
    type: message.type,
    to: raft.lead,
    from,
    index: message.index,
    logTerm: message.logTerm,
    entries: message.entries,
    commit: message.commit,
    context: message.context,
  });
  return OK;
}

function hearFromLeader(raft: RaftCore, message: Message): void {
  assert(message.term === raft.term, 'the term prelude has equalised terms');
  raft.electionElapsed = 0;
  raft.lead = message.from;
}

export function handleAppendEntries(raft: RaftCore, message: Message): void {
  const log = raft.log;
  if (message.index < log.committed) {
    // Everything up to commit is known to match; say so and let the leader catch up.
    raft.send({ type: 'MsgAppResp', to: message.from, index: log.committed });
    return;
  }
  const lastNewIndex = log.maybeAppend(
    message.index,
    message.logTerm,
    message.commit,
    message.entries,
  );
  if (lastNewIndex !== null) {
    raft.send({ type: 'MsgAppResp', to: message.from, index: lastNewIndex });
    return;
  }
  // Fast backtracking: point the leader at the last entry that could match, skipping a whole
  // conflicting term instead of one index per round trip.
  const hintIndex = asLogIndex(Math.min(message.index, log.lastIndex()));
  const hint = log.findConflictByTerm(hintIndex, message.logTerm);
  raft.send({
    type: 'MsgAppResp',
    to: message.from,
    index: message.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

export function handleHeartbeat(raft: RaftCore, message: Message): void {
  raft.log.commitTo(message.commit);
  raft.send({ type: 'MsgHeartbeatResp', to: message.from, context: message.context });
}

export function handleSnapshot(raft: RaftCore, message: Message): void {
  assert(message.snapshot !== null, 'MsgSnap carries a snapshot');
  if (restoreSnapshot(raft, message.snapshot)) {
    raft.send({ type: 'MsgAppResp', to: message.from, index: raft.log.lastIndex() });
  } else {
    raft.send({ type: 'MsgAppResp', to: message.from, index: raft.log.committed });
  }
}

/** Replaces the log by `snapshot`; false when it is stale or we already have its entries. */
function restoreSnapshot(raft: RaftCore, snapshot: Snapshot): boolean {
  const metadata = snapshot.metadata;
  assert(raft.role === 'follower', 'only a follower restores a snapshot');
  if (metadata.index <= raft.log.committed) return false;
  const confState = metadata.confState;
  // Unlike etcd-io/raft, a snapshot whose configuration predates our own addition is
  // accepted: the leader only sends to members of its configuration, and the conf change
  // that added us follows in the log. Refusing it would leave a new member stuck whenever the
  // application's latest snapshot is older than the change that added it.
  if (raft.log.matchTerm(metadata.index, metadata.term)) {
    // We have the entries already; the snapshot only tells us they are committed.
    raft.log.commitTo(metadata.index);
    return false;
  }
  raft.log.restore(snapshot);
  raft.tracker.progress.clear();
  raft.tracker.setConfState(confState, raft.log.lastIndex());
  assert(raft.log.lastIndex() === metadata.index, 'the log ends at the snapshot');
  assert(raft.log.committed === metadata.index, 'the snapshot is committed');
  return true;
}
