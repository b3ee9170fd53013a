/**
 * A real etcd's snapshot moves to Sigil KV: `sigilctl snapshot status` reads it exactly as
 * `etcdctl snapshot status` does, `sigilctl snapshot restore` (run once per member, with etcd's
 * flags) builds the data dirs of a new 3-member cluster, and the sigild members started on them
 * serve every key with the same value, revisions and version, the history back to the
 * compaction, and the leases with their keys; the cluster then takes new writes. A database
 * copied out of etcd's data dir (no hash) is refused unless --skip-hash-check is given.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SigilClient } from '../../src/client/index.ts';
import { readClusterState, startServer, writeWorkload } from '../backup/snapshot-e2e-kit.ts';
import { runEtcdctl, runSigilctlInProcess } from '../support/cli-runners.ts';
import { ETCD_BIN, ETCDCTL_BIN, freePort, startEtcd } from '../support/etcd-process.ts';
import { SIGILD_BIN } from '../support/sigild-cluster.ts';

const missing = [ETCD_BIN, ETCDCTL_BIN].filter((binary) => !existsSync(binary));
const skip = missing.length > 0 ? `needs real etcd 3.4 (${missing.join(', ')} not found)` : false;
const TOKEN = 'restored-from-etcd';

test(
  'sigilctl restores a real etcd snapshot into a 3-member Sigil KV cluster',
  { skip, timeout: 240_000 },
  async (t) => {
    const etcd = await startEtcd({ members: 1 });
    t.after(() => etcd.stop());
    const dir = await mkdtemp(join(tmpdir(), 'etcd-to-sigil-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const etcdClient = new SigilClient({ endpoints: etcd.endpoints });
    t.after(() => etcdClient.close());

    const { compactRevision } = await writeWorkload(etcdClient);
    const expected = await readClusterState(etcdClient, compactRevision);
    const file = join(dir, 'from-etcd.db');
    const saved = await runEtcdctl(['--endpoints', etcd.endpoints[0], 'snapshot', 'save', file]);
    assert.equal(saved.code, 0, saved.stderr);

    const theirs = await runEtcdctl(['snapshot', 'status', '-w', 'json', file]);
    const ours = await runSigilctlInProcess(['snapshot', 'status', '-w', 'json', file]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(JSON.parse(ours.stdout), JSON.parse(theirs.stdout));

    // sigilctl saves from a real etcd too (and checks the hash the stream ends with).
    const ownSave = join(dir, 'saved-by-sigilctl.db');
    const sigilSaved = await runSigilctlInProcess([
      '--endpoints',
      etcd.endpoints[0],
      'snapshot',
      'save',
      ownSave,
    ]);
    assert.equal(sigilSaved.code, 0, sigilSaved.stderr);
    const ownStatus = await runEtcdctl(['snapshot', 'status', '-w', 'json', ownSave]);
    const { revision, totalKey } = JSON.parse(ownStatus.stdout) as Record<string, number>;
    assert.deepEqual(
      { revision, totalKey },
      {
        revision: expected.revision,
        totalKey: (JSON.parse(theirs.stdout) as Record<string, number>).totalKey,
      },
    );

    const members = [];
    for (const name of ['m1', 'm2', 'm3']) {
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      members.push({
        name,
        dataDir: join(dir, name),
        clientUrl: `http://127.0.0.1:${clientPort}`,
        endpoint: `127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
      });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const member of members) {
      const restored = await runSigilctlInProcess([
        'snapshot',
        'restore',
        file,
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${TOKEN}`,
        `--initial-advertise-peer-urls=${member.peerUrl}`,
      ]);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(restored.stderr, new RegExp(`revision ${expected.revision}, `));
    }
    const servers = await Promise.all(
      members.map((member) =>
        startServer(
          SIGILD_BIN,
          [
            `--name=${member.name}`,
            `--data-dir=${member.dataDir}`,
            `--listen-client-urls=${member.clientUrl}`,
            `--advertise-client-urls=${member.clientUrl}`,
            `--listen-peer-urls=${member.peerUrl}`,
            `--initial-advertise-peer-urls=${member.peerUrl}`,
            `--initial-cluster=${initialCluster}`,
            `--initial-cluster-token=${TOKEN}`,
            '--log-level=error',
          ],
          member.clientUrl,
          60_000,
        ),
      ),
    );
    t.after(() => Promise.all(servers.map((server) => server.stop())));
    const sigil = new SigilClient({ endpoints: members.map((member) => member.endpoint) });
    t.after(() => sigil.close());

    assert.deepEqual(await readClusterState(sigil, compactRevision), expected);
    await assert.rejects(
      sigil.get('a', { revision: compactRevision - 1 }),
      /required revision has been compacted/,
    );
    const next = await sigil.put('after-restore', 'yes');
    assert.equal(next.header.revision, expected.revision + 1);
    for (const member of members) {
      const one = new SigilClient({ endpoints: [member.endpoint] });
      try {
        const read = await one.get('after-restore');
        assert.equal(read.kvs[0]?.value.toString(), 'yes', `member ${member.name}`);
      } finally {
        one.close();
      }
    }
    const memberList = await sigil.cluster.memberList();
    assert.deepEqual(memberList.members.map((member) => member.name).sort(), ['m1', 'm2', 'm3']);

    // A database copied out of a data dir carries no hash.
    await etcd.kill(0);
    const copied = join(dir, 'copied.db');
    copyFileSync(join(etcd.members[0].dataDir, 'member', 'snap', 'db'), copied);
    const flags = [
      '--name=solo',
      '--initial-cluster=solo=http://127.0.0.1:1',
      '--initial-advertise-peer-urls=http://127.0.0.1:1',
    ];
    const refused = await runSigilctlInProcess([
      'snapshot',
      'restore',
      copied,
      ...flags,
      `--data-dir=${join(dir, 'solo-1')}`,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /snapshot missing hash .*--skip-hash-check/);
    const accepted = await runSigilctlInProcess([
      'snapshot',
      'restore',
      copied,
      ...flags,
      `--data-dir=${join(dir, 'solo-2')}`,
      '--skip-hash-check',
    ]);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, new RegExp(`revision ${expected.revision}, `));
  },
);
