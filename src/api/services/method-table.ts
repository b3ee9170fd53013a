/**
 * Every method of every served service, by gRPC path, with its implementation. Built once at
 * start; both the gRPC transport and the JSON gateway route through it.
 */
import type { ServerApi } from '../../server/server-api.ts';
import type { GrpcRoute } from '../grpc/grpc-transport.ts';
import type { ProtoCodec, ServiceName } from '../proto/server-codec.ts';
import type { MethodHandler } from '../rpc-method.ts';
import { clusterMethods } from './cluster-service.ts';
import { healthMethods } from './health-service.ts';
import { kvMethods } from './kv-service.ts';
import { leaseMethods } from './lease-service.ts';
import { maintenanceMethods } from './maintenance-service.ts';
import { UNIMPLEMENTED_SERVICES, unimplementedMethod } from './unimplemented-services.ts';
import { watchMethods } from './watch-service.ts';

export interface MethodTableOptions {
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly progressNotifyIntervalMs: number;
}

export function buildMethodTable(
  server: ServerApi,
  codec: ProtoCodec,
  options: MethodTableOptions,
): Map<string, GrpcRoute> {
  const implemented: Partial<Record<ServiceName, Record<string, MethodHandler>>> = {
    'etcdserverpb.KV': kvMethods(server, options.maxTxnOps),
    'etcdserverpb.Watch': watchMethods(server, options),
    'etcdserverpb.Lease': leaseMethods(server),
    'etcdserverpb.Cluster': clusterMethods(server),
    'etcdserverpb.Maintenance': maintenanceMethods(server),
    'grpc.health.v1.Health': healthMethods(server),
  };
  const routes = new Map<string, GrpcRoute>();
  for (const descriptor of codec.methods.values()) {
    const handler =
      implemented[descriptor.service]?.[descriptor.name] ??
      unimplementedMethod(
        descriptor,
        UNIMPLEMENTED_SERVICES.get(descriptor.service) ?? `${descriptor.service}`,
      );
    routes.set(descriptor.path, { descriptor, handler });
  }
  return routes;
}
