/**
 * GET /metrics on every member's client URL of a three-member sigild cluster: etcd's metric
 * names with values that match the member's state (exactly one leader, every member sees it,
 * the id and revision the API reports), process metrics, and etcdctl's `check datascale`,
 * which reads process_resident_memory_bytes from this endpoint.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { runEtcdctl } from '../support/cli-runners.ts';
import {
  type SigildCluster,
  startSigildCluster,
  withClusterLogs,
} from '../support/sigild-cluster.ts';

let cluster: SigildCluster;
let client: SigilClient;

before(async () => {
  cluster = await startSigildCluster({ members: 3 });
  client = new SigilClient({ endpoints: [...cluster.endpoints] });
});

after(async () => {
  client?.close();
  await cluster?.stop();
});

/** The samples of one scrape, by name with labels as printed (`name{label="v"}`). */
async function scrape(clientUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${clientUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe('metrics endpoint', { timeout: 120_000 }, () => {
  it("reports each member's leadership, identity and revision under etcd's names", async () => {
    await withClusterLogs(cluster, async () => {
      const { header } = await client.put('metrics-key', 'value');
      const scrapes = await Promise.all(cluster.clientUrls.map(scrape));
      assert.deepEqual(
        scrapes.map((samples) => samples.get('etcd_server_has_leader')),
        [1, 1, 1],
      );
      const leaders = scrapes.map((samples) => samples.get('etcd_server_is_leader'));
      assert.equal(leaders.filter((flag) => flag === 1).length, 1, `is_leader: ${leaders}`);
      for (const [index, samples] of scrapes.entries()) {
        const status = await client.maintenance.status({ endpoint: cluster.endpoints[index] });
        const id = status.header.memberId.toString(16);
        assert.equal(samples.get(`etcd_server_id{server_id="${id}"}`), 1);
        assert.equal(
          samples.get('etcd_server_is_leader'),
          status.leader === status.header.memberId ? 1 : 0,
        );
        assert.ok((samples.get('process_resident_memory_bytes') ?? 0) > 0);
        assert.equal(samples.get('etcd_server_quota_backend_bytes'), 2 * 1024 ** 3);
        assert.ok((samples.get('etcd_mvcc_db_total_size_in_bytes') ?? 0) > 0);
        // Every member learnt the leader at least once since it started.
        assert.ok((samples.get('etcd_server_leader_changes_seen_total') ?? 0) >= 1);
      }
      const leader = leaders.indexOf(1);
      assert.equal(scrapes[leader].get('etcd_debugging_mvcc_current_revision'), header.revision);
    });
  });

  it('satisfies etcdctl check datascale, which reads the process memory metric', async () => {
    const result = await runEtcdctl(
      ['--endpoints', cluster.endpoints[0], 'check', 'datascale', '--load=s'],
      90_000,
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /PASS: Approximate system memory used/);
  });
});
