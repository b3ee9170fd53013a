/**
 * The gRPC server protocol on the streams of our HTTP/2 server (src/api/http2), so gRPC and the
 * HTTP/1.1 JSON gateway can share one port as they do on etcd (grpc-js's Server owns its
 * listener and cannot).
 *
 * One call = one stream: request headers (`:path /etcdserverpb.KV/Range`,
 * `content-type: application/grpc`, optional `grpc-timeout`), length-prefixed messages, then the
 * response: headers, messages, and trailers carrying `grpc-status` and a percent-encoded
 * `grpc-message`. A call that fails before any response message gets a "trailers-only"
 * response (status in the headers), as grpc-go sends.
 */
import type { H2ServerStream } from '../http2/h2-server-stream.ts';
import { encodeHeaderBlock, type HeaderField } from '../http2/hpack.ts';
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

const field = (name: string, value: string): HeaderField => ({ name, value, sensitive: false });
const RESPONSE_FIELDS = [field(':status', '200'), field('content-type', 'application/grpc')];
/** Every call's response headers, and the trailers of every successful one: encoded once. */
const RESPONSE_HEADERS = encodeHeaderBlock(RESPONSE_FIELDS);
const OK_TRAILERS = encodeHeaderBlock([field('grpc-status', String(GrpcCode.OK))]);

/** A status as header fields (grpc-message percent-encoded), for trailers or trailers-only. */
function statusFields(code: number, message: string): HeaderField[] {
  const fields = [field('grpc-status', String(code))];
  if (message !== '') fields.push(field('grpc-message', encodeGrpcMessage(message)));
  return fields;
}

/** One gRPC call's response side; also the StreamCall streaming services write to. */
export class GrpcServerCall implements StreamCall {
  private readonly stream: H2ServerStream;
  private readonly context: GrpcContext;
  private readonly route: GrpcRoute;
  private headersSent = false;
  private finished = false;
  private readonly closeListeners: (() => void)[] = [];
  private deadline: NodeJS.Timeout | undefined;

  constructor(stream: H2ServerStream, context: GrpcContext, route: GrpcRoute) {
    this.stream = stream;
    this.context = context;
    this.route = route;
    context.openCalls.add(this);
    stream.onClose(() => this.closed_());
    const timeoutMs = parseGrpcTimeout(stream.headers.get('grpc-timeout'));
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.end(API_ERRORS.deadlineExceeded()), timeoutMs);
      this.deadline.unref();
    }
  }

  get closed(): boolean {
    return this.finished || this.stream.closed;
  }

  metadata(name: string): string | undefined {
    return this.stream.headers.get(name);
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
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS);
    }
    return this.stream.write(frameMessage(body));
  }

  drained(): Promise<void> {
    return this.closed ? Promise.resolve() : this.stream.drained();
  }

  end(error?: unknown): void {
    if (this.closed) return;
    this.finished = true;
    const status = error === undefined ? { code: GrpcCode.OK, message: '' } : toGrpcStatus(error);
    if (error !== undefined && !isExpectedError(error)) {
      this.context.logger.error({ err: error, method: this.route.descriptor.path }, 'rpc failed');
    }
    const ok = status.code === GrpcCode.OK && status.message === '';
    if (!this.headersSent) {
      // Trailers-only: the status rides in the response headers, as grpc-go sends it.
      this.headersSent = true;
      const fields = [...RESPONSE_FIELDS, ...statusFields(status.code, status.message)];
      this.stream.respond(encodeHeaderBlock(fields), true);
    } else {
      this.stream.end(
        ok ? OK_TRAILERS : encodeHeaderBlock(statusFields(status.code, status.message)),
      );
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
  stream: H2ServerStream,
  path: string,
  routes: ReadonlyMap<string, GrpcRoute>,
): void {
  const [, service = '', method = ''] = path.split('/');
  const known = [...routes.values()].some((route) => route.descriptor.service === service);
  const message = known
    ? `unknown method ${method} for service ${service}`
    : `unknown service ${service}`;
  const fields = [...RESPONSE_FIELDS, ...statusFields(GrpcCode.UNIMPLEMENTED, message)];
  stream.respond(encodeHeaderBlock(fields), true);
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
  stream: H2ServerStream,
  route: GrpcRoute,
  context: GrpcContext,
): void {
  const handler = route.handler;
  if (handler.kind !== 'unary') throw new Error('serveUnary on a streaming method');
  const reader = new GrpcFrameReader(context.maxReceiveBytes);
  let frame: Buffer | undefined;
  let messages = 0;
  const data = (chunk: Buffer): void => {
    if (call.closed) return;
    try {
      reader.push(chunk, (message) => {
        messages++;
        frame = message;
      });
    } catch (error) {
      call.end(error);
    }
  };
  const end = (): void => {
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
  };
  stream.receive({ data, end });
}

function serveStream(
  call: GrpcServerCall,
  stream: H2ServerStream,
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
  stream.receive({
    data: (chunk) => {
      if (call.closed) return;
      try {
        reader.push(chunk, (frame) => {
          if (!call.closed) session.message(decode(route, frame));
        });
      } catch (error) {
        call.end(error);
      }
    },
    end: () => {
      if (call.closed) return;
      if (reader.hasPartialFrame) call.end(API_ERRORS.malformed('stream ended inside a message'));
      else session.halfClose();
    },
  });
}

/** Serves one HTTP/2 stream whose content-type is application/grpc. */
export function serveGrpcStream(stream: H2ServerStream, context: GrpcContext): void {
  const path = stream.headers.get(':path') ?? '';
  const route = context.routes.get(path);
  if (route === undefined) {
    rejectUnknownMethod(stream, path, context.routes);
    return;
  }
  const call = new GrpcServerCall(stream, context, route);
  if (route.handler.kind === 'unary') serveUnary(call, stream, route, context);
  else serveStream(call, stream, route, context);
}
