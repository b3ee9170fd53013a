/**
 * Candidate and pre-candidate behaviour: count votes, and yield to a leader of our term.
 */
import { assert } from '../base/index.ts';
import { OK, type RaftCore } from './raft-core.ts';
import { handleAppendEntries, handleHeartbeat, handleSnapshot } from './role-follower.ts';
import { NO_MEMBER, type Message, type StepResult } from './types.ts';
import { majoritySize } from './quorum.ts';

export function stepCandidate(raft: RaftCore, message: Message): StepResult {
  assert(raft.role === 'candidate' || raft.role === 'pre-candidate', 'only candidates');
  const myVoteResponse = raft.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  switch (message.type) {
    case 'MsgProp':
      return { ok: false, reason: 'no-leader' };
    case 'MsgReadIndex':
    case 'MsgTransferLeader':
      return { ok: false, reason: 'no-leader' };
    case 'MsgApp':
      // A leader of our term exists: it won, we lost.
      raft.becomeFollower(message.term, message.from);
      handleAppendEntries(raft, message);
      return OK;
    case 'MsgHeartbeat':
      raft.becomeFollower(message.term, message.from);
      handleHeartbeat(raft, message);
      return OK;
    case 'MsgSnap':
      raft.becomeFollower(message.term, message.from);
      handleSnapshot(raft, message);
      return OK;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      if (message.type === myVoteResponse) countVote(raft, message);
      return OK;
    default:
      return OK;
  }
}

function countVote(raft: RaftCore, message: Message): void {
  raft.tracker.recordVote(message.from, !message.reject);
  const { granted, result } = raft.tracker.tallyVotes();
  if (result === 'won') {
    assert(granted >= majoritySize(raft.tracker.voters.length), 'won with a majority');
    if (raft.role === 'pre-candidate') {
      raft.campaign('election');
    } else {
      raft.becomeLeader();
      raft.bcastAppend();
    }
  } else if (result === 'lost') {
    // A rejection from a higher term already demoted us in the prelude; here the term is
    // ours, so stay in it as a follower without a leader.
    raft.becomeFollower(raft.term, NO_MEMBER);
  }
}
