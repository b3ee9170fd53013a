/**
 * Decides, before node's http2 session takes an HTTP/2 client connection, whether the client's
 * requests need their authority repaired (see header-block.ts). The decision needs the first
 * request's header block, and clients such as grpc-go send no request before the server's
 * SETTINGS arrived, so until then the gate speaks the little HTTP/2 that takes:
 *
 * - it sends an empty SETTINGS frame (all defaults, which are node's too) and swallows the
 *   client's acknowledgement of it: node's session, which sends and expects the ack of its
 *   own SETTINGS later, must never see an ack it did not ask for;
 * - it answers PINGs (clients ping idle connections), so waiting costs the client nothing;
 * - it keeps every other frame, in order, for the session.
 *
 * When the first header block is complete and the ack is in, the connection goes to the
 * session: natively with the kept bytes put back (the common case, at full speed), or through
 * an AuthorityRewriter when that block's authority would be refused. Anything unexpected (no
 * preface, a malformed frame, too many bytes held) hands the connection over natively, so the
 * session reports the problem as it would have without the gate.
 *
 * One authority per connection is assumed, as gRPC clients use: a natively handed-over
 * connection whose later request names a refused authority gets that stream reset.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AuthorityRewriter, type RewriterLogger } from './authority-rewriter.ts';
import { CLIENT_PREFACE, encodeFrame, FrameFlag, FrameSplitter, FrameType } from './h2-frames.ts';
import { ClientProtocolError, HeaderBlockAssembler, needsAuthorityRepair } from './header-block.ts';
import { HpackDecoder, HpackError } from './hpack.ts';

/** More than a first request's frames ever take; past it the gate gives up and steps aside. */
const GATE_HELD_BYTES_MAX = 256 * 1024;
const EMPTY_SETTINGS = encodeFrame(FrameType.settings, 0, 0, new Uint8Array(0));

export interface Http2ConnectionTarget {
  emit(event: 'connection', socket: Duplex): boolean;
}

export function gateHttp2Connection(
  socket: Socket,
  received: Buffer,
  target: Http2ConnectionTarget,
  logger: RewriterLogger,
): void {
  const frames = new FrameSplitter();
  const blocks = new HeaderBlockAssembler();
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let settingsAcked = false;
  let firstBlock: Buffer | null = null;
  let prefaceSeen = false;

  const keep = (bytes: Buffer): void => {
    kept.push(bytes);
    keptBytes += bytes.length;
  };
  const handOver = (rewrite: boolean): void => {
    socket.off('data', onData);
    socket.pause();
    const bytes = Buffer.concat([...kept, frames.drain()]);
    if (rewrite) {
      target.emit('connection', new AuthorityRewriter(socket, bytes, logger));
      return;
    }
    // node's session feeds bytes buffered on the socket to itself before taking the handle;
    // the socket must stay paused (see protocol-sniffer.ts).
    socket.unshift(bytes);
    target.emit('connection', socket);
  };
  /** Whether the connection was handed over (and the gate is done). */
  const step = (): boolean => {
    if (!prefaceSeen) {
      const preface = frames.takeRaw(CLIENT_PREFACE.length);
      if (preface === null) return false;
      keep(preface);
      prefaceSeen = true;
      if (!preface.equals(CLIENT_PREFACE)) return handOverNatively();
    }
    for (let frame = frames.next(); frame !== null; frame = frames.next()) {
      if (frame.type === FrameType.settings && (frame.flags & FrameFlag.ack) !== 0) {
        if (!settingsAcked) {
          settingsAcked = true;
          continue;
        }
      } else if (frame.type === FrameType.ping && (frame.flags & FrameFlag.ack) === 0) {
        socket.write(encodeFrame(FrameType.ping, FrameFlag.ack, 0, frame.payload));
        continue;
      }
      keep(frame.bytes);
      if (firstBlock === null) {
        const accepted = blocks.accept(frame);
        if (accepted !== 'other' && accepted !== 'partial') firstBlock = accepted.block;
      }
    }
    if (firstBlock !== null && settingsAcked) {
      handOver(needsAuthorityRepair(new HpackDecoder().decode(firstBlock)));
      return true;
    }
    if (keptBytes + frames.bufferedBytes > GATE_HELD_BYTES_MAX) return handOverNatively();
    return false;
  };
  const handOverNatively = (): true => {
    handOver(false);
    return true;
  };
  const onData = (chunk: Buffer): void => {
    frames.push(chunk);
    try {
      step();
    } catch (error) {
      if (!(error instanceof ClientProtocolError || error instanceof HpackError)) throw error;
      logger.debug({ err: error }, 'malformed client preface; the http2 session will judge it');
      handOverNatively();
    }
  };

  socket.write(EMPTY_SETTINGS);
  socket.on('data', onData);
  onData(received);
}
