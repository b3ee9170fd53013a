/**
 * The gRPC server protocol on raw HTTP/2 streams (node:http2), so gRPC and the HTTP/1.1 JSON
 * gateway can share one port as they do on etcd (grpc-js's Server owns its listener and cannot).
 *
 * One call = one stream: request headers (`:path /etcdserverpb.KV/Range`,
 * `content-type: application/grpc`, optional `grpc-timeout`), length-prefixed messages, then the
 * response: headers, messages, and trailers carrying `grpc-status` and a percent-encoded
 * `grpc-message`. A call that fails before any response message gets a "trailers-only"
 * response (status in the headers), as grpc-go sends.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { MethodDescriptor } from '../proto/server-codec.ts';
import { API_ERRORS, ApiError, GrpcCode, isExpectedError, toGrpcStatus } from '../etcd-errors.ts';
import type { WireMessage } from '../response-messages.ts';
import type { MethodHandler, RequestMessage, StreamCall, StreamSession } from '../rpc-method.ts';
import {
  encodeGrpcMessage,
  frameMessage,
  GrpcFrameReader,
  parseGrpcTimeout,
} from './grpc-frames.ts';

export interface GrpcRoute {
  readonly descriptor: MethodDescriptor;
  readonly handler: MethodHandler;
}

export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface GrpcContext {
  readonly routes: ReadonlyMap<string, GrpcRoute>;
  /** The gRPC receive limit: etcd allows max-request-bytes plus 512 KiB of gRPC overhead. */
  readonly maxReceiveBytes: number;
  readonly maxRequestBytes: number;
  readonly logger: Logger;
  /** Every open call, so shutdown can end them with a status instead of a reset. */
  readonly openCalls: Set<GrpcServerCall>;
}

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' } as const;

