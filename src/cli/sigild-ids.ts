/**
 * Member and cluster ids, derived exactly as etcd derives them, so a Sigil cluster started with
 * the same --initial-cluster and --initial-cluster-token reports the same ids as etcd would
 * (checked against etcd 3.4 in test/server/sigild-ids.test.ts):
 *
 * - member id: the first 8 bytes (big-endian) of SHA-1 over the member's peer URLs, sorted and
 *   concatenated, followed by the cluster token (etcd's membership.NewMember);
 * - cluster id: the first 8 bytes of SHA-1 over the sorted member ids, each as 8 bytes
 *   big-endian (etcd's RaftCluster.genID).
 */
import { createHash } from 'node:crypto';

export function deriveMemberId(peerUrls: readonly string[], clusterToken: string): bigint {
  const input = [...peerUrls].sort().join('') + clusterToken;
  return createHash('sha1').update(input, 'utf8').digest().readBigUInt64BE(0);
}

export function deriveClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => bytes.writeBigUInt64BE(id, 8 * i));
  return createHash('sha1').update(bytes).digest().readBigUInt64BE(0);
}
