/**
 * One HTTP request/response as the gateway needs it, over either HTTP/1.1 (node:http's
 * IncomingMessage/ServerResponse) or a stream of our HTTP/2 server whose content-type is not
 * gRPC. The gateway is written once against this.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { H2ServerStream } from '../http2/h2-server-stream.ts';
import { encodeHeaderBlock, type HeaderField } from '../http2/hpack.ts';

export interface HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly body: Readable;
  header(name: string): string | undefined;
  respond(status: number, headers: OutgoingHttpHeaders): void;
  readonly responded: boolean;
  write(chunk: string): boolean;
  end(chunk?: string): void;
  /** True once the response ended or the client went away. */
  readonly closed: boolean;
  onClose(listener: () => void): void;
  drained(): Promise<void>;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function waitDrain(emitter: NodeJS.EventEmitter, needed: boolean): Promise<void> {
  if (!needed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      emitter.off('drain', done);
      emitter.off('close', done);
      resolve();
    };
    emitter.on('drain', done);
    emitter.on('close', done);
  });
}

export function http1Exchange(request: IncomingMessage, response: ServerResponse): HttpExchange {
  let ended = false;
  return {
    method: request.method ?? 'GET',
    path: request.url ?? '/',
    body: request,
    header: (name) => firstValue(request.headers[name]),
    respond: (status, headers) => void response.writeHead(status, headers),
    get responded() {
      return response.headersSent;
    },
    write: (chunk) => response.write(chunk),
    end: (chunk) => {
      ended = true;
      response.end(chunk);
    },
    get closed() {
      return ended || response.destroyed || response.writableEnded;
    },
    onClose: (listener) => void response.once('close', listener),
    drained: () => waitDrain(response, response.writableNeedDrain),
  };
}

/** The response header fields of `respond`: `:status`, then lower-case names, one field per
 *  value of a multi-valued header. */
function responseHeaderBlock(status: number, headers: OutgoingHttpHeaders): Uint8Array {
  const fields: HeaderField[] = [{ name: ':status', value: String(status), sensitive: false }];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      fields.push({ name: name.toLowerCase(), value: String(one), sensitive: false });
    }
  }
  return encodeHeaderBlock(fields);
}

export function http2Exchange(stream: H2ServerStream): HttpExchange {
  const body = new Readable({ read: () => undefined });
  stream.receive({ data: (chunk) => body.push(chunk), end: () => body.push(null) });
  let ended = false;
  return {
    method: stream.headers.get(':method') ?? 'GET',
    path: stream.headers.get(':path') ?? '/',
    body,
    header: (name) => stream.headers.get(name),
    respond: (status, headers) => stream.respond(responseHeaderBlock(status, headers)),
    get responded() {
      return stream.headersSent;
    },
    write: (chunk) => stream.write(Buffer.from(chunk, 'utf8')),
    end: (chunk) => {
      ended = true;
      if (chunk !== undefined && chunk.length > 0) stream.write(Buffer.from(chunk, 'utf8'));
      stream.end();
    },
    get closed() {
      return ended || stream.closed;
    },
    onClose: (listener) => stream.onClose(listener),
    drained: () => stream.drained(),
  };
}