/** One gRPC call's response side; also the StreamCall streaming services write to. */
export class GrpcServerCall implements StreamCall {
  private readonly stream: ServerHttp2Stream;
  private readonly headers: IncomingHttpHeaders;
  private readonly context: GrpcContext;
  private readonly route: GrpcRoute;
  private headersSent = false;
  private finished = false;
  private readonly closeListeners: (() => void)[] = [];
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    context: GrpcContext,
    route: GrpcRoute,
  ) {
    this.stream = stream;
    this.headers = headers;
    this.context = context;
    this.route = route;
    context.openCalls.add(this);
    stream.once('close', () => this.closed_());
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.end(API_ERRORS.deadlineExceeded()), timeoutMs);
      this.deadline.unref();
    }
  }

  get closed(): boolean {
    return this.finished || this.stream.destroyed || this.stream.closed;
  }

  metadata(name: string): string | undefined {
    const value = this.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  send(response: WireMessage): boolean {
    if (this.closed) return false;
    let body: Uint8Array;
    try {
      body = this.route.descriptor.responseType.encode(response).finish();
    } catch (error) {
      this.end(error);
      return false;
    }
    try {
      if (!this.headersSent) {
        this.headersSent = true;
        this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      }
      return this.stream.write(frameMessage(body));
    } catch (error) {
      // The client reset the stream between our check and the write: nothing left to answer.
      this.context.logger.debug({ err: error }, 'response to a closed stream dropped');
      this.closed_();
      return false;
    }
  }

  drained(): Promise<void> {
    if (this.closed || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  end(error?: unknown): void {
    if (this.closed) return;
    this.finished = true;
    const status = error === undefined ? { code: GrpcCode.OK, message: '' } : toGrpcStatus(error);
    if (error !== undefined && !isExpectedError(error)) {
      this.context.logger.error({ err: error, method: this.route.descriptor.path }, 'rpc failed');
    }
    const trailers: Record<string, string> = { 'grpc-status': String(status.code) };
    if (status.message !== '') trailers['grpc-message'] = encodeGrpcMessage(status.message);
    try {
      if (!this.headersSent) {
        this.headersSent = true;
        this.stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
      } else {
        this.stream.once('wantTrailers', () => {
          if (!this.stream.destroyed) this.stream.sendTrailers(trailers);
        });
        this.stream.end();
      }
    } catch (error) {
      this.context.logger.debug({ err: error }, 'status for a closed stream dropped');
    }
    this.closed_();
  }

  /** Runs the close listeners once, whether the call ended here or the client went away. */
  private closed_(): void {
    this.finished = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.context.openCalls.delete(this);
    const listeners = this.closeListeners.splice(0);
    for (const listener of listeners) listener();
  }
}

/** Answers a stream that named no known method, as grpc-go does (trailers-only). */
function rejectUnknownMethod(
  stream: ServerHttp2Stream,
  path: string,
  routes: ReadonlyMap<string, GrpcRoute>,
): void {
  const [, service = '', method = ''] = path.split('/');
  const known = [...routes.values()].some((route) => route.descriptor.service === service);
  const message = known
    ? `unknown method ${method} for service ${service}`
    : `unknown service ${service}`;
  stream.respond(
    {
      ...RESPONSE_HEADERS,
      'grpc-status': String(GrpcCode.UNIMPLEMENTED),
      'grpc-message': encodeGrpcMessage(message),
    },
    { endStream: true },
  );
}

function decode(route: GrpcRoute, frame: Buffer): RequestMessage {
  try {
    return route.descriptor.requestType.decode(frame) as unknown as RequestMessage;
  } catch (error) {
    throw API_ERRORS.malformed(error instanceof Error ? error.message : String(error));
  }
}

function serveUnary(
  call: GrpcServerCall,
  stream: ServerHttp2Stream,
  route: GrpcRoute,
  context: GrpcContext,
): void {
  const handler = route.handler;
  if (handler.kind !== 'unary') throw new Error('serveUnary on a streaming method');
  const reader = new GrpcFrameReader(context.maxReceiveBytes);
  let frame: Buffer | undefined;
  let messages = 0;
  stream.on('data', (chunk: Buffer) => {
    if (call.closed) return;
    try {
      reader.push(chunk, (message) => {
        messages++;
        frame = message;
      });
    } catch (error) {
      call.end(error);
    }
  });
  stream.once('end', () => {
    if (call.closed) return;
    if (messages !== 1 || frame === undefined || reader.hasPartialFrame) {
      call.end(
        new ApiError(
          GrpcCode.INVALID_ARGUMENT,
          `grpc: unary call carried ${messages} complete messages`,
        ),
      );
      return;
    }
    if (handler.proposes && frame.length > context.maxRequestBytes) {
      call.end(API_ERRORS.requestTooLarge());
      return;
    }
    let request: RequestMessage;
    try {
      request = decode(route, frame);
    } catch (error) {
      call.end(error);
      return;
    }
    handler
      .call(request)
      .then((response) => {
        if (call.closed) return;
        call.send(response);
        call.end();
      })
      .catch((error: unknown) => call.end(error));
  });
}

function serveStream(
  call: GrpcServerCall,
  stream: ServerHttp2Stream,
  route: GrpcRoute,
  context: GrpcContext,
): void {
  const handler = route.handler;
  if (handler.kind !== 'stream') throw new Error('serveStream on a unary method');
  const reader = new GrpcFrameReader(context.maxReceiveBytes);
  let session: StreamSession;
  try {
    session = handler.open(call);
  } catch (error) {
    call.end(error);
    return;
  }
  stream.on('data', (chunk: Buffer) => {
    if (call.closed) return;
    try {
      reader.push(chunk, (frame) => {
        if (!call.closed) session.message(decode(route, frame));
      });
    } catch (error) {
      call.end(error);
    }
  });
  stream.once('end', () => {
    if (call.closed) return;
    if (reader.hasPartialFrame) call.end(API_ERRORS.malformed('stream ended inside a message'));
    else session.halfClose();
  });
}

/** Serves one HTTP/2 stream whose content-type is application/grpc. */
export function serveGrpcStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  context: GrpcContext,
): void {
  const path = headers[':path'] ?? '';
  const route = context.routes.get(path);
  if (route === undefined) {
    rejectUnknownMethod(stream, path, context.routes);
    return;
  }
  const call = new GrpcServerCall(stream, headers, context, route);
  if (route.handler.kind === 'unary') serveUnary(call, stream, route, context);
  else serveStream(call, stream, route, context);
}
