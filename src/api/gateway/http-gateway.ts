/**
 * etcd's HTTP/JSON gateway on the client port: POST /v3/<service>/<method> with a JSON body,
 * answered with etcd's grpc-gateway JSON (json-codec.ts) and, for failures, its error shapes
 * and HTTP statuses (etcd-errors.ts). Streams (/v3/watch, /v3/lease/keepalive, snapshot) read
 * a sequence of JSON messages from the body and answer one `{"result":…}` line per response.
 * Also GET /version, GET /health and GET /metrics, as etcd serves them.
 */
import { STATUS_CODES } from 'node:http';
import type { ServerApi } from '../../server/server-api.ts';
import {
  ApiError,
  API_ERRORS,
  GrpcCode,
  httpStatusOf,
  isExpectedError,
  toGrpcStatus,
} from '../etcd-errors.ts';
import type { GrpcRoute, Logger } from '../grpc/grpc-transport.ts';
import type { WireMessage } from '../response-messages.ts';
import type { RequestMessage, StreamCall } from '../rpc-method.ts';
import { hasLeader } from '../services/health-service.ts';
import { parseJsonExact } from './exact-json.ts';
import { grpcPathOf } from './gateway-routes.ts';
import type { HttpExchange } from './http-exchange.ts';
import { messageToJson, requestFromJson } from './json-codec.ts';
import { JsonStreamSplitter } from './json-stream-splitter.ts';
import type { MetricsEndpoint } from '../metrics/member-metrics.ts';

export interface GatewayContext {
  readonly server: ServerApi;
  readonly routes: ReadonlyMap<string, GrpcRoute>;
  readonly maxRequestBytes: number;
  /** Largest JSON body accepted: base64 and JSON punctuation inflate a request by ~4/3. */
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  /** GET /metrics; absent: 404, as etcd with --metrics off. */
  readonly metrics?: MetricsEndpoint;
}

/** The version clients choose their API from; Patroni picks /v3 for ≥ 3.4. */
const VERSION_BODY = '{"etcdserver":"3.5.0","etcdcluster":"3.5.0"}';

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-headers': 'accept, content-type, authorization',
};
const JSON_HEADERS = {
  ...CORS_HEADERS,
  'content-type': 'application/json',
  'grpc-metadata-content-type': 'application/grpc',
};

function sendText(
  exchange: HttpExchange,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  exchange.respond(status, { ...CORS_HEADERS, 'content-type': type });
  exchange.end(body);
}

function logUnexpected(context: GatewayContext, error: unknown, path: string): void {
  if (!isExpectedError(error)) context.logger.error({ err: error, path }, 'gateway request failed');
}

/** grpc-gateway's unary error body: {"error","message","code"} with the mapped HTTP status. */
function sendUnaryError(context: GatewayContext, exchange: HttpExchange, error: unknown): void {
  logUnexpected(context, error, exchange.path);
  if (exchange.closed) return;
  const status = toGrpcStatus(error);
  const message = JSON.stringify(status.message);
  exchange.respond(httpStatusOf(status.code), {
    ...CORS_HEADERS,
    'content-type': 'application/json',
  });
  exchange.end(`{"error":${message},"message":${message},"code":${status.code}}`);
}

