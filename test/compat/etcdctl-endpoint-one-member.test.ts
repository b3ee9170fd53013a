/**
 * etcdctl's endpoint commands that address members by their client URLs (`--cluster`, or
 * `--endpoints=http://…`) against a one-member sigild and a one-member etcd side by side.
 * etcdctl 3.4 sends such URLs, scheme included, as the HTTP/2 authority; node's http2 server
 * alone would reset those streams (see src/api/http2/header-block.ts). The three-member case
 * is in etcdctl-cluster.test.ts.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { EtcdCluster } from '../support/etcd-process.ts';
import { startSideBySide } from '../support/side-by-side.ts';
import { type ClusterNames, etcdctl, normalise } from '../support/etcdctl-runner.ts';
import { type SigildCluster, withClusterLogs } from '../support/sigild-cluster.ts';

let sigil: SigildCluster;
let etcd: EtcdCluster;
let targets: ClusterNames[] = [];
const [ETCD, SIGIL] = [0, 1];

before(async () => {
  ({ sigil, etcd } = await startSideBySide(1));
  targets = [
    {
      endpoints: etcd.endpoints,
      peerUrls: etcd.members.map((m) => m.peerUrl),
      names: etcd.members.map((m) => m.name),
    },
    {
      endpoints: sigil.endpoints,
      peerUrls: sigil.members.map((m) => m.peerUrl),
      names: sigil.members.map((m) => m.name),
    },
  ];
});

after(async () => {
  await Promise.all([sigil?.stop(), etcd?.stop()]);
});

/** Runs the command on both; returns both normalised `code stdout stderr` transcripts. */
async function onBoth(
  args: (names: ClusterNames) => readonly string[],
  endpoints: (names: ClusterNames) => readonly string[] = (names) => names.endpoints,
): Promise<string[]> {
  return Promise.all(
    targets.map(async (names) => {
      const out = await etcdctl(endpoints(names), args(names));
      return normalise(`${out.code}\n${out.stdout}${out.stderr}`, names);
    }),
  );
}

/** Values that differ from run to run even on one cluster. */
const steady = (text: string): string =>
  text
    .replace(/"revision":\d+/g, '"revision":<rev>')
    .replace(/"took":"[^"]*"/g, '"took":"<duration>"');

describe('etcdctl endpoint commands by client URL, one member', { timeout: 60_000 }, () => {
  it('endpoint status --cluster -w json and endpoint health --cluster match etcd', async () =>
    withClusterLogs(sigil, async () => {
      const status = await onBoth(() => ['endpoint', 'status', '--cluster', '-w', 'json']);
      assert.match(status[SIGIL], /^0\n\[\{"Endpoint":"http:\/\/<client0>","Status":\{/);
      assert.equal(steady(status[SIGIL]), steady(status[ETCD]));
      const health = await onBoth(() => ['endpoint', 'health', '--cluster']);
      assert.equal(health[SIGIL], health[ETCD]);
      assert.match(health[SIGIL], /http:\/\/<client0> is healthy/);
      const healthJson = await onBoth(() => ['endpoint', 'health', '--cluster', '-w', 'json']);
      assert.equal(steady(healthJson[SIGIL]), steady(healthJson[ETCD]));
    }));

  it('--endpoints=http://… works for status, health and a write', async () =>
    withClusterLogs(sigil, async () => {
      const urls = (names: ClusterNames): string[] =>
        names.endpoints.map((endpoint) => `http://${endpoint}`);
      const status = await onBoth(() => ['endpoint', 'status', '-w', 'json'], urls);
      assert.match(status[SIGIL], /^0\n/);
      assert.equal(steady(status[SIGIL]), steady(status[ETCD]));
      assert.deepEqual(await onBoth(() => ['endpoint', 'health'], urls), [health(), health()]);
      const put = await onBoth(() => ['put', 'by-url', 'v'], urls);
      assert.deepEqual(put, ['0\nOK\n', '0\nOK\n']);
    }));
});

const health = (): string =>
  '0\nhttp://<client0> is healthy: successfully committed proposal: took = <duration>';
