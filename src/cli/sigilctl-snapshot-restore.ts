/**
 * `sigilctl snapshot restore FILE`, with etcdctl 3.4's flags: builds the data dir of one member
 * of a NEW cluster from an etcd snapshot file (made by Sigil KV or by a real etcd). The file's
 * SHA-256 is checked (or skipped with --skip-hash-check, for a database copied out of a data
 * dir), its keys, revisions, compaction and leases are loaded into the member's LMDB backend,
 * and the member's raft state is seeded (seedMemberDataDir) so that `sigild` started with the
 * same --name, --initial-cluster and --initial-cluster-token serves the data. Run it once per
 * member, with the same file and cluster flags, as with etcd.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import {
  emptyImportSummary,
  importEtcdDatabase,
  type ImportSummary,
  openSnapshotDatabase,
  verifySnapshotFile,
} from '../backup/index.ts';
import { seedMemberDataDir } from '../server/index.ts';
import { encodeSnapshot, LmdbBackend, NodeFileSystem } from '../storage/index.ts';
import { parseInitialCluster, parseUrls } from './sigild-flags.ts';
import { deriveClusterId, deriveMemberId } from './sigild-ids.ts';

interface RestoreFlags {
  name: string;
  dataDir?: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string;
  skipHashCheck?: boolean;
}

export interface RestorePlan {
  readonly file: string;
  readonly dataDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly members: readonly { id: bigint; name: string; peerUrls: readonly string[] }[];
  readonly skipHashCheck: boolean;
}

/** Checks the flags as etcd's restore does and derives the ids sigild will derive. */
export function planRestore(file: string, flags: RestoreFlags): RestorePlan {
  const cluster = parseInitialCluster(flags.initialCluster);
  const advertised = parseUrls('initial-advertise-peer-urls', flags.initialAdvertisePeerUrls);
  const self = cluster.find((member) => member.name === flags.name);
  if (self === undefined) {
    throw new Error(`--initial-cluster has no member named "${flags.name}" (--name)`);
  }
  if ([...self.peerUrls].sort().join(',') !== [...advertised].sort().join(',')) {
    throw new Error(
      `--initial-cluster has ${flags.name}=${self.peerUrls.join(',')} but ` +
        `--initial-advertise-peer-urls is ${advertised.join(',')}`,
    );
  }
  const members = cluster.map((member) => ({
    id: deriveMemberId(member.peerUrls, flags.initialClusterToken),
    name: member.name,
    peerUrls: member.peerUrls,
  }));
  const dataDir = flags.dataDir ?? `${flags.name}.sigil`;
  return {
    file,
    dataDir,
    memberId: members.find((member) => member.name === flags.name)!.id,
    clusterId: deriveClusterId(members.map((member) => member.id)),
    members,
    skipHashCheck: flags.skipHashCheck === true,
  };
}

/** Builds the member's data dir; on any failure nothing is left behind. */
export async function restoreSnapshot(plan: RestorePlan): Promise<ImportSummary> {
  if (existsSync(plan.dataDir)) throw new Error(`data-dir "${plan.dataDir}" exists`);
  const file = verifySnapshotFile(plan.file, plan.skipHashCheck ? 'skip' : 'require');
  const reader = openSnapshotDatabase(file);
  const summary = emptyImportSummary();
  let backend: LmdbBackend | undefined;
  try {
    mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
    backend = new LmdbBackend({ dataDir: plan.dataDir });
    await backend.restore(encodeSnapshot(importEtcdDatabase(reader, summary)));
    await seedMemberDataDir({
      fs: new NodeFileSystem(),
      dataDir: plan.dataDir,
      memberId: plan.memberId,
      clusterId: plan.clusterId,
      members: plan.members,
      backend,
    });
    await backend.sync();
    await backend.close();
    backend = undefined;
    return summary;
  } catch (error) {
    await backend?.close().catch(() => undefined);
    rmSync(plan.dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    reader.close();
  }
}

export function registerSnapshotRestore(
  snapshot: Command,
  io: { stderr(text: string): void },
): void {
  snapshot
    .command('restore <filename>')
    .description('Restores an etcd member snapshot to an etcd directory')
    .option('--data-dir <path>', 'path to the data directory (default "<name>.sigil")')
    .option('--name <name>', 'human-readable name for this member', 'default')
    .option(
      '--initial-cluster <list>',
      'initial cluster configuration for restore bootstrap',
      'default=http://localhost:2380',
    )
    .option('--initial-cluster-token <token>', 'initial cluster token', 'etcd-cluster')
    .option(
      '--initial-advertise-peer-urls <urls>',
      "list of this member's peer URLs to advertise to the rest of the cluster",
      'http://localhost:2380',
    )
    .option(
      '--skip-hash-check',
      'ignore snapshot integrity hash value (required if copied from data directory)',
    )
    .action(async (file: string, flags: RestoreFlags) => {
      const plan = planRestore(file, flags);
      const summary = await restoreSnapshot(plan);
      io.stderr(
        `restored snapshot ${file} into ${plan.dataDir}: revision ${summary.revision}, ` +
          `${summary.keyRevisions} key revisions, ${summary.leases} leases, ` +
          `compacted at ${summary.compactRevision}, member ${plan.memberId.toString(16)} of ` +
          `cluster ${plan.clusterId.toString(16)}\n`,
      );
      for (const note of summary.notes) io.stderr(`note: ${note}\n`);
    });
}
