/**
 * The client's view of etcd's protocol: the method definitions (path + codec) it calls, from
 * the same parsed .proto files and loader options as the server side (src/api/proto): int64 as
 * decimal strings so 64-bit ids stay exact, bytes as Buffer, enums as names.
 */
import type * as protoLoader from '@grpc/proto-loader';
import { loadPackageDefinition } from '../api/proto/index.ts';

/** One RPC: its path and the functions that encode a request and decode a response. */
export interface Method<Request, Response> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly serialize: (request: Request) => Buffer;
  readonly deserialize: (bytes: Buffer) => Response;
}

/**
 * Looks up `service.method` (e.g. `etcdserverpb.KV` / `Range`). The caller states the message
 * types; they are checked against the .proto files by the round-trip tests, not by the compiler.
 */
export function method<Request, Response>(
  service: string,
  name: string,
): Method<Request, Response> {
  const definition = loadPackageDefinition()[service];
  if (definition === undefined || 'format' in definition) {
    throw new Error(`proto: no service ${service}`);
  }
  const found = (definition as protoLoader.ServiceDefinition)[name];
  if (found === undefined) throw new Error(`proto: no method ${service}.${name}`);
  return {
    path: found.path,
    requestStream: found.requestStream,
    responseStream: found.responseStream,
    serialize: found.requestSerialize as (request: Request) => Buffer,
    deserialize: found.responseDeserialize as (bytes: Buffer) => Response,
  };
}
