/**
 * The one place where failures become what etcd's clients see: a gRPC status code plus etcd's
 * exact message (clients string-match messages: Go's rpctypes, the etcd3 npm client's
 * errors.ts, Patroni), and for the JSON gateway the HTTP status grpc-gateway v1 derives from
 * the code.
 *
 * Member failures arrive as ServerError, store failures as MvccError, failures the API layer
 * finds itself (validation, limits, undecodable input, unimplemented RPCs) as ApiError. Anything
 * else is a bug: it becomes Unknown with its message, as grpc-go does for a plain Go error, and
 * the caller logs it.
 */
import { isMvccError, type MvccErrorCode } from '../mvcc/index.ts';
import { isServerError, type ServerErrorCode } from '../server/server-error.ts';

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

export interface GrpcStatus {
  readonly code: GrpcCode;
  readonly message: string;
}

/** A failure detected by the API layer itself, already carrying its gRPC code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: GrpcCode;

  constructor(code: GrpcCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Messages of failures the API layer raises itself (etcd's rpctypes wording). */
export const API_ERRORS = {
  emptyKey: () => new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  valueProvided: () => new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: () => new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  invalidSort: () => new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: invalid sort option'),
  tooManyOps: () =>
    new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  requestTooLarge: () =>
    new ApiError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  /** grpc-go's wording when a frame exceeds the server's receive limit. */
  messageTooLarge: (size: number, max: number) =>
    new ApiError(
      GrpcCode.RESOURCE_EXHAUSTED,
      `grpc: received message larger than max (${size} vs. ${max})`,
    ),
  malformed: (detail: string) =>
    new ApiError(GrpcCode.INVALID_ARGUMENT, `grpc: error unmarshalling request: ${detail}`),
  compressed: () =>
    new ApiError(
      GrpcCode.UNIMPLEMENTED,
      'grpc: compressed messages are not supported by this server (grpc-encoding identity only)',
    ),
  leaseNotFound: () => new ApiError(GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found'),
  unimplemented: (what: string) =>
    new ApiError(GrpcCode.UNIMPLEMENTED, `sigil: ${what} is not implemented yet`),
  deadlineExceeded: () =>
    new ApiError(GrpcCode.DEADLINE_EXCEEDED, 'etcdserver: context deadline exceeded'),
  noLeader: () => new ApiError(GrpcCode.UNAVAILABLE, 'etcdserver: no leader'),
} as const;

const MVCC_CODES: Record<MvccErrorCode, GrpcCode> = {
  'empty-key': GrpcCode.INVALID_ARGUMENT,
  'key-not-found': GrpcCode.INVALID_ARGUMENT,
  'value-provided': GrpcCode.INVALID_ARGUMENT,
  'lease-provided': GrpcCode.INVALID_ARGUMENT,
  'too-many-ops': GrpcCode.INVALID_ARGUMENT,
  'duplicate-key': GrpcCode.INVALID_ARGUMENT,
  compacted: GrpcCode.OUT_OF_RANGE,
  'future-rev': GrpcCode.OUT_OF_RANGE,
};

const SERVER_CODES: Record<ServerErrorCode, GrpcCode> = {
  'no-leader': GrpcCode.UNAVAILABLE,
  'leader-changed': GrpcCode.UNAVAILABLE,
  stopped: GrpcCode.UNAVAILABLE,
  'timed-out': GrpcCode.UNAVAILABLE,
  'timed-out-leader-fail': GrpcCode.UNAVAILABLE,
  'timed-out-connection-lost': GrpcCode.UNAVAILABLE,
  'unhealthy-cluster': GrpcCode.UNAVAILABLE,
  'too-many-requests': GrpcCode.RESOURCE_EXHAUSTED,
  'request-too-large': GrpcCode.INVALID_ARGUMENT,
  'no-space': GrpcCode.RESOURCE_EXHAUSTED,
  'lease-not-found': GrpcCode.NOT_FOUND,
  'lease-exists': GrpcCode.FAILED_PRECONDITION,
  'lease-ttl-too-large': GrpcCode.OUT_OF_RANGE,
  'member-not-found': GrpcCode.NOT_FOUND,
  'member-exists': GrpcCode.FAILED_PRECONDITION,
  'peer-url-exists': GrpcCode.FAILED_PRECONDITION,
  'not-enough-started-members': GrpcCode.FAILED_PRECONDITION,
  'not-learner': GrpcCode.FAILED_PRECONDITION,
  'learner-not-ready': GrpcCode.FAILED_PRECONDITION,
  'too-many-learners': GrpcCode.FAILED_PRECONDITION,
  'not-leader': GrpcCode.FAILED_PRECONDITION,
  'bad-leader-transferee': GrpcCode.FAILED_PRECONDITION,
  'leader-transfer-timed-out': GrpcCode.UNAVAILABLE,
  'learner-rpc': GrpcCode.UNAVAILABLE, // etcd 3.4: codes.Unavailable (seen on a real learner)
  'invalid-member-urls': GrpcCode.INVALID_ARGUMENT,
  corrupt: GrpcCode.DATA_LOSS,
  canceled: GrpcCode.CANCELLED,
};

/** Whether `toGrpcStatus` recognised the error; unrecognised ones are bugs worth logging. */
export function isExpectedError(error: unknown): boolean {
  return error instanceof ApiError || isServerError(error) || isMvccError(error);
}

export function toGrpcStatus(error: unknown): GrpcStatus {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  if (isServerError(error)) return { code: SERVER_CODES[error.code], message: error.message };
  if (isMvccError(error)) return { code: MVCC_CODES[error.code], message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: GrpcCode.UNKNOWN, message };
}

/** grpc-gateway v1's HTTPStatusFromCode, which etcd's gateway uses. */
const HTTP_STATUS: Record<GrpcCode, number> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.CANCELLED]: 408,
  [GrpcCode.UNKNOWN]: 500,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.FAILED_PRECONDITION]: 412,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.INTERNAL]: 500,
  [GrpcCode.UNAVAILABLE]: 503,
  [GrpcCode.DATA_LOSS]: 500,
  [GrpcCode.UNAUTHENTICATED]: 401,
};

export function httpStatusOf(code: GrpcCode): number {
  return HTTP_STATUS[code];
}
