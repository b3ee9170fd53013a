/**
 * Leader behaviour: accept proposals, drive replication from the followers' answers, confirm
 * reads with a heartbeat round, check its quorum, and hand leadership over on request.
 */
import { assert, asLogIndex } from '../base/index.ts';
import { OK, type RaftCore } from './raft-core.ts';
import { NO_MEMBER, type Message, type StepResult } from './types.ts';
import type { Progress } from './progress.ts';
import { READ_INDEX_QUEUE_MAX } from './read-only.ts';

export function stepLeader(raft: RaftCore, message: Message): StepResult {
  assert(raft.role === 'leader', 'stepLeader runs only for the leader');
  switch (message.type) {
    case 'MsgBeat':
      raft.bcastHeartbeat();
      return OK;
    case 'MsgCheckQuorum':
      checkQuorum(raft);
      return OK;
    case 'MsgProp':
      return propose(raft, message);
    case 'MsgReadIndex':
      return readIndex(raft, message);
    case 'MsgTransferLeader':
      transferLeader(raft, message);
      return OK;
    default:
      break;
  }
  const progress = raft.tracker.progress.get(message.from);
  if (progress === undefined) return OK;
  switch (message.type) {
    case 'MsgAppResp':
      progress.recentActive = true;
      if (message.reject) handleAppendRejection(raft, progress, message);
      else handleAppendSuccess(raft, progress, message);
      return OK;
    case 'MsgHeartbeatResp':
      handleHeartbeatResponse(raft, progress, message);
      return OK;
    case 'MsgSnapStatus':
      if (progress.state !== 'snapshot') return OK;
      // After a failure nothing is known to have arrived: probe from match, not from the
      // snapshot's index.
      if (message.reject) progress.pendingSnapshot = asLogIndex(0);
      // Success or failure, wait for the follower's next answer (or a heartbeat response)
      // before sending again: after success it will tell us where its log ends.
      progress.becomeProbe();
      progress.msgAppFlowPaused = true;
      return OK;
    case 'MsgUnreachable':
      // Optimistic streaming to an unreachable member would only lose messages.
      if (progress.state === 'replicate') progress.becomeProbe();
      return OK;
    default:
      return OK;
  }
}

function checkQuorum(raft: RaftCore): void {
  assert(raft.tracker.progress.get(raft.id)?.recentActive !== false, 'a leader hears itself');
  if (!raft.tracker.quorumActive(raft.id)) {
    // Without a quorum we may be deposed already; stepping down stops serving stale reads.
    raft.becomeFollower(raft.term, NO_MEMBER);
    return;
  }
  for (const [id, progress] of raft.tracker.progress) {
    if (id !== raft.id) progress.recentActive = false;
  }
}

function propose(raft: RaftCore, message: Message): StepResult {
  assert(message.entries.length > 0, 'a proposal carries entries');
  if (!raft.tracker.progress.has(raft.id)) return { ok: false, reason: 'dropped' };
  if (raft.leadTransferee !== NO_MEMBER) {
    return { ok: false, reason: 'leader-transfer-in-progress' };
  }
  if (raft.selfRemovalPending) return { ok: false, reason: 'leader-removal-pending' };
  const lastIndex = raft.log.lastIndex();
  let confIndex = raft.pendingConfIndex;
  for (let i = 0; i < message.entries.length; i++) {
    if (message.entries[i].type !== 'conf-change') continue;
    // One membership change at a time: the next waits until the previous is applied.
    if (confIndex > raft.log.applied) return { ok: false, reason: 'conf-change-pending' };
    confIndex = asLogIndex(lastIndex + 1 + i);
  }
  const drafts = message.entries.map((entry) => ({ type: entry.type, data: entry.data }));
  if (!raft.appendEntry(drafts)) return { ok: false, reason: 'uncommitted-limit' };
  assert(raft.log.lastIndex() === lastIndex + drafts.length, 'every proposed entry appended');
  assert(confIndex <= raft.log.lastIndex(), 'the pending conf change is in the log');
  raft.pendingConfIndex = confIndex;
  raft.selfRemovalPending = raft.removesSelf(message.entries);
  raft.bcastAppendWithReady();
  return OK;
}

