/**
 * Restarts under load: `cycles` rounds of SIGKILL of one member (the leader every third round,
 * a random follower otherwise) while the clients write, a moment down, then a restart, waiting
 * until the member serves again and agrees on the leader before the next round. One member is
 * down at a time, so a quorum is always up: the run's longest stretch without a successful write
 * measures how available the cluster stayed.
 */
import type { Random } from '../../src/base/index.ts';
import type { ChaosCluster } from './chaos-cluster.ts';
import type { NemesisLog } from './nemesis.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runRestartCycles(
  cluster: ChaosCluster,
  cycles: number,
  random: Random,
  log: NemesisLog,
  isStopping: () => boolean,
): Promise<void> {
  for (let cycle = 1; cycle <= cycles && !isStopping(); cycle++) {
    const leader = await cluster.waitForLeader(30_000);
    const leaderRound = cycle % 3 === 0;
    const followers = cluster.members.map((m) => m.index).filter((index) => index !== leader);
    const victim = leaderRound ? leader : followers[random.int(followers.length)];
    const downMs = 300 + random.int(1_500);
    log.count(victim === leader ? 'kill leader' : 'kill follower');
    log.note(
      `cycle ${cycle}: SIGKILL member ${victim}${victim === leader ? ' (leader)' : ''}, down ${downMs} ms`,
    );
    await cluster.kill(victim);
    await sleep(downMs);
    await cluster.restart(victim);
    // Back when it serves and agrees with the others on a live leader.
    await cluster.waitForLeader(30_000);
    await sleep(200 + random.int(800));
  }
}
