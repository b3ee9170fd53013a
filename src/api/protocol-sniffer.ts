/**
 * Decides per connection whether the client speaks HTTP/2 (it opens with the connection
 * preface `PRI * HTTP/2.0`) or HTTP/1.x, and hands the socket to the matching server: HTTP/2
 * with the bytes read so far (our own server takes them as its first input), HTTP/1.x to
 * node's http server with those bytes put back on the socket.
 */
import type { Socket } from 'node:net';
import { CLIENT_PREFACE } from './http2/h2-frames.ts';

/** Bytes that tell the protocols apart: no HTTP/1 method starts with "PRI ". */
const DECIDING_BYTES = 4;

interface ConnectionTarget {
  emit(event: 'connection', socket: Socket): boolean;
}

export function handOver(
  socket: Socket,
  http2: (socket: Socket, received: Buffer) => void,
  http1: ConnectionTarget,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const compared = Math.min(seen.length, DECIDING_BYTES);
    const isPreface = seen.subarray(0, compared).equals(CLIENT_PREFACE.subarray(0, compared));
    if (isPreface && seen.length < DECIDING_BYTES) return;
    socket.off('data', onData);
    if (isPreface) {
      http2(socket, seen);
      return;
    }
    socket.pause();
    socket.unshift(seen);
    http1.emit('connection', socket);
    socket.resume();
  };
  socket.on('data', onData);
}
