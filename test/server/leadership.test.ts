/**
 * Handing leadership away before a planned stop picks a live voter even in the moment right
 * after a CheckQuorum round, when raft has forgotten which followers it heard from.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Leadership } from '../../src/server/leadership.ts';
import type { Member } from '../../src/server/server-api.ts';
import { handleReady, m, newNode, stabilize } from '../raft/cluster-fixture.ts';
import { ManualClock } from '../support/test-clock.ts';

const member = (id: number): Member => ({
  id: BigInt(id),
  name: `m${id}`,
  peerUrls: [],
  clientUrls: [],
  isLearner: false,
});

describe('Leadership.transferAway', () => {
  it('hands over right after a CheckQuorum round has cleared every follower’s activity', async () => {
    const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3]));
    const [leader] = nodes;
    leader.rawNode.campaign();
    stabilize(nodes);
    assert.equal(leader.rawNode.status().role, 'leader');

    // One election timeout of ticks with nothing delivered: the CheckQuorum round at its end
    // still finds the quorum (heard during the previous period) and then forgets everyone.
    const electionTicks = 10;
    for (let i = 0; i < electionTicks; i++) leader.rawNode.tick();
    handleReady(leader);
    const progress = leader.rawNode.status().progress;
    assert.ok(progress !== null, 'still the leader');
    assert.equal(progress.get(m(2))?.recentActive, false);
    assert.equal(progress.get(m(3))?.recentActive, false);

    const leadership = new Leadership({
      memberId: 1n,
      clock: new ManualClock(),
      electionMs: 1000,
      node: () => leader.rawNode,
      kick: () => undefined,
      members: () => [member(1), member(2), member(3)],
    });
    const handedOver = leadership.transferAway(3000);
    const transferee = leader.rawNode.status().leadTransferee;
    assert.ok(transferee === m(2) || transferee === m(3), `transfer started (to ${transferee})`);
    stabilize(nodes);
    leadership.leaderChanged(leader.rawNode.status().lead);
    assert.equal(await handedOver, true);
    assert.equal(nodes[Number(transferee) - 1].rawNode.status().role, 'leader');
  });
});
