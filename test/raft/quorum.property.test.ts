/** The optimised quorum math against naive definitions, over random configurations. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { asLogIndex, asMemberId, type MemberId } from '../../src/base/index.ts';
import { majorityCommittedIndex, voteResult } from '../../src/raft/index.ts';

/** The largest index acknowledged by more than half of the voters, by trying every value. */
function naiveCommittedIndex(voters: readonly MemberId[], acked: Map<MemberId, number>): number {
  if (voters.length === 0) return 0;
  let best = 0;
  const candidates = new Set([0, ...voters.map((id) => acked.get(id) ?? 0)]);
  for (const candidate of candidates) {
    const count = voters.filter((id) => (acked.get(id) ?? 0) >= candidate).length;
    if (count * 2 > voters.length && candidate > best) best = candidate;
  }
  return best;
}

function naiveVoteResult(voters: readonly MemberId[], votes: Map<MemberId, boolean>): string {
  if (voters.length === 0) return 'won';
  const yes = voters.filter((id) => votes.get(id) === true).length;
  const no = voters.filter((id) => votes.get(id) === false).length;
  if (yes * 2 > voters.length) return 'won';
  if (no * 2 >= voters.length) return 'lost';
  return 'pending';
}

const configuration = fc
  .uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 9 })
  .map((ids) => ids.map((id) => asMemberId(BigInt(id))));

test('majorityCommittedIndex agrees with the naive definition', () => {
  fc.assert(
    fc.property(
      configuration,
      fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.nat(40))),
      (voters, acks) => {
        // Acknowledgements may come from non-voters too; they must not count.
        const acked = new Map(acks.map(([id, index]) => [asMemberId(BigInt(id)), index]));
        const fast = majorityCommittedIndex(voters, (id) => {
          const index = acked.get(id);
          return index === undefined ? undefined : asLogIndex(index);
        });
        assert.equal(fast, naiveCommittedIndex(voters, acked));
      },
    ),
    { numRuns: 10_000 },
  );
});

test('voteResult agrees with the naive definition', () => {
  fc.assert(
    fc.property(
      configuration,
      fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.boolean())),
      (voters, ballots) => {
        const votes = new Map(ballots.map(([id, granted]) => [asMemberId(BigInt(id)), granted]));
        assert.equal(voteResult(voters, votes), naiveVoteResult(voters, votes));
      },
    ),
    { numRuns: 10_000 },
  );
});

test('examples: five voters commit at the third-highest acknowledgement', () => {
  const voters = [1n, 2n, 3n, 4n, 5n].map((id) => asMemberId(id));
  const acked = new Map(voters.map((id, i) => [id, asLogIndex([9, 3, 7, 5, 1][i])]));
  assert.equal(
    majorityCommittedIndex(voters, (id) => acked.get(id)),
    5,
  );
  assert.equal(
    majorityCommittedIndex([], () => asLogIndex(3)),
    0,
  );
});
