/**
 * A planned restart costs no election timeout: on SIGTERM the leader of a three-member sigild
 * cluster hands leadership to its most caught-up voter before it stops, so writes through the
 * other members resume well within one election timeout. Without the hand-over the followers
 * would first have to notice the silence (≥ one election timeout), then elect. The timeout is
 * longer than the default so that a loaded test machine (a hand-over took up to ~800 ms with
 * both cores saturated) cannot blur the two cases: the hand-over does not depend on it.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { startSigildCluster, withClusterLogs } from '../support/sigild-cluster.ts';

const ELECTION_MS = 2500;

/**
 * A fast resumption alone does not prove the hand-over: followers also campaign at once when
 * the leader's streams close as its process exits. The stopping member's own log must show that
 * it became a follower of another leader after it was told to stop and before it stopped.
 */
function assertHandedOverBeforeExit(log: string): void {
  const lines = log
    .slice(log.lastIndexOf('"msg":"stopping"'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; role?: string; leader?: string });
  const stoppedAt = lines.findIndex((line) => line.msg === 'stopped');
  const followedAt = lines.findIndex(
    (line) => line.msg === 'raft role changed' && line.role === 'follower' && line.leader !== '0',
  );
  assert.ok(
    followedAt > 0 && (stoppedAt === -1 || followedAt < stoppedAt),
    `the stopping leader handed over before it exited:\n${lines.map((line) => JSON.stringify(line)).join('\n')}`,
  );
}

describe('leadership hand-over on SIGTERM', { timeout: 120_000 }, () => {
  it('writes resume faster than an election timeout after the leader is stopped', async (t) => {
    const cluster = await startSigildCluster({ members: 3, electionMs: ELECTION_MS });
    try {
      await withClusterLogs(cluster, async () => {
        const gaps: number[] = [];
        for (let round = 0; round < 3; round++) {
          const leaderIndex = await cluster.waitForLeader();
          const others = cluster.members.filter((_, i) => i !== leaderIndex);
          const client = new SigilClient({
            endpoints: others.map((member) => member.endpoint),
            commandTimeoutMs: 3_000,
          });
          await client.put('warm', 'up');
          const stopped = cluster.kill(leaderIndex, 'SIGTERM');
          const signalledAt = performance.now();
          let resumedAt = 0;
          for (let i = 0; resumedAt === 0; i++) {
            try {
              await client.put('during-handover', `${round}-${i}`);
              // A write acknowledged by a leader other than the stopping one.
              const status = await client.maintenance.status({ endpoint: others[0].endpoint });
              if (status.leader !== 0n) resumedAt = performance.now();
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
            if (performance.now() - signalledAt > 10_000) break;
          }
          await stopped;
          client.close();
          assert.ok(resumedAt > 0, 'writes resumed');
          assertHandedOverBeforeExit(cluster.members[leaderIndex].log());
          gaps.push(resumedAt - signalledAt);
          await cluster.restart(leaderIndex);
        }
        const worst = Math.max(...gaps);
        assert.ok(
          worst < ELECTION_MS,
          `writes resumed after ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms`,
        );
        t.diagnostic(
          `writes resumed ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms after SIGTERM`,
        );
      });
    } finally {
      await cluster.stop();
    }
  });
});
