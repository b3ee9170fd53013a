/**
 * The pure parts of membership: judging a committed change against the configuration in force,
 * the join plan built from the existing members' answers, etcd's id derivation for added
 * members, and the strict reconfiguration guard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asMemberId } from '../../src/base/index.ts';
import type { ConfChange, ConfState } from '../../src/raft/index.ts';
import {
  encodeMembershipContext,
  judgeConfChange,
  decodeMembershipContext,
} from '../../src/server/membership-change.ts';
import { checkCanAdd, checkCanRemove } from '../../src/server/membership-guard.ts';
import { deriveAddedMemberId } from '../../src/server/membership-ids.ts';
import { discoverCluster, encodeClusterInfo } from '../../src/server/membership-join.ts';
import type { Member } from '../../src/server/index.ts';

const member = (id: bigint, extra: Partial<Member> = {}): Member => ({
  id,
  name: `m${id}`,
  peerUrls: [`http://m${id}:2380`],
  clientUrls: [],
  isLearner: false,
  ...extra,
});

const conf = (voters: bigint[], learners: bigint[] = []): ConfState => ({
  voters: voters.map(asMemberId),
  learners: learners.map(asMemberId),
});

function change(
  type: ConfChange['type'],
  id: bigint,
  action: 'add' | 'promote' | 'update' | 'remove',
): { change: ConfChange; context: ReturnType<typeof decodeMembershipContext> } {
  const context = encodeMembershipContext({
    action,
    requestId: 9n,
    member: action === 'add' || action === 'update' ? member(id) : null,
  });
  const built = { type, memberId: asMemberId(id), context };
  return { change: built, context: decodeMembershipContext(context) };
}

describe('membership parts', () => {
  it('judges each committed change against the configuration before it', () => {
    const judge = (c: ConfState, made: ReturnType<typeof change>) =>
      judgeConfChange(c, made.change, made.context);
    assert.deepEqual(judge(conf([1n]), change('add-voter', 2n, 'add')), {
      accepted: true,
      touchesRaft: true,
    });
    assert.deepEqual(judge(conf([1n, 2n]), change('add-voter', 2n, 'add')), {
      accepted: false,
      error: 'member-exists',
    });
    assert.deepEqual(judge(conf([1n], [2n]), change('add-voter', 2n, 'promote')).accepted, true);
    assert.deepEqual(judge(conf([1n, 2n]), change('add-voter', 2n, 'promote')), {
      accepted: false,
      error: 'not-learner',
    });
    // A promotion racing a removal must not bring the removed member back as a voter.
    assert.deepEqual(judge(conf([1n]), change('add-voter', 2n, 'promote')), {
      accepted: false,
      error: 'member-not-found',
    });
    assert.deepEqual(judge(conf([1n, 2n]), change('add-voter', 2n, 'update')), {
      accepted: true,
      touchesRaft: false,
    });
    assert.deepEqual(judge(conf([1n]), change('add-voter', 2n, 'update')), {
      accepted: false,
      error: 'member-not-found',
    });
    assert.deepEqual(judge(conf([1n]), change('remove-member', 1n, 'remove')), {
      accepted: false,
      error: 'not-enough-started-members',
    });
    assert.equal(judge(conf([1n], [2n]), change('remove-member', 2n, 'remove')).accepted, true);
  });

  it("derives an added member's id as etcd 3.4 does (peer URLs + Unix seconds)", () => {
    // Observed: etcd 3.4 member add --peer-urls http://127.0.0.1:23802 at 1795629307 s.
    assert.equal(
      deriveAddedMemberId(['http://127.0.0.1:23802'], 1795629307.4),
      12486965837594994616n,
    );
  });

  it('refuses changes that could lose the quorum with the members reachable now', () => {
    const members = [member(1n), member(2n), member(3n)];
    const allUp = { self: 1n, members, reachable: () => true };
    checkCanAdd(allUp, false);
    checkCanRemove(allUp, 2n);
    const oneDown = { self: 1n, members, reachable: (id: bigint) => id !== 3n };
    assert.throws(() => checkCanAdd(oneDown, false), /unhealthy cluster/);
    // Removing the member that is down is fine; removing a live one would leave one of two.
    checkCanRemove(oneDown, 3n);
    assert.throws(() => checkCanRemove(oneDown, 2n), /not enough started members/);
    const unstarted = [member(1n), member(2n), member(3n, { name: '' })];
    assert.throws(
      () =>
        checkCanAdd(
          {
            self: 1n,
            members: unstarted
              .slice(0, 2)
              .concat([member(3n, { name: '' }), member(4n, { name: '' })]),
            reachable: () => true,
          },
          false,
        ),
      /not enough started members/,
    );
  });

  it('joins by the member list the existing members agree on', async () => {
    const info = (clusterId: bigint) =>
      encodeClusterInfo({
        clusterId,
        members: [member(1n), member(7n, { name: '', peerUrls: ['http://new:2380'] })],
      });
    const plan = await discoverCluster({
      askUrls: ['http://m1:2380', 'http://down:2380'],
      selfPeerUrls: ['http://new:2380'],
      fetch: async (url) => {
        if (url.includes('down')) throw new Error('connection refused');
        return info(0xabcn);
      },
    });
    assert.equal(plan.memberId, 7n);
    assert.equal(plan.clusterId, 0xabcn);
    await assert.rejects(
      discoverCluster({
        askUrls: ['http://m1:2380'],
        selfPeerUrls: ['http://other:2380'],
        fetch: async () => info(0xabcn),
      }),
      /member add first/,
    );
    await assert.rejects(
      discoverCluster({
        askUrls: ['http://a:2380', 'http://b:2380'],
        selfPeerUrls: ['http://new:2380'],
        fetch: async (url) => info(url.includes('a:') ? 1n : 2n),
      }),
      /disagree on the cluster id/,
    );
    await assert.rejects(
      discoverCluster({
        askUrls: ['http://a:2380'],
        selfPeerUrls: ['http://new:2380'],
        fetch: async () => new TextEncoder().encode('not json'),
      }),
      /could not fetch/,
    );
  });
});
