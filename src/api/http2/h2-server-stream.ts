/**
 * One request stream of a server connection (RFC 9113 §5.1), as the gRPC server and the JSON
 * gateway drive it: the request's headers, its body as it arrives, and a response written as
 * header blocks and data that leave in order, within the client's flow-control windows.
 *
 * States, seen from the server: open → half-closed (remote) when the client ends its side →
 * closed once our END_STREAM is sent. A response that ends while the client is still sending
 * is followed by RST_STREAM(NO_ERROR), as grpc-go's server does, so the client stops sending
 * (§8.1). Either side's RST_STREAM, or the connection going away, closes the stream at once.
 */
import {
  encodeFrame,
  encodeFrameHeader,
  encodeHeaderFrames,
  FrameFlag,
  FrameType,
  H2ErrorCode,
  WINDOW_BYTES_MAX,
} from './h2-frames.ts';
import type { RequestHeaders } from './request-headers.ts';

/** What a stream needs from its connection. */
export interface StreamOwner {
  /** The client's SETTINGS_MAX_FRAME_SIZE. */
  readonly maxFramePayload: number;
  /** What the connection-level send window allows now. */
  readonly connectionWindow: number;
  spendConnectionWindow(bytes: number): void;
  /** Queues bytes for the connection's next socket write. */
  output(chunk: Buffer): void;
  /** Whether the socket holds more than it wants: writers should wait for a drain. */
  readonly socketBacklogged: boolean;
  /** Asks to be pumped again when the connection-level window grows. */
  waitForWindow(stream: H2ServerStream): void;
  /** The stream closed; the connection forgets it. */
  released(stream: H2ServerStream): void;
}

export interface StreamReceiver {
  data(chunk: Buffer): void;
  end(): void;
}

/** A writer is asked to wait once this much of its output waits for the client's window. */
const QUEUED_BYTES_HIGH = 64 * 1024;
const EMPTY = Buffer.alloc(0);

interface Outgoing {
  /** A header block to send as HEADERS (+ CONTINUATION), or data for DATA frames. */
  readonly headerBlock: Uint8Array | null;
  data: Buffer;
  readonly endStream: boolean;
}

