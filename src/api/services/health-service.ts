/**
 * grpc.health.v1.Health, which load balancers and kine-style clients probe: SERVING while the
 * member knows a leader (it can serve linearizable requests), NOT_SERVING otherwise.
 */
import type { ServerApi } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { type MethodHandler, unary } from '../rpc-method.ts';

const SERVING = 1;
const NOT_SERVING = 2;

/** Whether the member has a leader; a member that cannot answer Status has none usable. */
export async function hasLeader(server: ServerApi): Promise<boolean> {
  try {
    return (await server.status()).leader !== 0n;
  } catch {
    return false;
  }
}

export function healthMethods(server: ServerApi): Record<string, MethodHandler> {
  return {
    Check: unary(async () => ({ status: (await hasLeader(server)) ? SERVING : NOT_SERVING })),
    Watch: {
      kind: 'stream',
      open: (call) => {
        call.end(API_ERRORS.unimplemented('Health.Watch (poll Health.Check)'));
        return { message: () => undefined, halfClose: () => undefined };
      },
    },
  };
}
