/** The client API room: gRPC and the JSON gateway on the client URLs. */
export {
  startClientApi,
  type ClientApi,
  type ClientApiOptions,
  type Logger,
} from './client-api.ts';
export { toGrpcStatus, httpStatusOf, GrpcCode, ApiError, type GrpcStatus } from './etcd-errors.ts';
export { MemberMetrics, type MetricsEndpoint } from './metrics/member-metrics.ts';
