/**
 * sigilctl member add / update / promote / remove and move-leader against real sigild
 * processes started with --auto-promote-learners: sigilctl prints what etcdctl 3.4 prints for
 * the same change (ids and URLs aside), and a learner that catches up is promoted by the leader
 * without anyone asking.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { lastErrorLine, runSigilctlInProcess } from '../support/cli-runners.ts';
import { etcdctl } from '../support/etcdctl-runner.ts';
import { startSigildCluster, withClusterLogs } from '../support/sigild-cluster.ts';
import { waitFor } from '../support/wait-for.ts';
import { reserveJoiner, startJoiner, type SigildJoiner } from '../e2e/sigild-joiner.ts';

/** Ids, cluster ids and URLs differ between two adds; the shape must not. */
const shape = (text: string): string =>
  text
    .replace(/Member +[0-9a-f]+/g, 'Member <id>')
    .replace(/cluster +[0-9a-f]+/g, 'cluster <cid>')
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, '<url>')
    .replace(/[a-z0-9-]+=<url>/g, '<n>=<url>')
    .replace(/ETCD_NAME="[^"]*"/, 'ETCD_NAME=<name>');

describe('sigilctl member commands', { timeout: 180_000 }, () => {
  it('print as etcdctl does; a caught-up learner is promoted automatically', async () => {
    const cluster = await startSigildCluster({
      members: 3,
      extraArgs: ['--auto-promote-learners'],
    });
    const joiners: SigildJoiner[] = [];
    try {
      await withClusterLogs(cluster, async () => {
        const endpoints = `--endpoints=${cluster.endpoints.join(',')}`;
        // Add with each tool, remove again with the other, and compare the transcripts.
        const first = await reserveJoiner('via-sigilctl');
        const ours = await runSigilctlInProcess([
          endpoints,
          'member',
          'add',
          'via-sigilctl',
          `--peer-urls=${first.peerUrl}`,
          '--learner',
        ]);
        assert.equal(ours.code, 0, ours.stderr);
        const ourId = /Member +([0-9a-f]+) added/.exec(ours.stdout)![1];
        const removed = await etcdctl(cluster.endpoints, ['member', 'remove', ourId]);
        assert.equal(removed.code, 0, removed.stderr);
        const second = await reserveJoiner('via-etcdctl');
        const theirs = await etcdctl(cluster.endpoints, [
          'member',
          'add',
          'via-etcdctl',
          `--peer-urls=${second.peerUrl}`,
          '--learner',
        ]);
        assert.equal(theirs.code, 0, theirs.stderr);
        assert.equal(shape(ours.stdout), shape(theirs.stdout));
        const theirId = /Member +([0-9a-f]+) added/.exec(theirs.stdout)![1];
        const unknown = await runSigilctlInProcess([endpoints, 'member', 'remove', '1234']);
        assert.equal(lastErrorLine(unknown), 'Error: etcdserver: member not found');
        // Start the learner etcdctl added: the leader promotes it once it has caught up.
        const client = new SigilClient({ endpoints: [...cluster.endpoints] });
        for (let i = 0; i < 50; i++) await client.put(`k${i}`, `v${i}`);
        joiners.push(startJoiner(cluster, second));
        await waitFor(
          'the learner to be promoted automatically',
          async () => {
            const list = await client.cluster.memberList({ linearizable: true });
            const joined = list.members.find((m) => m.id === BigInt(`0x${theirId}`));
            return joined !== undefined && !joined.isLearner ? true : undefined;
          },
          30_000,
          200,
        ).catch((error: Error) => {
          throw new Error(`${error.message}\nthe learner's log:\n${joiners[0].log().slice(-4000)}`);
        });
        client.close();
        const update = await runSigilctlInProcess([
          endpoints,
          'member',
          'update',
          theirId,
          `--peer-urls=${second.peerUrl}`,
        ]);
        assert.match(
          update.stdout,
          new RegExp(`^Member +${theirId} updated in cluster +[0-9a-f]+\\n$`),
        );
        const status = await etcdctl(cluster.endpoints, ['endpoint', 'status', '-w', 'json']);
        const leaderId = /"leader":(\d+)/.exec(status.stdout)![1];
        const moved = await runSigilctlInProcess([endpoints, 'move-leader', theirId]);
        assert.equal(moved.code, 0, moved.stderr);
        assert.equal(
          moved.stdout,
          `Leadership transferred from ${BigInt(leaderId).toString(16)} to ${theirId}\n`,
        );
      });
    } finally {
      await Promise.all(joiners.map((joiner) => joiner.stop()));
      await cluster.stop();
    }
  });
});
