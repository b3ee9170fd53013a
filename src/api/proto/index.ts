/**
 * Loads etcd's v3 protocol definitions (the .proto files beside this module) for the member's
 * gRPC services and gateway.
 *
 * Representation choices, shared with src/client/proto.ts (which must load the same files itself
 * because the client room may not import src/api):
 * - `longs: String`: lease ids, member ids and cluster ids are full 64-bit values; a JS number
 *   would silently round them above 2^53. Strings keep them exact and convert to bigint cheaply.
 *   Revisions also arrive as strings; callers narrow them to numbers where 2^53 is ample.
 * - `bytes: Buffer`: keys and values are arbitrary bytes; Buffer is a Uint8Array, so code typed
 *   against Uint8Array accepts it without copying.
 * - `enums: String`: names (`PUT`, `DESCEND`) are what the JSON gateway prints and are harder to
 *   confuse than numbers; the encoder accepts either a name or a number.
 * - `defaults: true`: proto3 omits zero values on the wire; materialising them spares every reader
 *   an `?? 0`. Oneof members are not defaulted; `oneofs: true` names the member that is set.
 * - `keepCase: true`: field names stay exactly as etcd spells them (`range_end`, `TTL`,
 *   `peerURLs`), which is also how etcd's JSON gateway names them.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIRECTORY = dirname(fileURLToPath(import.meta.url));

/** The .proto files of the client API, loaded together so cross-file references resolve. */
export const PROTO_FILES = [
  'rpc.proto',
  'kv.proto',
  'auth.proto',
  'lock.proto',
  'election.proto',
  'health.proto',
] as const;

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
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

/** The services of etcd's v3 API by their fully qualified gRPC names. */
export interface EtcdServiceDefinitions {
  readonly kv: grpc.ServiceDefinition;
  readonly watch: grpc.ServiceDefinition;
  readonly lease: grpc.ServiceDefinition;
  readonly cluster: grpc.ServiceDefinition;
  readonly maintenance: grpc.ServiceDefinition;
  readonly auth: grpc.ServiceDefinition;
  readonly lock: grpc.ServiceDefinition;
  readonly election: grpc.ServiceDefinition;
  readonly health: grpc.ServiceDefinition;
}

/** Fully qualified service names; they appear in every gRPC path (`/etcdserverpb.KV/Range`). */
export const SERVICE_NAMES = {
  kv: 'etcdserverpb.KV',
  watch: 'etcdserverpb.Watch',
  lease: 'etcdserverpb.Lease',
  cluster: 'etcdserverpb.Cluster',
  maintenance: 'etcdserverpb.Maintenance',
  auth: 'etcdserverpb.Auth',
  lock: 'v3lockpb.Lock',
  election: 'v3electionpb.Election',
  health: 'grpc.health.v1.Health',
} as const satisfies Record<keyof EtcdServiceDefinitions, string>;

let cached: protoLoader.PackageDefinition | undefined;

/** Parses the .proto files once per process; parsing takes tens of milliseconds. */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(
    PROTO_FILES.map((file) => join(PROTO_DIRECTORY, file)),
    PROTO_LOADER_OPTIONS,
  );
  return cached;
}

function isServiceDefinition(
  value: protoLoader.AnyDefinition | undefined,
): value is protoLoader.ServiceDefinition {
  // Message and enum definitions carry a `format` field; service definitions are method maps.
  return value !== undefined && !('format' in value);
}

export function loadServiceDefinitions(): EtcdServiceDefinitions {
  const definition = loadPackageDefinition();
  const pick = (name: string): grpc.ServiceDefinition => {
    const service = definition[name];
    if (!isServiceDefinition(service)) throw new Error(`proto: service ${name} is missing`);
    return service as grpc.ServiceDefinition;
  };
  return {
    kv: pick(SERVICE_NAMES.kv),
    watch: pick(SERVICE_NAMES.watch),
    lease: pick(SERVICE_NAMES.lease),
    cluster: pick(SERVICE_NAMES.cluster),
    maintenance: pick(SERVICE_NAMES.maintenance),
    auth: pick(SERVICE_NAMES.auth),
    lock: pick(SERVICE_NAMES.lock),
    election: pick(SERVICE_NAMES.election),
    health: pick(SERVICE_NAMES.health),
  };
}
