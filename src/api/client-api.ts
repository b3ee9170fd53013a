/**
 * The client port: gRPC and the HTTP/JSON gateway on the same listener, as etcd serves them.
 *
 * Each URL is a net.Server whose connections are sniffed: the HTTP/2 preface goes to our HTTP/2
 * server (gRPC clients, h2c; src/api/http2/h2-server-connection.ts says why not node:http2),
 * anything else to an unbound node:http server (curl, Patroni, browsers).
 */
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { ServerApi } from '../server/server-api.ts';
import { http1Exchange, http2Exchange } from './gateway/http-exchange.ts';
import { type GatewayContext, serveGateway } from './gateway/http-gateway.ts';
import type { MetricsEndpoint } from './metrics/member-metrics.ts';
import {
  type GrpcContext,
  type GrpcServerCall,
  type Logger,
  serveGrpcStream,
} from './grpc/grpc-transport.ts';
import { ServerError } from '../server/server-error.ts';
import { H2ServerConnection } from './http2/h2-server-connection.ts';
import type { H2ServerStream } from './http2/h2-server-stream.ts';
import { handOver } from './protocol-sniffer.ts';
import { loadProtoCodec } from './proto/server-codec.ts';
import { buildMethodTable } from './services/method-table.ts';

export type { Logger };

export interface ClientApiOptions {
  /** http://host:port URLs to listen on (TLS arrives with the security issue). */
  readonly listenClientUrls: readonly string[];
  /** etcd's --max-request-bytes (default 1.5 MiB). */
  readonly maxRequestBytes: number;
  /** etcd's --max-txn-ops (default 128). */
  readonly maxTxnOps: number;
  readonly logger: Logger;
  /** etcd's --experimental-watch-progress-notify-interval; default 10 minutes. */
  readonly progressNotifyIntervalMs?: number;
  /** Served as GET /metrics (see MemberMetrics). */
  readonly metrics?: MetricsEndpoint;
}

export interface ClientApi {
  readonly addresses: readonly { readonly host: string; readonly port: number }[];
  /** Ends open calls with "server stopped", closes every connection and listener. */
  close(): Promise<void>;
}

/** etcd lets gRPC messages exceed max-request-bytes by this much before grpc refuses them. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;
const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 10 * 60 * 1000;
/** How long close() lets connections finish after ending their calls. */
const CLOSE_GRACE_MS = 1_000;

function parseListenUrl(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') {
    throw new Error(`listen-client-urls: only http:// is supported so far, got ${url}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: parsed.port === '' ? 2379 : Number(parsed.port) };
}

function isGrpc(stream: H2ServerStream): boolean {
  return stream.headers.get('content-type')?.startsWith('application/grpc') === true;
}

export async function startClientApi(
  server: ServerApi,
  options: ClientApiOptions,
): Promise<ClientApi> {
  const codec = loadProtoCodec();
  const routes = buildMethodTable(server, codec, {
    maxRequestBytes: options.maxRequestBytes,
    maxTxnOps: options.maxTxnOps,
    progressNotifyIntervalMs:
      options.progressNotifyIntervalMs ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS,
  });
  const openCalls = new Set<GrpcServerCall>();
  const grpc: GrpcContext = {
    routes,
    maxReceiveBytes: options.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    maxRequestBytes: options.maxRequestBytes,
    logger: options.logger,
    openCalls,
  };
  const gateway: GatewayContext = {
    server,
    routes,
    maxRequestBytes: options.maxRequestBytes,
    maxBodyBytes: 2 * (options.maxRequestBytes + GRPC_OVERHEAD_BYTES),
    logger: options.logger,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  };
  const sockets = new Set<Socket>();
  const listeners: Server[] = [];
  const addresses: { host: string; port: number }[] = [];

  const http2Connections = new Set<H2ServerConnection>();
  const onStream = (stream: H2ServerStream): void => {
    if (isGrpc(stream)) serveGrpcStream(stream, grpc);
    else serveGateway(gateway, http2Exchange(stream));
  };
  const http2 = (socket: Socket, received: Buffer): void => {
    const connection = new H2ServerConnection(socket, received, {
      onStream,
      logger: options.logger,
    });
    http2Connections.add(connection);
    socket.once('close', () => http2Connections.delete(connection));
  };
  // Not bound: connections are handed to it after protocol sniffing. Long-lived HTTP/1.1 watch
  // and keep-alive bodies must not hit node's request timeout.
  const http1 = createHttp1Server({ requestTimeout: 0 }, (request, response) =>
    serveGateway(gateway, http1Exchange(request, response)),
  );
  http1.on('clientError', (_error, socket) => socket.destroy());
  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (error) => options.logger.debug({ err: error }, 'client socket error'));
    handOver(socket, http2, http1);
  };

  for (const url of options.listenClientUrls) {
    const { host, port } = parseListenUrl(url);
    const listener = createNetServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (error) => options.logger.error({ err: error }, 'client listener error'));
    listeners.push(listener);
    const address = listener.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    addresses.push({ host, port: bound });
    options.logger.info({ url, port: bound }, 'serving client requests');
  }

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    for (const call of [...openCalls]) call.end(new ServerError('stopped'));
    for (const connection of http2Connections) connection.goAway();
    const closed = listeners.map(
      (listener) => new Promise<void>((resolve) => listener.close(() => resolve())),
    );
    // Give ended calls a moment to flush their trailers, then drop every connection.
    await new Promise((resolve) => setTimeout(resolve, sockets.size === 0 ? 0 : CLOSE_GRACE_MS));
    for (const socket of sockets) socket.destroy();
    await Promise.all(closed);
  };
  return {
    addresses,
    close: () => (closing ??= close()),
  };
}
