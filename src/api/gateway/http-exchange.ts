/**
 * One HTTP request/response as the gateway needs it, over either HTTP/1.1 (node:http's
 * IncomingMessage/ServerResponse, from the shared port's allowHTTP1 fallback) or a raw HTTP/2
 * stream whose content-type is not gRPC. The gateway is written once against this.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';

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

export function http2Exchange(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): HttpExchange {
  let ended = false;
  return {
    method: firstValue(headers[':method']) ?? 'GET',
    path: firstValue(headers[':path']) ?? '/',
    body: stream,
    header: (name) => firstValue(headers[name]),
    // A reset stream throws on respond(); there is no one left to answer, so skip it.
    respond: (status, outgoing) => {
      if (!stream.destroyed && !stream.closed) stream.respond({ ':status': status, ...outgoing });
    },
    get responded() {
      return stream.headersSent;
    },
    write: (chunk) => (stream.destroyed ? false : stream.write(chunk)),
    end: (chunk) => {
      ended = true;
      if (!stream.destroyed) stream.end(chunk);
    },
    get closed() {
      return ended || stream.destroyed;
    },
    onClose: (listener) => void stream.once('close', listener),
    drained: () => waitDrain(stream, stream.writableNeedDrain),
  };
}
