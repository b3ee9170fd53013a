/**
 * The membership fault: remove a member through the etcd API (MemberRemove), stop it and wipe
 * its data directory, add it back (MemberAdd with the same peer URL, which gives it a new id) and
 * start it empty with --initial-cluster-state=existing, so it must catch up from the others
 * (by log or snapshot) while clients keep writing.
 */
import { SigilClient } from '../../src/client/index.ts';
import type { ChaosCluster } from './chaos-cluster.ts';
import { errorText, memberAdd, memberRemove } from './etcd-rpc.ts';

/** Removes, wipes and re-adds member `victim`; throws (with the step) when a step fails. */
export async function replaceMember(cluster: ChaosCluster, victim: number): Promise<string> {
  const member = cluster.members[victim];
  const helpers = cluster.liveIndexes().filter((index) => index !== victim);
  if (helpers.length === 0) throw new Error('no live member to send membership changes to');
  const via = cluster.members[helpers[0]].endpoint;
  const oldId = member.id;
  // A member left removed by an earlier attempt that failed half-way is only added back.
  if (!member.removed) {
    try {
      await memberRemove(via, oldId);
    } catch (error) {
      throw new Error(`MemberRemove ${oldId.toString(16)} failed: ${errorText(error)}`);
    }
    member.removed = true;
    await cluster.wipe(victim);
  }
  let newId: bigint;
  try {
    newId = await memberAdd(via, [member.peerUrl]);
  } catch (error) {
    throw new Error(`MemberAdd ${member.peerUrl} failed: ${errorText(error)}`);
  }
  const initialCluster = await initialClusterFor(via, member.name, member.peerUrl);
  await cluster.join(victim, newId, initialCluster);
  member.removed = false;
  return `member ${victim} removed (${oldId.toString(16)}), wiped, re-added as ${newId.toString(16)}`;
}

/** etcd's --initial-cluster for a joining member: every current member plus itself. */
async function initialClusterFor(via: string, name: string, peerUrl: string): Promise<string> {
  const client = new SigilClient({ endpoints: [via], commandTimeoutMs: 5_000 });
  try {
    const list = await client.cluster.memberList({ endpoint: via });
    const entries = list.members
      .filter((member) => !member.peerUrls.includes(peerUrl))
      .flatMap((member) => member.peerUrls.map((url) => `${member.name}=${url}`));
    entries.push(`${name}=${peerUrl}`);
    return entries.join(',');
  } finally {
    client.close();
  }
}
