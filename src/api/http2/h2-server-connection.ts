/**
 * The server side of one HTTP/2 connection on the client port (RFC 9113, cleartext with prior
 * knowledge, which is how gRPC clients and `curl --http2-prior-knowledge` connect).
 *
 * Why our own and not node:http2: a unary etcd call needs little of HTTP/2 (one request header
 * block, one DATA frame each way, trailers), but node's server wraps every stream in a Duplex,
 * a headers object and a chain of events; at 100 concurrent clients that was the largest share
 * of a member's CPU after the storage itself (~70 µs per call served). Here a stream is one
 * small object, and every frame produced while the event loop handles one turn leaves in a
 * single socket write (flushed from process.nextTick, after the turn's promise reactions, so a
 * whole apply batch's responses share one write and no latency is added).
 *
 * Also why: nghttp2 (inside node) resets requests whose `:authority` holds a scheme, which
 * etcdctl 3.4 sends for `http://` endpoints; grpc-go's server, and this one, do not check it.
 *
 * Implemented: the preface and SETTINGS exchange, PING, GOAWAY both ways, RST_STREAM, flow
 * control both ways (the client's windows are respected; ours are opened wide and refilled as
 * data arrives), padding, CONTINUATION, limits on frame, header-block and header-list sizes and
 * on concurrent streams. Not implemented: server push (a server never has to push), priorities
 * (advisory), TLS (plain-text client URLs only, as everywhere else in this member so far).
 * A protocol violation ends the connection with GOAWAY and the matching error code; a stream
 * violation resets only that stream.
 */
import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW_BYTES,
  encodeFrame,
  FRAME_PAYLOAD_SAFE_BYTES,
  FrameFlag,
  FrameSplitter,
  FrameType,
  H2ConnectionError,
  H2ErrorCode,
  Setting,
  unpadded,
  WINDOW_BYTES_MAX,
  type Frame,
} from './h2-frames.ts';
import { HeaderBlockAssembler, type HeaderBlock } from './header-block.ts';
import { encodeRstStream, H2ServerStream, type StreamOwner } from './h2-server-stream.ts';
import { HpackDecoder, HpackError } from './hpack.ts';
import { RequestHeaders } from './request-headers.ts';

export interface H2ConnectionOptions {
  /**
   * Called on each new request, synchronously while its HEADERS are handled: attach the body
   * receiver (stream.receive) before returning.
   */
  readonly onStream: (stream: H2ServerStream) => void;
  readonly logger: {
    debug(object: object, message?: string): void;
    error(object: object, message?: string): void;
  };
}

/** Each stream's receive window: a request up to --max-request-bytes needs only a refill or two. */
const STREAM_WINDOW_BYTES = 1024 * 1024;
/** The connection's receive window, shared by all its streams. */
const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
/** grpc-go's servers allow 2^32-1; this bounds what one connection can make us hold. */
const CONCURRENT_STREAMS_MAX = 10_000;
/** Decoded request headers (name + value + 32 per field); gRPC metadata is far smaller. */
const HEADER_LIST_BYTES_MAX = 256 * 1024;
/** How long a connection we ended with GOAWAY may take to close before it is destroyed. */
const CLOSE_LINGER_MS = 1_000;
const MAX_FRAME_PAYLOAD_LIMIT = 2 ** 24 - 1;

const SERVER_PREAMBLE = Buffer.concat([
  encodeFrame(
    FrameType.settings,
    0,
    0,
    settingsPayload([
      [Setting.maxConcurrentStreams, CONCURRENT_STREAMS_MAX],
      [Setting.initialWindowSize, STREAM_WINDOW_BYTES],
      [Setting.maxHeaderListSize, HEADER_LIST_BYTES_MAX],
    ]),
  ),
  encodeWindowUpdate(0, CONNECTION_WINDOW_BYTES - DEFAULT_WINDOW_BYTES),
]);
const SETTINGS_ACK = encodeFrame(FrameType.settings, FrameFlag.ack, 0, new Uint8Array(0));

