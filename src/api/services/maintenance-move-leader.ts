/**
 * Maintenance.MoveLeader: the leader hands leadership to `targetID` (a voting member) and
 * answers once the target leads. etcd's errors: "etcdserver: not leader" on any other member,
 * "etcdserver: bad leader transferee" for an unknown member or a learner.
 */
import type { ServerApi } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { headerMessage } from '../response-messages.ts';
import { type MethodHandler, unary } from '../rpc-method.ts';
import { toBigInt, type WireInt64 } from '../wire-values.ts';

export function moveLeaderMethod(server: ServerApi): MethodHandler {
  return unary(async (request) => {
    if (server.moveLeader === undefined) {
      throw API_ERRORS.unimplemented('Maintenance.MoveLeader (this server has no peers)');
    }
    const target = request.targetID;
    const id = target === undefined || target === null ? 0n : toBigInt(target as WireInt64);
    const { header } = await server.moveLeader(id);
    return { header: headerMessage(header, true) };
  });
}
