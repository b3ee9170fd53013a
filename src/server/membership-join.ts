/**
 * Joining a running cluster (`--initial-cluster-state existing`), as etcd does it: before its
 * first start, a member asks the existing members (at the peer URLs of --initial-cluster) for
 * the cluster id and the current member list, checks that they agree, and finds itself in the
 * list by its advertised peer URLs (MemberAdd put it there, with an id of the cluster's
 * choosing). On later starts its identity comes from its WAL instead.
 */
import type { FileSystem } from '../storage/index.ts';
import { openWal, walDirectory, walExists } from '../storage/index.ts';
import type { FoundingMember } from './membership-bootstrap.ts';
import type { Member } from './server-api.ts';

export interface ClusterInfo {
  readonly clusterId: bigint;
  readonly members: readonly Member[];
}

interface WireClusterInfo {
  readonly clusterId: string;
  readonly members: readonly {
    readonly id: string;
    readonly name: string;
    readonly peerUrls: readonly string[];
    readonly clientUrls: readonly string[];
    readonly isLearner: boolean;
  }[];
}

export function encodeClusterInfo(info: ClusterInfo): Uint8Array {
  const wire: WireClusterInfo = {
    clusterId: info.clusterId.toString(16),
    members: info.members.map((member) => ({ ...member, id: member.id.toString(16) })),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** Throws on anything that is not a cluster-info answer (it comes from the network). */
export function decodeClusterInfo(bytes: Uint8Array): ClusterInfo {
  const wire = JSON.parse(new TextDecoder().decode(bytes)) as WireClusterInfo;
  if (typeof wire?.clusterId !== 'string' || !Array.isArray(wire.members)) {
    throw new Error('not a cluster-info answer');
  }
  const hex = /^[0-9a-f]{1,16}$/;
  const members = wire.members.map((raw) => {
    if (typeof raw?.id !== 'string' || !hex.test(raw.id) || !Array.isArray(raw.peerUrls)) {
      throw new Error('a malformed member in the cluster-info answer');
    }
    return {
      id: BigInt(`0x${raw.id}`),
      name: String(raw.name ?? ''),
      peerUrls: raw.peerUrls.map(String),
      clientUrls: Array.isArray(raw.clientUrls) ? raw.clientUrls.map(String) : [],
      isLearner: raw.isLearner === true,
    };
  });
  if (!hex.test(wire.clusterId)) throw new Error('a malformed cluster id');
  return { clusterId: BigInt(`0x${wire.clusterId}`), members };
}

export interface JoinPlan {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** The current members (this one included), for the member's first peer list. */
  readonly members: readonly FoundingMember[];
}

/**
 * Asks every peer URL in `askUrls` and builds the join plan from the answers. Fails when none
 * answers, when answers disagree on the cluster id, or when no member has `selfPeerUrls`
 * (MemberAdd was not run for this member).
 */
export async function discoverCluster(options: {
  readonly askUrls: readonly string[];
  readonly selfPeerUrls: readonly string[];
  readonly fetch: (peerUrl: string) => Promise<Uint8Array>;
}): Promise<JoinPlan> {
  const answers: ClusterInfo[] = [];
  const failures: string[] = [];
  await Promise.all(
    options.askUrls.map(async (url) => {
      try {
        answers.push(decodeClusterInfo(await options.fetch(url)));
      } catch (error) {
        failures.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
  const first = answers[0];
  if (first === undefined) {
    throw new Error(`could not fetch the cluster's members from any peer (${failures.join('; ')})`);
  }
  if (answers.some((answer) => answer.clusterId !== first.clusterId)) {
    throw new Error('the existing members disagree on the cluster id');
  }
  const wanted = [...options.selfPeerUrls].sort().join(',');
  const self = first.members.find((member) => [...member.peerUrls].sort().join(',') === wanted);
  if (self === undefined) {
    throw new Error(
      `no member of cluster ${first.clusterId.toString(16)} has peer URLs ${wanted}: add it with member add first`,
    );
  }
  return {
    clusterId: first.clusterId,
    memberId: self.id,
    members: first.members.map((member) => ({
      id: member.id,
      name: member.name,
      peerUrls: member.peerUrls,
    })),
  };
}

/** The member and cluster ids a data dir belongs to, from its WAL; null without one. */
export async function readMemberIdentity(
  fs: FileSystem,
  dataDir: string,
): Promise<{ readonly memberId: bigint; readonly clusterId: bigint } | null> {
  const directory = walDirectory(dataDir);
  if (!(await walExists(fs, directory))) return null;
  const opened = await openWal(fs, directory);
  await opened.wal.close();
  const metadata = JSON.parse(new TextDecoder().decode(opened.metadata)) as {
    memberId?: unknown;
    clusterId?: unknown;
  };
  if (typeof metadata.memberId !== 'string' || typeof metadata.clusterId !== 'string') {
    throw new Error(`the WAL in ${directory} does not name its member and cluster`);
  }
  return {
    memberId: BigInt(`0x${metadata.memberId}`),
    clusterId: BigInt(`0x${metadata.clusterId}`),
  };
}
