/**
 * Majority quorum math over a set of voters, free of any raft state so it can be checked
 * against a naive model (test/raft/quorum.property.test.ts). Only simple majorities exist here:
 * membership changes one member at a time never needs joint quorums.
 */
import { assert, asLogIndex, type LogIndex, type MemberId } from '../base/index.ts';

export type VoteResult = 'won' | 'lost' | 'pending';

/** Smallest number of voters that forms a majority of `voterCount`. */
export function majoritySize(voterCount: number): number {
  assert(Number.isInteger(voterCount) && voterCount >= 0, 'voter count must be a natural');
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index that a majority of voters has acknowledged. A voter without an
 * acknowledgement counts as 0. An empty configuration commits nothing.
 */
export function majorityCommittedIndex(
  voters: readonly MemberId[],
  acked: (id: MemberId) => LogIndex | undefined,
): LogIndex {
  if (voters.length === 0) return asLogIndex(0);
  const indexes = voters.map((id) => acked(id) ?? 0);
  // Sorting descending, the majority-th largest value is acknowledged by a majority and no
  // larger value is.
  indexes.sort((left, right) => right - left);
  const committed = indexes[majoritySize(voters.length) - 1];
  assert(committed >= 0, 'acknowledged indexes are never negative');
  assert(committed <= indexes[0], 'a quorum index never exceeds the highest acknowledgement');
  return asLogIndex(committed);
}

/**
 * Tallies votes among `voters`; votes from non-voters (learners, removed members) are ignored.
 * An empty configuration wins by convention, which never happens in practice because the
 * last voter cannot be removed.
 */
export function voteResult(
  voters: readonly MemberId[],
  votes: ReadonlyMap<MemberId, boolean>,
): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  assert(granted + missing <= voters.length, 'a voter is counted at most once');
  const needed = majoritySize(voters.length);
  if (granted >= needed) return 'won';
  if (granted + missing >= needed) return 'pending';
  return 'lost';
}
