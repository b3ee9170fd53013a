/**
 * Services whose issues have not landed: Auth (the security issue), v3lockpb.Lock and
 * v3electionpb.Election (client-side recipes over KV txns and watches cover them meanwhile).
 * Every method answers Unimplemented with a message naming it, never a fake success: a client
 * that believes auth was enabled when it was not would be worse off than one told the truth.
 */
import type { MethodDescriptor } from '../proto/server-codec.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import type { MethodHandler } from '../rpc-method.ts';

export const UNIMPLEMENTED_SERVICES = new Map<string, string>([
  ['etcdserverpb.Auth', 'authentication (Auth service)'],
  ['v3lockpb.Lock', 'the Lock service'],
  ['v3electionpb.Election', 'the Election service'],
]);

export function unimplementedMethod(descriptor: MethodDescriptor, what: string): MethodHandler {
  const error = () => API_ERRORS.unimplemented(`${what}: ${descriptor.service}.${descriptor.name}`);
  if (descriptor.requestStream || descriptor.responseStream) {
    return {
      kind: 'stream',
      open: (call) => {
        call.end(error());
        return { message: () => undefined, halfClose: () => undefined };
      },
    };
  }
  return {
    kind: 'unary',
    proposes: false,
    call: async () => {
      throw error();
    },
  };
}