export class H2ServerStream {
  /** What the client may still send before we open its window further (connection-managed). */
  receiveWindow: number;
  private sendWindow: number;
  private readonly queue: Outgoing[] = [];
  private queuedBytes = 0;
  private responded = false;
  /** Our END_STREAM is queued: nothing more may be written. */
  private localEnded = false;
  private remoteEnded = false;
  private isClosed = false;
  private receiver: StreamReceiver | null = null;
  private readonly closeListeners: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    readonly headers: RequestHeaders,
    initialSendWindow: number,
    initialReceiveWindow: number,
  ) {
    this.sendWindow = initialSendWindow;
    this.receiveWindow = initialReceiveWindow;
  }

  /** Fully closed: ended both ways, reset by either side, or the connection is gone. */
  get closed(): boolean {
    return this.isClosed;
  }

  get headersSent(): boolean {
    return this.responded;
  }

  /** Whether the client has ended its side (or the stream closed). */
  get receiveEnded(): boolean {
    return this.remoteEnded || this.isClosed;
  }

  /**
   * Takes the request body. Attach it in the connection's onStream callback: data arriving with
   * no receiver is dropped. If the client already ended its side, `end` runs at once.
   */
  receive(receiver: StreamReceiver): void {
    this.receiver = receiver;
    if (this.remoteEnded) receiver.end();
  }

  onClose(listener: () => void): void {
    if (this.isClosed) listener();
    else this.closeListeners.push(listener);
  }

  /** Sends the response headers (an HPACK block); `endStream` for a headers-only response. */
  respond(headerBlock: Uint8Array, endStream = false): void {
    if (this.isClosed || this.localEnded || this.responded) return;
    this.responded = true;
    this.enqueue({ headerBlock, data: EMPTY, endStream });
  }

  /** Queues response body bytes. False when the writer should wait for drained(). */
  write(data: Buffer): boolean {
    if (this.isClosed || this.localEnded) return false;
    if (!this.responded) throw new Error('HTTP/2 stream written before its response headers');
    if (data.length > 0) this.enqueue({ headerBlock: null, data, endStream: false });
    return !this.needsDrain;
  }

  /** Ends the response: with trailers (an HPACK block) or with an empty DATA frame. */
  end(trailerBlock?: Uint8Array): void {
    if (this.isClosed || this.localEnded) return;
    if (!this.responded) throw new Error('HTTP/2 stream ended before its response headers');
    this.enqueue({ headerBlock: trailerBlock ?? null, data: EMPTY, endStream: true });
  }

  /** Abandons the stream with RST_STREAM. */
  reset(code: number = H2ErrorCode.cancel): void {
    if (this.isClosed) return;
    this.owner.output(encodeRstStream(this.id, code));
    this.close();
  }

  /** Resolves when queued output has gone to the socket and the socket wants more, or closed. */
  drained(): Promise<void> {
    if (this.isClosed || !this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  // ---------------------------------------------------------------- driven by the connection

  /** Request body bytes; `end` when the frame carried END_STREAM. */
  receiveData(data: Buffer, end: boolean): void {
    if (data.length > 0) this.receiver?.data(data);
    if (end) this.receiveEnd();
  }

  /** The client ended its side (END_STREAM on DATA or on trailers). */
  receiveEnd(): void {
    if (this.remoteEnded || this.isClosed) return;
    this.remoteEnded = true;
    this.receiver?.end();
  }

  /** The client reset the stream, or the connection is gone. */
  abort(): void {
    if (!this.isClosed) this.close();
  }

  /** A WINDOW_UPDATE for this stream, or a change of SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2,
   *  which may take the window below zero). False if the window would pass its maximum. */
  growSendWindow(delta: number): boolean {
    if (this.sendWindow + delta > WINDOW_BYTES_MAX) return false;
    this.sendWindow += delta;
    if (delta > 0) this.pump();
    return true;
  }

  /** Sends what the windows allow, in order; what is left waits for a window update. */
  pump(): void {
    const owner = this.owner;
    while (this.queue.length > 0 && !this.isClosed) {
      const item = this.queue[0];
      if (item.headerBlock !== null) {
        for (const frame of encodeHeaderFrames(
          this.id,
          item.headerBlock,
          item.endStream,
          owner.maxFramePayload,
        )) {
          owner.output(frame);
        }
        this.queue.shift();
        if (item.endStream) return this.sentEnd();
        continue;
      }
      const length = item.data.length;
      const allowed = Math.min(length, this.sendWindow, owner.connectionWindow);
      if (allowed <= 0 && length > 0) {
        owner.waitForWindow(this);
        break;
      }
      const size = Math.min(allowed, owner.maxFramePayload);
      const last = size === length;
      owner.output(
        encodeFrameHeader(
          size,
          FrameType.data,
          last && item.endStream ? FrameFlag.endStream : 0,
          this.id,
        ),
      );
      if (size > 0) owner.output(last ? item.data : item.data.subarray(0, size));
      this.sendWindow -= size;
      owner.spendConnectionWindow(size);
      this.queuedBytes -= size;
      if (!last) {
        item.data = item.data.subarray(size);
        continue;
      }
      this.queue.shift();
      if (item.endStream) return this.sentEnd();
    }
    this.notifyDrained();
  }

  /** Wakes drain waiters once the stream's queue and the socket have room again. */
  notifyDrained(): void {
    if (this.drainWaiters.length === 0 || (!this.isClosed && this.needsDrain)) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private get needsDrain(): boolean {
    return this.queuedBytes > QUEUED_BYTES_HIGH || this.owner.socketBacklogged;
  }

  private enqueue(item: Outgoing): void {
    if (item.endStream) this.localEnded = true;
    this.queue.push(item);
    this.queuedBytes += item.data.length;
    // Behind queued data the new item waits its turn; the connection pumps when windows open.
    if (this.queue.length === 1) this.pump();
  }

  private sentEnd(): void {
    if (!this.remoteEnded) this.owner.output(encodeRstStream(this.id, H2ErrorCode.noError));
    this.close();
  }

  private close(): void {
    this.isClosed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.owner.released(this);
    this.notifyDrained();
    const listeners = this.closeListeners.splice(0);
    for (const listener of listeners) listener();
  }
}

export function encodeRstStream(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return encodeFrame(FrameType.rstStream, 0, streamId, payload);
}
