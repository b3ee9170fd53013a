/**
 * sigilctl's membership and leadership commands, with etcdctl 3.4's arguments and output:
 * `member add <name> --peer-urls … [--learner]`, `member remove <id>`,
 * `member update <id> --peer-urls …`, `member promote <id>` and `move-leader <id>` (ids in
 * hexadecimal). `member add` prints, as etcdctl does, the environment the new member needs.
 */
import type { Command } from 'commander';
import type { Member, MemberList, ResponseHeader, SigilClient } from '../client/index.ts';
import type { Lines, OutputFormat } from './sigilctl-output.ts';
import { type GoJsonValue, goJson } from './sigilctl-text.ts';

export type RunWithClient = (
  command: Command,
  body: (client: SigilClient, out: Lines, format: OutputFormat) => Promise<void>,
) => Promise<void>;

/** etcdctl prints ids with %16x: hexadecimal, space-padded to 16 columns. */
const padded = (id: bigint): string => id.toString(16).padStart(16, ' ');

function parseMemberId(text: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) {
    throw new Error(`bad member ID arg (strconv.ParseUint: parsing "${text}": invalid syntax)`);
  }
  return BigInt(`0x${text}`);
}

function parsePeerUrls(text: string | undefined): string[] {
  const urls = (text ?? '').split(',').filter((url) => url !== '');
  if (urls.length === 0) throw new Error('member peer urls not provided');
  return urls;
}

function headerJson(header: ResponseHeader): GoJsonValue {
  return { cluster_id: header.clusterId, member_id: header.memberId, raft_term: header.raftTerm };
}

function memberJson(member: Member): GoJsonValue {
  return {
    ID: member.id,
    name: member.name,
    peerURLs: member.peerUrls,
    clientURLs: member.clientUrls,
    isLearner: member.isLearner,
  };
}

function printChange(
  out: Lines,
  format: OutputFormat,
  result: MemberList & { readonly member?: Member },
  simple: string,
): void {
  if (format === 'json') {
    out.push(
      goJson({
        header: headerJson(result.header),
        ...(result.member === undefined ? {} : { member: memberJson(result.member) }),
        members: result.members.map(memberJson),
      }),
    );
    return;
  }
  out.push(simple);
}

export function registerMemberCommands(
  program: Command,
  member: Command,
  runWithClient: RunWithClient,
): void {
  member
    .command('add <memberName>')
    .description('Adds a member into the cluster')
    .option('--peer-urls <urls>', 'comma separated peer URLs for the new member')
    .option('--learner', 'indicates if the new member is raft learner')
    .action(async (name: string, flags: { peerUrls?: string; learner?: boolean }, command) => {
      const peerUrls = parsePeerUrls(flags.peerUrls);
      await runWithClient(command, async (client, out, format) => {
        const added = await client.cluster.memberAdd(peerUrls, {
          isLearner: flags.learner === true,
        });
        const line = `Member ${padded(added.member.id)} added to cluster ${padded(added.header.clusterId)}`;
        printChange(out, format, added, line);
        if (format !== 'simple') return;
        // The list may have moved on since the add; etcdctl reads it again for the same reason.
        const list = await client.cluster.memberList();
        const initialCluster = list.members.flatMap((listed) =>
          listed.peerUrls.map(
            (url) => `${listed.id === added.member.id ? name : listed.name}=${url}`,
          ),
        );
        out.push(
          '',
          `ETCD_NAME=${JSON.stringify(name)}`,
          `ETCD_INITIAL_CLUSTER=${JSON.stringify(initialCluster.join(','))}`,
          `ETCD_INITIAL_ADVERTISE_PEER_URLS=${JSON.stringify(peerUrls.join(','))}`,
          'ETCD_INITIAL_CLUSTER_STATE="existing"',
        );
      });
    });

  member
    .command('remove <memberID>')
    .description('Removes a member from the cluster')
    .action(async (idText: string, _flags, command) => {
      const id = parseMemberId(idText);
      await runWithClient(command, async (client, out, format) => {
        const result = await client.cluster.memberRemove(id);
        const line = `Member ${padded(id)} removed from cluster ${padded(result.header.clusterId)}`;
        printChange(out, format, result, line);
      });
    });

  member
    .command('update <memberID>')
    .description('Updates a member in the cluster')
    .option('--peer-urls <urls>', 'comma separated peer URLs for the updated member')
    .action(async (idText: string, flags: { peerUrls?: string }, command) => {
      const id = parseMemberId(idText);
      const peerUrls = parsePeerUrls(flags.peerUrls);
      await runWithClient(command, async (client, out, format) => {
        const result = await client.cluster.memberUpdate(id, peerUrls);
        const line = `Member ${padded(id)} updated in cluster ${padded(result.header.clusterId)}`;
        printChange(out, format, result, line);
      });
    });

  member
    .command('promote <memberID>')
    .description('Promotes a non-voting member in the cluster')
    .action(async (idText: string, _flags, command) => {
      const id = parseMemberId(idText);
      await runWithClient(command, async (client, out, format) => {
        const result = await client.cluster.memberPromote(id);
        const line = `Member ${padded(id)} promoted in cluster ${padded(result.header.clusterId)}`;
        printChange(out, format, result, line);
      });
    });

  program
    .command('move-leader <transferee-member-id>')
    .description('Transfers leadership to another etcd cluster member.')
    .action(async (idText: string, _flags, command) => {
      const target = parseMemberId(idText);
      const endpoints = String(command.optsWithGlobals().endpoints ?? '')
        .split(',')
        .filter((endpoint) => endpoint !== '');
      await runWithClient(command, async (client, out) => {
        // Like etcdctl: ask the endpoint that reports itself leader.
        let leaderEndpoint: string | null = null;
        let leaderId = 0n;
        for (const endpoint of endpoints) {
          const status = await client.maintenance.status({ endpoint }).catch(() => null);
          if (status !== null && status.leader === status.header.memberId) {
            leaderEndpoint = endpoint;
            leaderId = status.leader;
            break;
          }
        }
        if (leaderEndpoint === null) {
          throw new Error(`no leader endpoint given at [${endpoints.join(' ')}]`);
        }
        await client.cluster.moveLeader(target, { endpoint: leaderEndpoint });
        out.push(`Leadership transferred from ${leaderId.toString(16)} to ${target.toString(16)}`);
      });
    });
}