function readBody(exchange: HttpExchange, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    exchange.body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        exchange.body.removeAllListeners('data');
        exchange.body.resume();
        reject(API_ERRORS.requestTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    exchange.body.once('end', () => resolve(Buffer.concat(chunks, size)));
    exchange.body.once('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return parseJsonExact(text);
  } catch (error) {
    throw new ApiError(
      GrpcCode.INVALID_ARGUMENT,
      error instanceof Error ? error.message : String(error),
    );
  }
}

async function serveUnary(
  context: GatewayContext,
  exchange: HttpExchange,
  route: GrpcRoute,
): Promise<void> {
  const handler = route.handler;
  if (handler.kind !== 'unary') throw new Error('serveUnary on a streaming method');
  try {
    const body = await readBody(exchange, context.maxBodyBytes);
    const request = requestFromJson(route.descriptor.requestType, parseJson(body));
    if (handler.proposes) {
      const size = route.descriptor.requestType.encode(request).finish().length;
      if (size > context.maxRequestBytes) throw API_ERRORS.requestTooLarge();
    }
    const response = await handler.call(request);
    if (exchange.closed) return;
    exchange.respond(200, JSON_HEADERS);
    exchange.end(messageToJson(route.descriptor.responseType, response));
  } catch (error) {
    sendUnaryError(context, exchange, error);
  }
}

/** A gateway stream as the StreamCall services write to: `{"result":…}` lines. */
function gatewayStreamCall(
  context: GatewayContext,
  exchange: HttpExchange,
  route: GrpcRoute,
): StreamCall {
  let finished = false;
  const listeners: (() => void)[] = [];
  const close = (): void => {
    finished = true;
    for (const listener of listeners.splice(0)) listener();
  };
  exchange.onClose(close);
  const call: StreamCall = {
    get closed() {
      return finished || exchange.closed;
    },
    send(response: WireMessage): boolean {
      if (call.closed) return false;
      if (!exchange.responded) exchange.respond(200, JSON_HEADERS);
      return exchange.write(
        `{"result":${messageToJson(route.descriptor.responseType, response)}}\n`,
      );
    },
    drained: () => exchange.drained(),
    end(error?: unknown): void {
      if (call.closed) return;
      if (error !== undefined) {
        logUnexpected(context, error, exchange.path);
        const status = toGrpcStatus(error);
        const httpCode = httpStatusOf(status.code);
        if (!exchange.responded) exchange.respond(httpCode, JSON_HEADERS);
        exchange.write(
          `{"error":{"grpc_code":${status.code},"http_code":${httpCode},` +
            `"message":${JSON.stringify(status.message)},"http_status":${JSON.stringify(STATUS_CODES[httpCode] ?? '')}}}\n`,
        );
      } else if (!exchange.responded) {
        exchange.respond(200, JSON_HEADERS);
      }
      exchange.end();
      close();
    },
    onClose(listener: () => void): void {
      if (call.closed) listener();
      else listeners.push(listener);
    },
    metadata: (name) => exchange.header(name),
  };
  return call;
}

function serveStream(context: GatewayContext, exchange: HttpExchange, route: GrpcRoute): void {
  const handler = route.handler;
  if (handler.kind !== 'stream') throw new Error('serveStream on a unary method');
  const call = gatewayStreamCall(context, exchange, route);
  const session = handler.open(call);
  if (!route.descriptor.requestStream) {
    // Server streaming (Snapshot, Observe): the body is the one request, and may be empty.
    readBody(exchange, context.maxBodyBytes).then(
      (body) => {
        if (call.closed) return;
        session.message(requestFromJson(route.descriptor.requestType, parseJson(body)));
        session.halfClose();
      },
      (error: unknown) => call.end(error),
    );
    return;
  }
  const splitter = new JsonStreamSplitter(context.maxBodyBytes);
  exchange.body.on('data', (chunk: Buffer) => {
    if (call.closed) return;
    try {
      for (const value of splitter.push(chunk)) {
        const request: RequestMessage = requestFromJson(route.descriptor.requestType, value);
        if (!call.closed) session.message(request);
      }
    } catch (error) {
      call.end(error);
    }
  });
  exchange.body.once('end', () => {
    if (call.closed) return;
    if (splitter.hasPartialValue)
      call.end(new ApiError(GrpcCode.INVALID_ARGUMENT, 'unexpected end of JSON input'));
    else session.halfClose();
  });
}

async function serveHealth(context: GatewayContext, exchange: HttpExchange): Promise<void> {
  const healthy = await hasLeader(context.server);
  // etcd 3.4 answers 503 with {"health":"false"} when the member has no leader.
  sendText(exchange, healthy ? 200 : 503, `{"health":"${healthy}"}`);
}

async function serveMetrics(metrics: MetricsEndpoint, exchange: HttpExchange): Promise<void> {
  const text = await metrics.render();
  exchange.respond(200, { 'content-type': metrics.contentType });
  exchange.end(text);
}

/** Serves one gateway request; never throws (failures become HTTP responses). */
export function serveGateway(context: GatewayContext, exchange: HttpExchange): void {
  exchange.body.on('error', () => exchange.end());
  const path = exchange.path.split('?', 1)[0];
  if (exchange.method === 'GET' && path === '/version') {
    sendText(exchange, 200, VERSION_BODY, 'application/json');
    return;
  }
  if (exchange.method === 'GET' && path === '/health') {
    void serveHealth(context, exchange);
    return;
  }
  if (exchange.method === 'GET' && path === '/metrics' && context.metrics !== undefined) {
    void serveMetrics(context.metrics, exchange);
    return;
  }
  const grpcPath = grpcPathOf(path);
  const route = grpcPath === undefined ? undefined : context.routes.get(grpcPath);
  if (route === undefined) {
    const known = path.startsWith('/v3/') || path.startsWith('/v3beta/');
    sendText(exchange, 404, known ? 'Not Found\n' : '404 page not found\n');
    return;
  }
  if (exchange.method === 'OPTIONS') {
    sendText(exchange, 200, '');
    return;
  }
  if (exchange.method !== 'POST') {
    sendText(exchange, 405, 'Method Not Allowed\n');
    return;
  }
  if (route.handler.kind === 'unary') void serveUnary(context, exchange, route);
  else serveStream(context, exchange, route);
}
