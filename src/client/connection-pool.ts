/**
 * A fixed set of gRPC channels spread over the endpoints, used round-robin.
 *
 * Each channel is its own HTTP/2 connection (a local subchannel pool; grpc-js would otherwise
 * share one connection per target), so a load generator can open N connections and a cluster's
 * members each get their share. A call that fails with UNAVAILABLE moves to the next endpoint when
 * that is safe: always for reads, and for writes only when the request never left the process
 * (no connection), following etcd's retry contract (client/v3/retry.go).
 */
import * as grpc from '@grpc/grpc-js';
import { ClientUsageError, EtcdError, GrpcCode, toEtcdError } from './errors.ts';
import type { Method } from './proto.ts';

export interface ConnectionPoolOptions {
  /** `host:port` or `http://host:port`, as etcdctl accepts them. */
  readonly endpoints: readonly string[];
  /** How many channels (HTTP/2 connections) to open in total, spread over the endpoints. */
  readonly connections: number;
  /** How long the first call on a channel may wait for the connection. */
  readonly dialTimeoutMs: number;
  /** The deadline of each unary call unless the call names its own. */
  readonly commandTimeoutMs: number;
}

export interface CallOptions {
  /** Overrides the pool's command timeout for this call. */
  readonly timeoutMs?: number;
  /** Sends the call to this endpoint only (e.g. Status of one member); no failover. */
  readonly endpoint?: string;
  /** True when repeating the call cannot change the outcome (reads); enables failover. */
  readonly idempotent?: boolean;
}

interface Connection {
  readonly endpoint: string;
  readonly client: grpc.Client;
  /** Set once the channel has been READY; later calls skip the dial wait. */
  dialed: boolean;
}

/** grpc-js reports calls that never reached a server with this prefix. */
const NOT_SENT_PREFIX = 'No connection established';

/** etcd's server accepts requests up to 1.5 MiB but answers can be larger (big ranges). */
const MAX_RECEIVE_BYTES = 2 ** 31 - 1;

export function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed.startsWith('https://')) {
    throw new ClientUsageError(`TLS endpoints are not supported yet: ${endpoint}`);
  }
  const bare = trimmed.replace(/^http:\/\//, '').replace(/\/+$/, '');
  if (!/^[^\s/]+:\d+$/.test(bare)) throw new ClientUsageError(`bad endpoint: ${endpoint}`);
  return bare;
}

export class ConnectionPool {
  readonly endpoints: readonly string[];
  private readonly connections: Connection[] = [];
  private readonly options: ConnectionPoolOptions;
  private cursor = 0;
  private closed = false;

  constructor(options: ConnectionPoolOptions) {
    if (options.endpoints.length === 0) throw new ClientUsageError('no endpoints given');
    if (!Number.isInteger(options.connections) || options.connections < 1) {
      throw new ClientUsageError(`connections must be a positive integer: ${options.connections}`);
    }
    this.options = options;
    this.endpoints = [...new Set(options.endpoints.map(normalizeEndpoint))];
    // At least one channel per endpoint so that failover always has somewhere to go.
    const count = Math.max(options.connections, this.endpoints.length);
    for (let i = 0; i < count; i++) {
      const endpoint = this.endpoints[i % this.endpoints.length];
      const client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
      });
      this.connections.push({ endpoint, client, dialed: false });
    }
  }

  get size(): number {
    return this.connections.length;
  }

  /** Next channel in round-robin order, or the first channel to the named endpoint. */
  pick(endpoint?: string): Connection {
    if (this.closed) throw new ClientUsageError('client is closed');
    if (endpoint !== undefined) {
      const bare = normalizeEndpoint(endpoint);
      const found = this.connections.find((connection) => connection.endpoint === bare);
      if (found === undefined) throw new ClientUsageError(`not a configured endpoint: ${endpoint}`);
      return found;
    }
    const connection = this.connections[this.cursor];
    this.cursor = (this.cursor + 1) % this.connections.length;
    return connection;
  }

  /** The next channel whose endpoint differs from `after`'s, for failover. */
  private pickOther(after: Connection): Connection {
    for (let i = 0; i < this.connections.length; i++) {
      const candidate = this.pick();
      if (candidate.endpoint !== after.endpoint) return candidate;
    }
    return after;
  }

  async unary<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    options: CallOptions = {},
  ): Promise<Response> {
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const deadlineMs = Date.now() + timeoutMs;
    let connection = this.pick(options.endpoint);
    // One attempt per endpoint bounds the retries; a pinned endpoint gets exactly one.
    const attempts = options.endpoint === undefined ? this.endpoints.length : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!connection.dialed) await this.dial(connection, deadlineMs);
        return await this.unaryOnce(connection, method, request, deadlineMs);
      } catch (error) {
        const failure = toEtcdError(error, method.path);
        const retryable =
          failure.code === GrpcCode.Unavailable &&
          (options.idempotent === true || failure.message.startsWith(NOT_SENT_PREFIX));
        if (!retryable || attempt >= attempts || Date.now() >= deadlineMs) throw failure;
        connection = this.pickOther(connection);
      }
    }
  }

  private unaryOnce<Request, Response>(
    connection: Connection,
    method: Method<Request, Response>,
    request: Request,
    deadlineMs: number,
  ): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      connection.client.makeUnaryRequest(
        method.path,
        method.serialize,
        method.deserialize,
        request,
        { deadline: deadlineMs },
        (error, response) => {
          if (error) reject(toEtcdError(error, method.path));
          else resolve(response as Response);
        },
      );
    });
  }

  /** Waits until the channel connects, so a dead endpoint fails within the dial timeout. */
  private dial(connection: Connection, callDeadlineMs: number): Promise<void> {
    const deadlineMs = Math.min(callDeadlineMs, Date.now() + this.options.dialTimeoutMs);
    return new Promise<void>((resolve, reject) => {
      connection.client.waitForReady(deadlineMs, (error) => {
        if (error) {
          const reason = `${NOT_SENT_PREFIX} to ${connection.endpoint}: ${error.message}`;
          reject(new EtcdError(GrpcCode.Unavailable, reason));
          return;
        }
        connection.dialed = true;
        resolve();
      });
    });
  }

  serverStream<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    options: CallOptions = {},
  ): grpc.ClientReadableStream<Response> {
    const connection = this.pick(options.endpoint);
    const callOptions: grpc.CallOptions = {};
    if (options.timeoutMs !== undefined) callOptions.deadline = Date.now() + options.timeoutMs;
    return connection.client.makeServerStreamRequest(
      method.path,
      method.serialize,
      method.deserialize,
      request,
      callOptions,
    );
  }

  /** A long-lived bidirectional stream (watch, lease keep-alive); no deadline by design. */
  duplexStream<Request, Response>(
    method: Method<Request, Response>,
    options: { endpoint?: string } = {},
  ): grpc.ClientDuplexStream<Request, Response> {
    const connection = this.pick(options.endpoint);
    // etcd refuses watch/keep-alive streams without a leader only when asked to; Go clients ask.
    const metadata = new grpc.Metadata();
    metadata.set('hasleader', 'true');
    return connection.client.makeBidiStreamRequest(
      method.path,
      method.serialize,
      method.deserialize,
      metadata,
      {},
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.connections) connection.client.close();
  }
}
