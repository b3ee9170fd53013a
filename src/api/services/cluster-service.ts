/**
 * etcdserverpb.Cluster. MemberList is served; membership changes arrive with the membership
 * issue and answer Unimplemented until then (never a pretend success).
 */
import type { Member, ServerApi } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { headerMessage, type WireMessage } from '../response-messages.ts';
import { type MethodHandler, unary } from '../rpc-method.ts';
import { longOf } from '../wire-values.ts';

function memberMessage(member: Member): WireMessage {
  const message: WireMessage = {};
  if (member.id !== 0n) message.ID = longOf(member.id, true);
  if (member.name !== '') message.name = member.name;
  if (member.peerUrls.length !== 0) message.peerURLs = member.peerUrls;
  if (member.clientUrls.length !== 0) message.clientURLs = member.clientUrls;
  if (member.isLearner) message.isLearner = true;
  return message;
}

const notYet = (name: string) =>
  unary(async () => {
    throw API_ERRORS.unimplemented(`Cluster.${name} (membership changes)`);
  }, true);

export function clusterMethods(server: ServerApi): Record<string, MethodHandler> {
  return {
    MemberList: unary(async (request) => {
      const { header, members } = await server.memberList(request.linearizable === true);
      // etcd's cluster server fills its header without a revision.
      const message: WireMessage = { header: headerMessage(header, false) };
      if (members.length !== 0) message.members = members.map(memberMessage);
      return message;
    }),
    MemberAdd: notYet('MemberAdd'),
    MemberRemove: notYet('MemberRemove'),
    MemberUpdate: notYet('MemberUpdate'),
    MemberPromote: notYet('MemberPromote'),
  };
}
