/**
 * The client's view of etcd's protocol: the method definitions (path + codec) it calls.
 *
 * The .proto files live in src/api/proto; the client reads them by path because the layering
 * rules let it import only src/base. The loader options must match src/api/proto/index.ts (see the
 * reasons there): int64 as decimal strings so 64-bit ids stay exact, bytes as Buffer, enums as
 * names, zero values materialised, etcd's field names kept.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_DIRECTORY = fileURLToPath(new URL('../api/proto/', import.meta.url));

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: false,
  oneofs: true,
  includeDirs: [PROTO_DIRECTORY],
};

/** One RPC: its path and the functions that encode a request and decode a response. */
export interface Method<Request, Response> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly serialize: (request: Request) => Buffer;
  readonly deserialize: (bytes: Buffer) => Response;
}

let packageDefinition: protoLoader.PackageDefinition | undefined;

function load(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.loadSync(
    ['rpc.proto', 'kv.proto', 'auth.proto'].map((file) => join(PROTO_DIRECTORY, file)),
    LOADER_OPTIONS,
  );
  return packageDefinition;
}

/**
 * Looks up `service.method` (e.g. `etcdserverpb.KV` / `Range`). The caller states the message
 * types; they are checked against the .proto files by the round-trip tests, not by the compiler.
 */
export function method<Request, Response>(
  service: string,
  name: string,
): Method<Request, Response> {
  const definition = load()[service];
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
