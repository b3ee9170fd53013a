/**
 * A client connection whose requests name an authority nghttp2 refuses (see header-block.ts),
 * put between the socket and node's http2 session: every header block the client sends is
 * decoded with a mirror of the client's HPACK state, its `:authority` repaired, and encoded
 * again with the static table only, so the session's own HPACK state never depends on ours.
 * Every other frame, and everything the server sends, passes through untouched.
 *
 * Only connections that need it go through here (preface-gate.ts decides on the first
 * request): node's session reads a plain socket natively, and a JavaScript stream in between
 * costs CPU on every read.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { CLIENT_PREFACE, encodeHeaderFrames, FrameSplitter } from './h2-frames.ts';
import { HeaderBlockAssembler, withRepairedAuthority } from './header-block.ts';
import { encodeHeaderBlock, HpackDecoder } from './hpack.ts';

export interface RewriterLogger {
  debug(object: object, message: string): void;
}

export class AuthorityRewriter extends Duplex {
  private readonly frames = new FrameSplitter();
  private readonly blocks = new HeaderBlockAssembler();
  private readonly decoder = new HpackDecoder();
  private prefaceSeen = false;

  /** `received`: bytes already read from the socket, starting with the client preface. */
  constructor(
    private readonly socket: Socket,
    received: Buffer,
    private readonly logger: RewriterLogger,
  ) {
    super({ allowHalfOpen: true });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    this.receive(received);
    socket.resume();
  }

  private receive(chunk: Buffer): void {
    if (this.destroyed) return;
    this.frames.push(chunk);
    const out: Buffer[] = [];
    try {
      if (!this.prefaceSeen) {
        const preface = this.frames.takeRaw(CLIENT_PREFACE.length);
        if (preface === null) return;
        out.push(preface);
        this.prefaceSeen = true;
      }
      for (let frame = this.frames.next(); frame !== null; frame = this.frames.next()) {
        const accepted = this.blocks.accept(frame);
        if (accepted === 'other') out.push(frame.bytes);
        else if (accepted !== 'partial') {
          const fields = withRepairedAuthority(this.decoder.decode(accepted.block));
          out.push(
            ...encodeHeaderFrames(
              accepted.streamId,
              encodeHeaderBlock(fields),
              accepted.endStream,
              accepted.priority,
            ),
          );
        }
      }
    } catch (error) {
      // HPACK and framing errors are connection errors in HTTP/2: the client gets a closed
      // connection, as it would from a server that found the same fault.
      this.logger.debug({ err: error }, 'client connection refused by the authority rewriter');
      this.socket.destroy();
      return;
    }
    if (out.length > 0 && !this.push(out.length === 1 ? out[0] : Buffer.concat(out))) {
      this.socket.pause();
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.socket.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }
}
