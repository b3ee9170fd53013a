/** etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact. */
import type { ServerApi } from '../../server/server-api.ts';
import {
  deleteRangeResponseMessage,
  headerMessage,
  putResponseMessage,
  rangeResponseMessage,
  txnResponseMessage,
} from '../response-messages.ts';
import { type MethodHandler, unary } from '../rpc-method.ts';
import { toNumber, type WireInt64 } from '../wire-values.ts';
import { toDeleteRangeRequest, toPutRequest, toRangeRequest, toTxnRequest } from './kv-requests.ts';

export function kvMethods(server: ServerApi, maxTxnOps: number): Record<string, MethodHandler> {
  return {
    Range: unary(async (request) =>
      rangeResponseMessage(await server.range(toRangeRequest(request))),
    ),
    Put: unary(
      async (request) => putResponseMessage(await server.put(toPutRequest(request))),
      true,
    ),
    DeleteRange: unary(
      async (request) =>
        deleteRangeResponseMessage(await server.deleteRange(toDeleteRangeRequest(request))),
      true,
    ),
    Txn: unary(async (request) => {
      // etcd serves read-only txns without a proposal; holding every txn to the limit is
      // stricter only for read-only txns over 1.5 MiB, and spares a walk over the ops.
      return txnResponseMessage(await server.txn(toTxnRequest(request, maxTxnOps)));
    }, true),
    Compact: unary(async (request) => {
      const response = await server.compact({
        revision: toNumber(request.revision as WireInt64),
        physical: request.physical === true,
      });
      return { header: headerMessage(response.header) };
    }, true),
  };
}