function readIndex(raft: RaftCore, message: Message): StepResult {
  if (raft.mutant === 'read-without-quorum') {
    // MUTANT read-without-quorum: answer at once, without committing in this term or
    // confirming that we are still the leader.
    raft.respondToReadIndex(message, raft.log.committed);
    return OK;
  }
  // Until an entry of this term commits, our commit index may lag what the previous leader
  // committed (§8); such reads wait and are released together.
  if (!raft.committedEntryInCurrentTerm()) {
    if (raft.pendingReadIndexMessages.length >= READ_INDEX_QUEUE_MAX) {
      return { ok: false, reason: 'dropped' };
    }
    raft.pendingReadIndexMessages.push(message);
    return OK;
  }
  return raft.startReadIndex(message);
}

function transferLeader(raft: RaftCore, message: Message): void {
  const target = message.from;
  const progress = raft.tracker.progress.get(target);
  if (progress === undefined || progress.isLearner) return;
  if (raft.leadTransferee === target) return;
  if (target === raft.id) {
    raft.abortLeaderTransfer();
    return;
  }
  raft.abortLeaderTransfer();
  // The transfer has one election timeout to finish (see tickHeartbeat).
  raft.electionElapsed = 0;
  raft.leadTransferee = target;
  if (progress.match === raft.log.lastIndex()) raft.sendTimeoutNow(target);
  else raft.sendAppend(target);
}

function handleAppendRejection(raft: RaftCore, progress: Progress, message: Message): void {
  let nextProbeIndex = message.rejectHint;
  if (message.logTerm > 0) {
    // The follower told us the term at its hint; skip our entries of larger terms too.
    nextProbeIndex = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
  }
  assert(nextProbeIndex <= message.index, 'the probe moves backwards on a rejection');
  if (!progress.maybeDecreaseTo(message.index, nextProbeIndex)) return;
  if (progress.state === 'replicate') progress.becomeProbe();
  raft.sendAppend(message.from);
}

function handleAppendSuccess(raft: RaftCore, progress: Progress, message: Message): void {
  assert(message.index <= raft.log.lastIndex(), 'a follower acknowledges only our entries');
  const wasPaused = progress.isPaused();
  if (!progress.maybeUpdate(message.index)) return;
  if (progress.state === 'probe') {
    progress.becomeReplicate();
  } else if (progress.state === 'snapshot' && progress.match + 1 >= raft.log.firstIndex()) {
    // The follower caught up from the snapshot and the log continues where it ends.
    progress.becomeProbe();
    progress.becomeReplicate();
  } else if (progress.state === 'replicate') {
    progress.inflights.freeLessOrEqual(message.index);
  }
  if (raft.maybeCommit()) {
    raft.bcastAppendWithReady();
  } else if (wasPaused) {
    raft.sendAppend(message.from);
  }
  // Fill the window: keep sending while entries remain and flow control allows. Each round
  // fills an inflight slot (or pauses a probe), so the loop ends within the capacity.
  let rounds = 0;
  while (raft.maybeSendAppend(message.from, false)) {
    rounds++;
    assert(rounds <= progress.inflights.capacity + 1, 'the send window is bounded');
  }
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    raft.sendTimeoutNow(message.from);
  }
}

function handleHeartbeatResponse(raft: RaftCore, progress: Progress, message: Message): void {
  progress.recentActive = true;
  progress.msgAppFlowPaused = false;
  if (progress.match < raft.log.lastIndex() || progress.state === 'probe') {
    raft.sendAppend(message.from);
  }
  if (message.context.length === 0) return;
  const acks = raft.readOnly.recvAck(message.from, message.context);
  if (acks === null || !raft.tracker.quorumReached(acks)) return;
  for (const status of raft.readOnly.advance(message.context)) {
    raft.respondToReadIndex(status.request, status.index);
  }
}
