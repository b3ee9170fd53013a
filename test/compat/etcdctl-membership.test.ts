/**
 * Membership and leadership through Debian's etcdctl (3.4) against real sigild processes:
 * member add --learner → the new member joins (--initial-cluster-state existing) and catches up
 * → member promote; member add (voter); member update; member remove of a follower and of the
 * leader; move-leader; and the refusals, with etcd's exact messages (each checked against a real
 * etcd 3.4 by hand: "can only promote a learner member which is in sync with leader",
 * "rpc not supported for learner", "member not found", "Peer URLs already exists",
 * "too many learner members in cluster", "bad leader transferee").
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { etcdctl } from '../support/etcdctl-runner.ts';
import {
  type SigildCluster,
  startSigildCluster,
  withClusterLogs,
} from '../support/sigild-cluster.ts';
import { waitFor } from '../support/wait-for.ts';
import { reserveJoiner, startJoiner, type SigildJoiner } from '../e2e/sigild-joiner.ts';

interface ListedMember {
  readonly ID: string;
  readonly name?: string;
  readonly peerURLs: string[];
  readonly clientURLs?: string[];
  readonly isLearner?: boolean;
}

async function memberList(endpoints: readonly string[]): Promise<ListedMember[]> {
  const out = await etcdctl(endpoints, ['member', 'list', '-w', 'json']);
  assert.equal(out.code, 0, out.stderr);
  // etcdctl prints uint64 ids as JSON numbers, beyond what a double holds: keep them as text.
  const text = out.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"');
  return (JSON.parse(text) as { members: ListedMember[] }).members;
}

const hex = (decimal: string): string => BigInt(decimal).toString(16);

async function leaderEndpoint(cluster: SigildCluster): Promise<string> {
  return cluster.endpoints[await cluster.waitForLeader()];
}

async function idOf(endpoint: string): Promise<string> {
  const out = await etcdctl([endpoint], ['endpoint', 'status', '-w', 'json']);
  const match = /"member_id":(\d+)/.exec(out.stdout);
  assert.ok(match !== null, out.stdout + out.stderr);
  return hex(match[1]);
}

describe('etcdctl member and move-leader against sigild', { timeout: 180_000 }, () => {
  it('add learner, catch up, promote; refusals while it lags', async () => {
    const cluster = await startSigildCluster({ members: 3 });
    const joiners: SigildJoiner[] = [];
    try {
      await withClusterLogs(cluster, async () => {
        const client = new SigilClient({ endpoints: [...cluster.endpoints] });
        for (let i = 0; i < 200; i++) await client.put(`key${i}`, `value${i}`);
        client.close();
        const reserved = await reserveJoiner('sigil3');
        const added = await etcdctl(cluster.endpoints, [
          'member',
          'add',
          'sigil3',
          '--learner',
          `--peer-urls=${reserved.peerUrl}`,
        ]);
        assert.equal(added.code, 0, added.stderr);
        // etcdctl prints both ids with %16x: an id shorter than 16 digits is space-padded.
        const id = /Member\s+([0-9a-f]+) added to cluster\s+([0-9a-f]+)/.exec(added.stdout)?.[1];
        assert.ok(id !== undefined, added.stdout);
        assert.match(added.stdout, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
        const lagging = await etcdctl(cluster.endpoints, ['member', 'promote', id]);
        assert.equal(
          lagging.stderr,
          'Error: etcdserver: can only promote a learner member which is in sync with leader',
        );
        const second = await etcdctl(cluster.endpoints, [
          'member',
          'add',
          'sigil4',
          '--learner',
          '--peer-urls=http://127.0.0.1:1',
        ]);
        assert.equal(second.stderr, 'Error: etcdserver: too many learner members in cluster');
        const taken = await etcdctl(cluster.endpoints, [
          'member',
          'add',
          'x',
          `--peer-urls=${cluster.members[0].peerUrl}`,
        ]);
        assert.equal(taken.stderr, 'Error: etcdserver: Peer URLs already exists');
        joiners.push(startJoiner(cluster, reserved));
        await waitFor(
          'the learner to serve the last key',
          async () => {
            const out = await etcdctl([reserved.endpoint], ['get', 'key199', '--consistency=s']);
            return out.stdout.includes('value199') ? true : undefined;
          },
          30_000,
          200,
        );
        const refused = await etcdctl([reserved.endpoint], ['put', 'a', 'b']);
        assert.equal(refused.stderr, 'Error: etcdserver: rpc not supported for learner');
        const promoted = await waitFor(
          'the promotion',
          async () => {
            const out = await etcdctl(cluster.endpoints, ['member', 'promote', id]);
            return out.code === 0 ? out : undefined;
          },
          20_000,
          300,
        );
        assert.match(
          promoted.stdout,
          new RegExp(`Member\\s+${id} promoted in cluster\\s+[0-9a-f]+`),
        );
        // Unlike etcd, sigild serves clients before its name is published (housekeeping.ts
        // publishes as soon as it knows a leader): the name may reach the list a moment later.
        const members = await waitFor('the joiner to be named in the member list', async () => {
          const listed = await memberList(cluster.endpoints);
          return listed.some((member) => hex(member.ID) === id && member.name !== undefined)
            ? listed
            : undefined;
        });
        assert.equal(members.length, 4);
        const joined = members.find((member) => hex(member.ID) === id);
        assert.equal(joined?.isLearner ?? false, false);
        assert.equal(joined?.name, 'sigil3');
        const write = await waitFor('a write through the promoted member', async () => {
          const out = await etcdctl([reserved.endpoint], ['put', 'from-joiner', '1']);
          return out.code === 0 ? out : undefined;
        });
        assert.equal(write.stdout.trim(), 'OK');
      });
    } finally {
      await Promise.all(joiners.map((joiner) => joiner.stop()));
      await cluster.stop();
    }
  });

  it('update, remove a follower (it stops and cannot come back), remove the leader', async () => {
    const cluster = await startSigildCluster({ members: 3 });
    try {
      await withClusterLogs(cluster, async () => {
        const missing = await etcdctl(cluster.endpoints, ['member', 'remove', '1234']);
        assert.equal(missing.stderr, 'Error: etcdserver: member not found');
        const leader = await leaderEndpoint(cluster);
        const followers = cluster.members.filter((member) => member.endpoint !== leader);
        const followerId = await idOf(followers[0].endpoint);
        const moved = 'http://127.0.0.1:1';
        const updated = await etcdctl(cluster.endpoints, [
          'member',
          'update',
          followerId,
          `--peer-urls=${moved}`,
        ]);
        assert.match(updated.stdout, new RegExp(`Member\\s+${followerId} updated in cluster`));
        let members = await memberList(cluster.endpoints);
        assert.deepEqual(members.find((m) => hex(m.ID) === followerId)?.peerURLs, [moved]);
        await etcdctl(cluster.endpoints, [
          'member',
          'update',
          followerId,
          `--peer-urls=${followers[0].peerUrl}`,
        ]);
        // Remove that follower: its process stops by itself, and refuses to come back.
        const removed = await etcdctl([leader], ['member', 'remove', followerId]);
        assert.match(removed.stdout, new RegExp(`Member\\s+${followerId} removed from cluster`));
        const index = cluster.members.indexOf(followers[0]);
        await waitFor(
          'the removed member to exit',
          () =>
            followers[0].process !== null && followers[0].process.exitCode !== null
              ? true
              : undefined,
          15_000,
        );
        assert.equal(followers[0].process?.exitCode, 0);
        await cluster.restart(index).catch(() => undefined);
        await waitFor(
          'the restarted removed member to give up',
          () =>
            followers[0].log().includes('permanently removed from the cluster') &&
            followers[0].process?.exitCode !== null
              ? true
              : undefined,
          15_000,
        );
        // (It exits at once when its data dir knows the removal, else once a peer's member
        // list shows it; either way it never serves again.)
        // Remove the leader, asking the remaining follower: leadership moves first.
        const leaderId = await idOf(leader);
        const survivor = followers[1].endpoint;
        const gone = await etcdctl([survivor], ['member', 'remove', leaderId]);
        assert.match(
          gone.stdout,
          new RegExp(`Member\\s+${leaderId} removed from cluster`),
          gone.stderr,
        );
        const put = await waitFor(
          'a write on the survivor',
          async () => {
            const out = await etcdctl([survivor], ['put', 'after', '1']);
            return out.code === 0 ? out : undefined;
          },
          15_000,
        );
        assert.equal(put.stdout.trim(), 'OK');
        members = await memberList([survivor]);
        assert.equal(members.length, 1);
      });
    } finally {
      await cluster.stop();
    }
  });

  it('move-leader hands leadership over; refusals match etcd', async () => {
    const cluster = await startSigildCluster({ members: 3 });
    try {
      await withClusterLogs(cluster, async () => {
        const leader = await leaderEndpoint(cluster);
        const follower = cluster.endpoints.find((endpoint) => endpoint !== leader)!;
        const leaderId = await idOf(leader);
        const targetId = await idOf(follower);
        const bad = await etcdctl(cluster.endpoints, ['move-leader', '1234']);
        assert.equal(bad.stderr, 'Error: etcdserver: bad leader transferee');
        const out = await etcdctl(cluster.endpoints, ['move-leader', targetId]);
        assert.equal(out.stdout.trim(), `Leadership transferred from ${leaderId} to ${targetId}`);
        assert.equal(cluster.endpoints[await cluster.waitForLeader()], follower);
      });
    } finally {
      await cluster.stop();
    }
  });
});
