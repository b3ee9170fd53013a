/**
 * Decides per connection whether the client speaks HTTP/2 (it opens with the connection
 * preface `PRI * HTTP/2.0`) or HTTP/1.x, and hands the socket to the matching server.
 *
 * The bytes read to decide are put back with unshift(). node's Http2Session constructor feeds
 * bytes already buffered on the socket into the session before it takes over the socket's
 * handle, so the socket must not be resumed for HTTP/2 (that would read past the session).
 * HTTP/2 connections pass through the preface gate first (http2/preface-gate.ts), which sees
 * the first request and routes clients that send a scheme in `:authority` through a rewriter.
 */
import type { Socket } from 'node:net';
import { gateHttp2Connection, type Http2ConnectionTarget } from './http2/preface-gate.ts';
import type { RewriterLogger } from './http2/authority-rewriter.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Bytes that tell the protocols apart: no HTTP/1 method starts with "PRI ". */
const DECIDING_BYTES = 4;

interface ConnectionTarget {
  emit(event: 'connection', socket: Socket): boolean;
}

export function handOver(
  socket: Socket,
  http2: Http2ConnectionTarget,
  http1: ConnectionTarget,
  logger: RewriterLogger,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const compared = Math.min(seen.length, DECIDING_BYTES);
    const isPreface = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared));
    if (isPreface && seen.length < DECIDING_BYTES) return;
    socket.off('data', onData);
    if (isPreface) {
      gateHttp2Connection(socket, seen, http2, logger);
      return;
    }
    socket.pause();
    socket.unshift(seen);
    http1.emit('connection', socket);
    socket.resume();
  };
  socket.on('data', onData);
}
