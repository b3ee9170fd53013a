/**
 * Failures the client reports. Servers answer with a gRPC status whose details are etcd's exact
 * message (`etcdserver: requested lease not found`); callers match on that text, as etcd's own
 * clients do, so the message is passed through untouched.
 */
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

/** gRPC status codes by name, for readable matching (`err.code === GrpcCode.NotFound`). */
export const GrpcCode = {
  Ok: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** A handful of etcd's messages the client itself reasons about. */
export const EtcdMessage = {
  compacted: 'etcdserver: mvcc: required revision has been compacted',
  futureRevision: 'etcdserver: mvcc: required revision is a future revision',
  leaseNotFound: 'etcdserver: requested lease not found',
  keyNotFound: 'etcdserver: key not found',
  noLeader: 'etcdserver: no leader',
} as const;

const brand = Symbol.for('sigil-kv.EtcdError');

export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  readonly [brand] = true;

  constructor(
    /** The gRPC status code the server (or the transport) returned. */
    readonly code: GrpcCode,
    /** The status details: etcd's message, e.g. `etcdserver: key not found`. */
    message: string,
    /** The RPC path that failed, for diagnostics. */
    readonly path = '',
  ) {
    super(message);
  }

  /** The gRPC code's name (`NotFound`), as etcd's Go client would print it. */
  get codeName(): string {
    return GrpcStatus[this.code] ?? String(this.code);
  }

  /** True for any EtcdError, even one made by a second copy of this module. */
  static is(value: unknown): value is EtcdError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number';
}

/** Converts what grpc-js reports into an EtcdError, keeping etcd's message verbatim. */
export function toEtcdError(error: unknown, path = ''): EtcdError {
  if (EtcdError.is(error)) return error;
  if (isServiceError(error)) {
    return new EtcdError(error.code as GrpcCode, error.details || error.message, path);
  }
  const text = error instanceof Error ? error.message : String(error);
  return new EtcdError(GrpcCode.Unknown, text, path);
}

/** The client raises this itself for misuse (bad option values, a closed client). */
export class ClientUsageError extends Error {
  override readonly name = 'ClientUsageError';
}