export class H2ServerConnection implements StreamOwner {
  maxFramePayload = FRAME_PAYLOAD_SAFE_BYTES;
  connectionWindow = DEFAULT_WINDOW_BYTES;
  private readonly splitter = new FrameSplitter(FRAME_PAYLOAD_SAFE_BYTES);
  private readonly blocks = new HeaderBlockAssembler();
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2ServerStream>();
  /** Streams whose output waits for the connection-level window. */
  private readonly blocked = new Set<H2ServerStream>();
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  /** Connection-level bytes received since our last WINDOW_UPDATE for them. */
  private unacknowledgedBytes = 0;
  private receiveWindow = CONNECTION_WINDOW_BYTES;
  private lastStreamId = 0;
  private prefaceSeen = false;
  private settingsSeen = false;
  private goingAway = false;
  private dead = false;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private flushQueued = false;

  constructor(
    private readonly socket: Socket,
    received: Buffer,
    private readonly options: H2ConnectionOptions,
  ) {
    socket.setNoDelay(true);
    this.output(SERVER_PREAMBLE);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => {
      for (const stream of this.streams.values()) stream.notifyDrained();
    });
    socket.once('close', () => this.connectionGone());
    this.receive(received);
  }

  /** Open streams (for tests and metrics). */
  get openStreams(): number {
    return this.streams.size;
  }

  get socketBacklogged(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** GOAWAY(NO_ERROR): no new requests; the ones in progress go on. */
  goAway(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.output(encodeGoAway(this.lastStreamId, H2ErrorCode.noError, ''));
  }

  output(chunk: Buffer): void {
    // After GOAWAY for a violation the socket is ending; nothing more may be written to it.
    if (this.dead) return;
    this.outbox.push(chunk);
    this.outboxBytes += chunk.length;
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(this.flush);
  }

  spendConnectionWindow(bytes: number): void {
    this.connectionWindow -= bytes;
  }

  waitForWindow(stream: H2ServerStream): void {
    this.blocked.add(stream);
  }

  released(stream: H2ServerStream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const chunks = this.outbox;
    const bytes = this.outboxBytes;
    this.outbox = [];
    this.outboxBytes = 0;
    if (chunks.length === 0 || this.socket.destroyed) return;
    this.socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
  };

  private receive(chunk: Buffer): void {
    if (this.dead) return;
    try {
      this.splitter.push(chunk);
      if (!this.prefaceSeen) {
        const preface = this.splitter.takeRaw(CLIENT_PREFACE.length);
        if (preface === null) return;
        if (!preface.equals(CLIENT_PREFACE)) {
          throw new H2ConnectionError(H2ErrorCode.protocol, 'no HTTP/2 connection preface');
        }
        this.prefaceSeen = true;
      }
      for (let frame = this.splitter.next(); frame !== null; frame = this.splitter.next()) {
        this.handleFrame(frame);
        if (this.dead) return;
      }
    } catch (error) {
      if (error instanceof H2ConnectionError) this.fail(error.code, error.message);
      else if (error instanceof HpackError) this.fail(H2ErrorCode.compression, error.message);
      else {
        // A bug of ours, never the client's: keep the member up, drop this connection.
        this.options.logger.error({ err: error }, 'http2 connection failed');
        this.fail(H2ErrorCode.internal, 'internal error');
      }
    }
  }

  private handleFrame(frame: Frame): void {
    if (!this.settingsSeen && frame.type !== FrameType.settings) {
      throw new H2ConnectionError(H2ErrorCode.protocol, 'the first frame must be SETTINGS');
    }
    if (
      this.blocks.inBlock ||
      frame.type === FrameType.headers ||
      frame.type === FrameType.continuation
    ) {
      if (frame.streamId === 0)
        throw new H2ConnectionError(H2ErrorCode.protocol, 'HEADERS on stream 0');
      const block = this.blocks.accept(frame);
      if (block !== null) this.handleHeaderBlock(block);
      return;
    }
    switch (frame.type) {
      case FrameType.data:
        return this.handleData(frame);
      case FrameType.settings:
        return this.handleSettings(frame);
      case FrameType.ping:
        requireLength(frame, 8);
        requireConnectionFrame(frame);
        if ((frame.flags & FrameFlag.ack) === 0) {
          this.output(encodeFrame(FrameType.ping, FrameFlag.ack, 0, frame.payload));
        }
        return;
      case FrameType.windowUpdate:
        return this.handleWindowUpdate(frame);
      case FrameType.rstStream:
        requireLength(frame, 4);
        requireStreamFrame(frame);
        if (frame.streamId > this.lastStreamId) {
          throw new H2ConnectionError(H2ErrorCode.protocol, 'RST_STREAM on an idle stream');
        }
        this.streams.get(frame.streamId)?.abort();
        return;
      case FrameType.goaway:
        // The client stops opening streams and closes the socket when done; nothing to do.
        requireConnectionFrame(frame);
        return;
      case FrameType.pushPromise:
        throw new H2ConnectionError(H2ErrorCode.protocol, 'PUSH_PROMISE from a client');
      default:
        // PRIORITY is advisory and unknown frame types must be ignored (§5.3.2, §5.5).
        return;
    }
  }

  private handleHeaderBlock(block: HeaderBlock): void {
    // Decoded whatever becomes of the stream: the HPACK table must follow the client's.
    const fields = this.decoder.decode(block.block, HEADER_LIST_BYTES_MAX);
    const id = block.streamId;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers: only as the end of the request, and only once (§5.1, §8.1).
      if (existing.receiveEnded) existing.reset(H2ErrorCode.streamClosed);
      else if (!block.endStream) existing.reset(H2ErrorCode.protocol);
      else existing.receiveEnd();
      return;
    }
    if (id % 2 === 0)
      throw new H2ConnectionError(H2ErrorCode.protocol, 'even stream id from a client');
    // A stream we already closed (frames may cross our RST_STREAM): ignored (§5.1).
    if (id <= this.lastStreamId) return;
    this.lastStreamId = id;
    if (this.goingAway || this.streams.size >= CONCURRENT_STREAMS_MAX) {
      this.output(encodeRstStream(id, H2ErrorCode.refusedStream));
      return;
    }
    const headers = new RequestHeaders(fields);
    if (!headers.isWellFormedRequest()) {
      this.output(encodeRstStream(id, H2ErrorCode.protocol));
      return;
    }
    const stream = new H2ServerStream(
      this,
      id,
      headers,
      this.peerInitialWindow,
      STREAM_WINDOW_BYTES,
    );
    this.streams.set(id, stream);
    // Ended before the handler sees it, so a response from inside onStream closes the stream
    // instead of resetting it (receive() reports the end to the body's receiver at once).
    if (block.endStream) stream.receiveEnd();
    this.options.onStream(stream);
  }

  private handleData(frame: Frame): void {
    requireStreamFrame(frame);
    const length = frame.payload.length;
    // Flow control counts the whole payload, padding included, whatever the stream's state.
    this.receiveWindow -= length;
    if (this.receiveWindow < 0) {
      throw new H2ConnectionError(H2ErrorCode.flowControl, 'the connection window was exceeded');
    }
    this.unacknowledgedBytes += length;
    if (this.unacknowledgedBytes >= CONNECTION_WINDOW_BYTES / 2) {
      this.output(encodeWindowUpdate(0, this.unacknowledgedBytes));
      this.receiveWindow += this.unacknowledgedBytes;
      this.unacknowledgedBytes = 0;
    }
    const data = unpadded(frame);
    const stream = this.streams.get(frame.streamId);
    if (stream === undefined) {
      if (frame.streamId > this.lastStreamId) {
        throw new H2ConnectionError(H2ErrorCode.protocol, 'DATA on an idle stream');
      }
      return;
    }
    if (stream.receiveEnded) return stream.reset(H2ErrorCode.streamClosed);
    stream.receiveWindow -= length;
    if (stream.receiveWindow < 0) return stream.reset(H2ErrorCode.flowControl);
    const end = (frame.flags & FrameFlag.endStream) !== 0;
    stream.receiveData(data, end);
    if (!end && !stream.closed && stream.receiveWindow <= STREAM_WINDOW_BYTES / 2) {
      this.output(encodeWindowUpdate(stream.id, STREAM_WINDOW_BYTES - stream.receiveWindow));
      stream.receiveWindow = STREAM_WINDOW_BYTES;
    }
  }

  private handleSettings(frame: Frame): void {
    requireConnectionFrame(frame);
    if ((frame.flags & FrameFlag.ack) !== 0) {
      requireLength(frame, 0);
      return;
    }
    if (frame.payload.length % 6 !== 0) {
      throw new H2ConnectionError(H2ErrorCode.frameSize, 'SETTINGS length not a multiple of 6');
    }
    let windowDelta = 0;
    for (let at = 0; at < frame.payload.length; at += 6) {
      const id = frame.payload.readUInt16BE(at);
      const value = frame.payload.readUInt32BE(at + 2);
      if (id === Setting.enablePush && value > 1) {
        throw new H2ConnectionError(H2ErrorCode.protocol, 'SETTINGS_ENABLE_PUSH must be 0 or 1');
      } else if (id === Setting.initialWindowSize) {
        if (value > WINDOW_BYTES_MAX) {
          throw new H2ConnectionError(H2ErrorCode.flowControl, 'initial window too large');
        }
        windowDelta += value - this.peerInitialWindow;
        this.peerInitialWindow = value;
      } else if (id === Setting.maxFrameSize) {
        if (value < FRAME_PAYLOAD_SAFE_BYTES || value > MAX_FRAME_PAYLOAD_LIMIT) {
          throw new H2ConnectionError(H2ErrorCode.protocol, 'SETTINGS_MAX_FRAME_SIZE out of range');
        }
        this.maxFramePayload = value;
      }
      // The header table size concerns only an encoder's dynamic table, which ours never
      // uses; concurrent streams limit pushes, which we never make; the others are advisory.
    }
    this.settingsSeen = true;
    this.output(SETTINGS_ACK);
    if (windowDelta === 0) return;
    for (const stream of [...this.streams.values()]) {
      if (!stream.growSendWindow(windowDelta)) {
        throw new H2ConnectionError(H2ErrorCode.flowControl, 'a stream window passed 2^31-1');
      }
    }
  }

  private handleWindowUpdate(frame: Frame): void {
    requireLength(frame, 4);
    const increment = frame.payload.readUInt32BE(0) & 0x7fff_ffff;
    if (frame.streamId === 0) {
      if (increment === 0) throw new H2ConnectionError(H2ErrorCode.protocol, 'WINDOW_UPDATE of 0');
      if (this.connectionWindow + increment > WINDOW_BYTES_MAX) {
        throw new H2ConnectionError(H2ErrorCode.flowControl, 'the connection window passed 2^31-1');
      }
      this.connectionWindow += increment;
      const waiting = [...this.blocked];
      this.blocked.clear();
      for (const stream of waiting) stream.pump();
      return;
    }
    const stream = this.streams.get(frame.streamId);
    if (stream === undefined) {
      if (frame.streamId > this.lastStreamId) {
        throw new H2ConnectionError(H2ErrorCode.protocol, 'WINDOW_UPDATE on an idle stream');
      }
      return;
    }
    if (increment === 0) return stream.reset(H2ErrorCode.protocol);
    if (!stream.growSendWindow(increment)) stream.reset(H2ErrorCode.flowControl);
  }

  /** Ends the connection for a protocol violation: GOAWAY with the code, then close. */
  private fail(code: number, message: string): void {
    if (this.dead) return;
    this.options.logger.debug({ code, reason: message }, 'client broke HTTP/2, connection closed');
    this.output(encodeGoAway(this.lastStreamId, code, message));
    this.flush();
    this.connectionGone();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  private connectionGone(): void {
    this.dead = true;
    for (const stream of [...this.streams.values()]) stream.abort();
  }
}

function requireLength(frame: Frame, length: number): void {
  if (frame.payload.length !== length) {
    throw new H2ConnectionError(
      H2ErrorCode.frameSize,
      `frame type ${frame.type} of ${frame.payload.length} bytes`,
    );
  }
}

function requireConnectionFrame(frame: Frame): void {
  if (frame.streamId !== 0) {
    throw new H2ConnectionError(H2ErrorCode.protocol, `frame type ${frame.type} on a stream`);
  }
}

function requireStreamFrame(frame: Frame): void {
  if (frame.streamId === 0) {
    throw new H2ConnectionError(H2ErrorCode.protocol, `frame type ${frame.type} on stream 0`);
  }
}

function settingsPayload(settings: readonly (readonly [number, number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return payload;
}

function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return encodeFrame(FrameType.windowUpdate, 0, streamId, payload);
}

function encodeGoAway(lastStreamId: number, code: number, message: string): Buffer {
  const debug = Buffer.from(message, 'utf8');
  const payload = Buffer.allocUnsafe(8 + debug.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  debug.copy(payload, 8);
  return encodeFrame(FrameType.goaway, 0, 0, payload);
}
