/**
 * Who this sigild is: its member id, its cluster's id and the members it starts out knowing.
 * - A data dir with a WAL: the ids recorded in it (a member that joined later has an id the
 *   cluster chose, which no flag can reproduce).
 * - A new cluster: ids derived from --initial-cluster and --initial-cluster-token, as etcd does.
 * - Joining (`existing`): asks the other members in --initial-cluster (membership-join.ts).
 */
import type { FoundingMember } from '../server/index.ts';
import { discoverCluster, readMemberIdentity } from '../server/index.ts';
import type { FileSystem } from '../storage/index.ts';
import { fetchClusterInfo } from '../transport/index.ts';
import type { SigildOptions } from './sigild-flags.ts';
import { deriveClusterId, deriveMemberId } from './sigild-ids.ts';

const CLUSTER_INFO_TIMEOUT_MS = 5_000;

export interface SigildIdentity {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly initialCluster: readonly FoundingMember[];
}

export async function resolveIdentity(
  options: SigildOptions,
  fs: FileSystem,
): Promise<SigildIdentity> {
  const founders = options.initialCluster.map((member) => ({
    id: deriveMemberId(member.peerUrls, options.initialClusterToken),
    name: member.name,
    peerUrls: member.peerUrls,
  }));
  const self = founders.find((member) => member.name === options.name);
  if (self === undefined) throw new Error('this member is not in --initial-cluster');
  const recorded = await readMemberIdentity(fs, options.dataDir);
  if (recorded !== null) {
    const initialCluster = founders.map((member) =>
      member === self ? { ...member, id: recorded.memberId } : member,
    );
    return { ...recorded, initialCluster };
  }
  if (options.initialClusterState === 'new') {
    return {
      memberId: self.id,
      clusterId: deriveClusterId(founders.map((member) => member.id)),
      initialCluster: founders,
    };
  }
  const plan = await discoverCluster({
    askUrls: founders.filter((member) => member !== self).flatMap((member) => member.peerUrls),
    selfPeerUrls: self.peerUrls,
    fetch: (url) => fetchClusterInfo(url, CLUSTER_INFO_TIMEOUT_MS),
  });
  const initialCluster = plan.members.map((member) =>
    member.id === plan.memberId ? { ...member, name: options.name } : member,
  );
  return { memberId: plan.memberId, clusterId: plan.clusterId, initialCluster };
}
