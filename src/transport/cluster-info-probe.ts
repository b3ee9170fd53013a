/**
 * A member about to join a running cluster asks an existing member who is in it (etcd fetches
 * the member list from its peers' /members endpoint; this is the same over the peer port).
 * The asker sends one empty clusterInfoRequest frame instead of a hello; the acceptor answers
 * with one clusterInfo frame and closes. The body is opaque here (the member encodes it).
 */
import net from 'node:net';
import { encodeFrame, FrameDecoder, FrameKind } from './frame-codec.ts';
import { FrameDecodeError } from './frame-decode-error.ts';
import { parsePeerUrl } from './peer-url.ts';

/** A member list of a few hundred members fits easily. */
const CLUSTER_INFO_BYTES_MAX = 1024 * 1024;

/** Resolves with the answer body of the member at `peerUrl`, or rejects (unreachable, timed
 *  out, not a Sigil peer port). Real sockets and timers: only sigild calls this. */
export function fetchClusterInfo(peerUrl: string, timeoutMs: number): Promise<Uint8Array> {
  const address = parsePeerUrl(peerUrl);
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const decoder = new FrameDecoder(CLUSTER_INFO_BYTES_MAX);
    let settled = false;
    const finish = (error: Error | null, body?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(body ?? new Uint8Array(0));
    };
    const timer = setTimeout(
      () => finish(new Error(`no cluster info from ${peerUrl} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () =>
      socket.write(encodeFrame(FrameKind.clusterInfoRequest, new Uint8Array(0))),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind !== FrameKind.clusterInfo) {
            throw new FrameDecodeError(`unexpected frame kind ${frame.kind}`);
          }
          finish(null, frame.body);
          return;
        }
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`${peerUrl} closed without cluster info`)));
  });
}
