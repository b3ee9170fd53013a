/**
 * etcdserverpb.Cluster: MemberList, and the membership changes MemberAdd / MemberRemove /
 * MemberUpdate / MemberPromote (answered Unimplemented by a server that cannot change its
 * membership, never with a pretend success).
 */
import type { Member, MembersAnswer, ServerApi } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { headerMessage, type WireMessage } from '../response-messages.ts';
import { type MethodHandler, type RequestMessage, unary } from '../rpc-method.ts';
import { longOf, toBigInt, type WireInt64 } from '../wire-values.ts';

function memberMessage(member: Member): WireMessage {
  const message: WireMessage = {};
  if (member.id !== 0n) message.ID = longOf(member.id, true);
  if (member.name !== '') message.name = member.name;
  if (member.peerUrls.length !== 0) message.peerURLs = member.peerUrls;
  if (member.clientUrls.length !== 0) message.clientURLs = member.clientUrls;
  if (member.isLearner) message.isLearner = true;
  return message;
}

/** etcd's cluster server fills its header without a revision. */
function membersMessage(answer: MembersAnswer): WireMessage {
  const message: WireMessage = { header: headerMessage(answer.header, false) };
  if (answer.members.length !== 0) message.members = answer.members.map(memberMessage);
  return message;
}

function peerUrlsOf(request: RequestMessage): readonly string[] {
  const urls = request.peerURLs;
  if (urls === undefined || urls === null) return [];
  if (!Array.isArray(urls) || !urls.every((url) => typeof url === 'string')) {
    throw API_ERRORS.malformed('peerURLs must be a list of strings');
  }
  return urls as readonly string[];
}

function memberIdOf(request: RequestMessage): bigint {
  const id = request.ID;
  return id === undefined || id === null ? 0n : toBigInt(id as WireInt64);
}

function unsupported(name: string): never {
  throw API_ERRORS.unimplemented(`Cluster.${name} (this server cannot change its membership)`);
}

export function clusterMethods(server: ServerApi): Record<string, MethodHandler> {
  return {
    MemberList: unary(async (request) =>
      membersMessage(await server.memberList(request.linearizable === true)),
    ),
    MemberAdd: unary(async (request) => {
      if (server.memberAdd === undefined) unsupported('MemberAdd');
      const answer = await server.memberAdd(peerUrlsOf(request), request.isLearner === true);
      return { ...membersMessage(answer), member: memberMessage(answer.member) };
    }, true),
    MemberRemove: unary(async (request) => {
      if (server.memberRemove === undefined) unsupported('MemberRemove');
      return membersMessage(await server.memberRemove(memberIdOf(request)));
    }, true),
    MemberUpdate: unary(async (request) => {
      if (server.memberUpdate === undefined) unsupported('MemberUpdate');
      return membersMessage(await server.memberUpdate(memberIdOf(request), peerUrlsOf(request)));
    }, true),
    MemberPromote: unary(async (request) => {
      if (server.memberPromote === undefined) unsupported('MemberPromote');
      return membersMessage(await server.memberPromote(memberIdOf(request)));
    }, true),
  };
}
