/**
 * A Sigil KV snapshot is an etcd snapshot: Debian's `etcdctl snapshot save` fetches it from
 * sigild while writes continue, `etcdctl snapshot status` reads our revision and agrees with
 * `sigilctl snapshot status` on hash, keys and size, and `etcdctl snapshot restore` turns it
 * into a data dir from which a real etcd 3.4 serves every key with the same value, create/mod
 * revision and version, the same history back to the compaction, and the leases with their
 * TTLs and keys.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { readClusterState, startServer, writeWorkload } from '../backup/snapshot-e2e-kit.ts';
import { runEtcdctl, runSigilctlInProcess } from '../support/cli-runners.ts';
import { ETCD_BIN, ETCDCTL_BIN, freePort } from '../support/etcd-process.ts';
import { startSigildCluster } from '../support/sigild-cluster.ts';

const missing = [ETCD_BIN, ETCDCTL_BIN].filter((binary) => !existsSync(binary));
const skip = missing.length > 0 ? `needs real etcd 3.4 (${missing.join(', ')} not found)` : false;

test(
  'etcdctl saves a Sigil KV snapshot and a real etcd restored from it serves the same data',
  { skip, timeout: 240_000 },
  async (t) => {
    const cluster = await startSigildCluster({ members: 1 });
    t.after(() => cluster.stop());
    const client = new SigilClient({ endpoints: cluster.endpoints });
    t.after(() => client.close());
    const dir = await mkdtemp(join(tmpdir(), 'sigil-to-etcd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));

    const { compactRevision } = await writeWorkload(client);
    const file = join(dir, 'from-sigil.db');
    // Writes go on while the snapshot streams: the file must hold one consistent revision.
    let writing = true;
    let written = 0;
    const background = (async () => {
      while (writing) await client.put(`during/${written++}`, 'w');
    })();
    const saved = await runEtcdctl(
      ['--endpoints', cluster.endpoints[0], '--command-timeout=60s', 'snapshot', 'save', file],
      90_000,
    );
    writing = false;
    await background;
    assert.equal(saved.code, 0, saved.stderr);

    const etcdStatus = await runEtcdctl(['snapshot', 'status', '-w', 'json', file]);
    assert.equal(etcdStatus.code, 0, etcdStatus.stderr);
    const status = JSON.parse(etcdStatus.stdout) as { revision: number; totalKey: number };
    const ours = await runSigilctlInProcess(['snapshot', 'status', '-w', 'json', file]);
    assert.deepEqual(JSON.parse(ours.stdout), status, 'sigilctl agrees with etcdctl');
    const expected = await readClusterState(client, compactRevision, status.revision);
    assert.ok(expected.keys.length > 300, 'the workload is in the snapshot');

    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const dataDir = join(dir, 'etcd');
    const restored = await runEtcdctl([
      'snapshot',
      'restore',
      file,
      '--name=restored',
      `--data-dir=${dataDir}`,
      `--initial-cluster=restored=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    const etcd = await startServer(
      ETCD_BIN,
      [
        '--name=restored',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=restored=${peerUrl}`,
      ],
      clientUrl,
    );
    t.after(() => etcd.stop());
    const etcdClient = new SigilClient({ endpoints: [`127.0.0.1:${clientPort}`] });
    t.after(() => etcdClient.close());
    const actual = await readClusterState(etcdClient, compactRevision);
    assert.deepEqual(actual, expected);
    assert.equal(actual.leases.length, 2);
    assert.deepEqual(actual.leases.map((lease) => lease.keys.length).sort(), [1, 2]);
    await assert.rejects(
      etcdClient.get('a', { revision: compactRevision - 1 }),
      /required revision has been compacted/,
    );
  },
);
