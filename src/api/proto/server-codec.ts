/**
 * The member's protobuf codec: etcd's .proto files (beside this module) parsed once with
 * protobufjs, and a table of every gRPC method by its path with its request and response Types.
 *
 * The server encodes and decodes with the reflected Type objects directly (Type.decode /
 * Type.encode run protobufjs's generated code) instead of going through @grpc/proto-loader's
 * object conversion: a Put on the hot path then costs one decode into a message object and one
 * encode of a small plain object, with no intermediate copies.
 *
 * Field names are kept as etcd spells them (`range_end`, `TTL`): the same names are the JSON
 * gateway's output names. int64 fields decode to Long values (protobufjs uses the `long`
 * package when present); src/api/wire-values.ts converts them exactly.
 *
 * index.ts beside this file belongs to the client side and pulls in @grpc/grpc-js; the server
 * does not need grpc-js, so the file list is repeated here rather than imported.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const PROTO_DIRECTORY = dirname(fileURLToPath(import.meta.url));
const PROTO_FILES = [
  'rpc.proto',
  'kv.proto',
  'auth.proto',
  'lock.proto',
  'election.proto',
  'health.proto',
];

/** The gRPC services the member answers, by fully qualified name. */
export const SERVICE_NAMES = [
  'etcdserverpb.KV',
  'etcdserverpb.Watch',
  'etcdserverpb.Lease',
  'etcdserverpb.Cluster',
  'etcdserverpb.Maintenance',
  'etcdserverpb.Auth',
  'v3lockpb.Lock',
  'v3electionpb.Election',
  'grpc.health.v1.Health',
] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface MethodDescriptor {
  /** `/etcdserverpb.KV/Range`: the HTTP/2 :path of the call. */
  readonly path: string;
  readonly service: ServiceName;
  readonly name: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

export interface ProtoCodec {
  readonly root: protobuf.Root;
  /** Every method of every served service, by :path. */
  readonly methods: ReadonlyMap<string, MethodDescriptor>;
  type(name: string): protobuf.Type;
}

let cached: ProtoCodec | undefined;

/** Parses the .proto files once per process (tens of milliseconds). */
export function loadProtoCodec(): ProtoCodec {
  if (cached !== undefined) return cached;
  const root = new protobuf.Root();
  // Imports name sibling files ("kv.proto"); resolve them inside this directory.
  root.resolvePath = (_origin, target) => join(PROTO_DIRECTORY, target.replace(/^.*\//, ''));
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  const methods = new Map<string, MethodDescriptor>();
  for (const service of SERVICE_NAMES) {
    for (const method of root.lookupService(service).methodsArray) {
      method.resolve();
      const path = `/${service}/${method.name}`;
      methods.set(path, {
        path,
        service,
        name: method.name,
        requestType: method.resolvedRequestType as protobuf.Type,
        responseType: method.resolvedResponseType as protobuf.Type,
        requestStream: method.requestStream === true,
        responseStream: method.responseStream === true,
      });
    }
  }
  cached = {
    root,
    methods,
    type: (name) => root.lookupType(name),
  };
  return cached;
}
