/**
 * A minimal gRPC client for the load generator: unary calls over a hand-rolled HTTP/2
 * connection on a plain TCP socket, with hand-encoded request messages.
 *
 * Why not grpc-js or node:http2: on this machine grpc-js costs ~700 µs of CPU per call and
 * node:http2's client ~350 µs (stream objects, header objects, events, async hooks). With two
 * cores shared by the three members under test, that cost capped the measured throughput of
 * BOTH servers near 1,400 req/s, so the benchmark measured itself. A unary etcd call needs
 * little of HTTP/2: one HEADERS frame whose block never changes for a method (literal fields
 * without indexing, precomputed once), one DATA frame, and on the way back the response
 * message plus grpc-status from the trailers (or from a trailers-only response).
 *
 * Implemented: connection preface and SETTINGS exchange, flow control both ways (the peer's
 * windows are respected; ours are opened wide and replenished), MAX_CONCURRENT_STREAMS,
 * PING replies, GOAWAY and RST_STREAM (failing the calls they end), padded and CONTINUATION
 * frames, HPACK decoding (the server's decoder, src/api/http2/hpack.ts). Not implemented (not needed by a load
 * generator): TLS, server push (disabled in our SETTINGS), priorities, streaming calls.
 */
import net from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_PAYLOAD_SAFE_BYTES,
  FrameFlag,
  FrameType,
  Setting,
  WINDOW_BYTES_MAX,
} from '../../src/api/http2/h2-frames.ts';
import { HpackDecoder, type HeaderField } from '../../src/api/http2/hpack.ts';

/** Our receive window is topped up once this much of it has been consumed. */
const WINDOW_REFILL_BYTES = 1 << 30;

export class LeanGrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`grpc status ${code}: ${message}`);
  }
}

interface Call {
  readonly resolve: (message: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly data: Buffer[];
  status: string | undefined;
  statusMessage: string;
  httpStatus: string | undefined;
}

interface QueuedCall {
  readonly headerBlock: Buffer;
  readonly body: Buffer;
  readonly call: Call;
}

function frameHeader(
  out: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  stream: number,
): void {
  out.writeUIntBE(length, at, 3);
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(stream, at + 5);
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value);
  return out;
}

/** An HPACK string literal, never Huffman-coded (length prefix of 7 bits). */
function literal(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(0, 7, bytes.length), bytes]);
}

function hpackInteger(firstBits: number, prefixBits: number, value: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstBits | value]);
  const out = [firstBits | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** The request headers of a unary call to `path`: identical for every call, so built once. */
function requestHeaderBlock(path: string, authority: string): Buffer {
  const withoutIndexing = (nameIndex: number, value: string): Buffer =>
    Buffer.concat([hpackInteger(0x00, 4, nameIndex), literal(value)]);
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3 and 6)
    withoutIndexing(4, path), // :path
    withoutIndexing(1, authority), // :authority
    withoutIndexing(31, 'application/grpc'), // content-type
    Buffer.concat([Buffer.from([0x00]), literal('te'), literal('trailers')]),
  ]);
}

/** One HTTP/2 connection to one endpoint ("host:port"). */
export class LeanGrpcConnection {
  private readonly socket: net.Socket;
  private readonly authority: string;
  private readonly decoder = new HpackDecoder(4096);
  private readonly headerBlocks = new Map<string, Buffer>();
  private readonly calls = new Map<number, Call>();
  private readonly waiting: QueuedCall[] = [];
  private nextStreamId = 1;
  private sendWindow = DEFAULT_WINDOW_BYTES;
  private streamSendWindow = DEFAULT_WINDOW_BYTES;
  private maxConcurrentStreams = Infinity;
  private received = Buffer.alloc(0);
  private consumedSinceRefill = 0;
  /** A header block split over HEADERS + CONTINUATION frames. */
  private partialHeaders: { stream: number; endStream: boolean; chunks: Buffer[] } | null = null;
  private failure: Error | null = null;
  private corked = false;

  private constructor(socket: net.Socket, authority: string) {
    this.socket = socket;
    this.authority = authority;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(endpoint: string): Promise<LeanGrpcConnection> {
    const colon = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, colon);
    const port = Number(endpoint.slice(colon + 1));
    if (colon < 1 || !Number.isInteger(port)) throw new Error(`bad endpoint ${endpoint}`);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const connection = new LeanGrpcConnection(socket, endpoint);
        const settings = Buffer.concat([
          Buffer.from([0, Setting.enablePush]),
          u32(0),
          Buffer.from([0, Setting.initialWindowSize]),
          u32(WINDOW_BYTES_MAX),
        ]);
        socket.write(
          Buffer.concat([
            CLIENT_PREFACE,
            encodeFrame(FrameType.settings, 0, 0, settings),
            encodeFrame(FrameType.windowUpdate, 0, 0, u32(WINDOW_BYTES_MAX - DEFAULT_WINDOW_BYTES)),
          ]),
        );
        resolve(connection);
      });
    });
  }

  /** Sends `message` (already encoded) to `path`; resolves with the response message bytes. */
  unary(path: string, message: Uint8Array): Promise<Buffer> {
    if (this.failure !== null) return Promise.reject(this.failure);
    let headerBlock = this.headerBlocks.get(path);
    if (headerBlock === undefined) {
      headerBlock = requestHeaderBlock(path, this.authority);
      this.headerBlocks.set(path, headerBlock);
    }
    const body = Buffer.allocUnsafe(5 + message.length);
    body[0] = 0;
    body.writeUInt32BE(message.length, 1);
    body.set(message, 5);
    if (body.length > FRAME_PAYLOAD_SAFE_BYTES) {
      return Promise.reject(new Error('lean client: request larger than one DATA frame'));
    }
    return new Promise((resolve, reject) => {
      const call: Call = {
        resolve,
        reject,
        data: [],
        status: undefined,
        statusMessage: '',
        httpStatus: undefined,
      };
      this.waiting.push({ headerBlock, body, call });
      this.startWaiting();
    });
  }

  close(): void {
    this.fail(new Error('connection closed by the client'));
    this.socket.destroy();
  }

  private startWaiting(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      const fits = next.body.length <= this.sendWindow && next.body.length <= this.streamSendWindow;
      if (!fits || this.calls.size >= this.maxConcurrentStreams) return;
      this.waiting.shift();
      this.send(next);
    }
  }

  private send({ headerBlock, body, call }: QueuedCall): void {
    const stream = this.nextStreamId;
    this.nextStreamId += 2;
    this.calls.set(stream, call);
    this.sendWindow -= body.length;
    const out = Buffer.allocUnsafe(2 * FRAME_HEADER_BYTES + headerBlock.length + body.length);
    frameHeader(out, 0, headerBlock.length, FrameType.headers, FrameFlag.endHeaders, stream);
    headerBlock.copy(out, FRAME_HEADER_BYTES);
    const dataAt = FRAME_HEADER_BYTES + headerBlock.length;
    frameHeader(out, dataAt, body.length, FrameType.data, FrameFlag.endStream, stream);
    body.copy(out, dataAt + FRAME_HEADER_BYTES);
    // Calls issued in the same turn (every loop woken by one batch of responses) share a write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(out);
  }

  private onData(chunk: Buffer): void {
    let input = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    try {
      while (input.length >= FRAME_HEADER_BYTES) {
        const length = input.readUIntBE(0, 3);
        if (input.length < FRAME_HEADER_BYTES + length) break;
        const type = input[3];
        const flags = input[4];
        const stream = input.readUInt32BE(5) & 0x7fffffff;
        const payload = input.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
        input = input.subarray(FRAME_HEADER_BYTES + length);
        this.onFrame(type, flags, stream, payload);
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      this.socket.destroy();
      return;
    }
    this.received = input.length === 0 ? Buffer.alloc(0) : Buffer.from(input);
  }

  private onFrame(type: number, flags: number, stream: number, payload: Buffer): void {
    if (this.partialHeaders !== null && type !== FrameType.continuation) {
      throw new Error('http2: expected CONTINUATION');
    }
    switch (type) {
      case FrameType.data:
        this.onDataFrame(flags, stream, payload);
        break;
      case FrameType.headers: {
        let block = unpad(flags, payload);
        if (flags & FrameFlag.priority) block = block.subarray(5);
        const endStream = (flags & FrameFlag.endStream) !== 0;
        if (flags & FrameFlag.endHeaders)
          this.onHeaders(stream, this.decoder.decode(block), endStream);
        else this.partialHeaders = { stream, endStream, chunks: [Buffer.from(block)] };
        break;
      }
      case FrameType.continuation: {
        const partial = this.partialHeaders;
        if (partial === null || partial.stream !== stream)
          throw new Error('http2: stray CONTINUATION');
        partial.chunks.push(Buffer.from(payload));
        if (flags & FrameFlag.endHeaders) {
          this.partialHeaders = null;
          const block = Buffer.concat(partial.chunks);
          this.onHeaders(stream, this.decoder.decode(block), partial.endStream);
        }
        break;
      }
      case FrameType.settings:
        if ((flags & FrameFlag.ack) === 0) this.onSettings(payload);
        break;
      case FrameType.ping:
        if ((flags & FrameFlag.ack) === 0)
          this.socket.write(encodeFrame(FrameType.ping, FrameFlag.ack, 0, payload));
        break;
      case FrameType.windowUpdate: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        // Stream windows start at the peer's initial size and our requests fit in one frame,
        // so only the connection window can hold a call back.
        if (stream === 0) this.sendWindow += increment;
        this.startWaiting();
        break;
      }
      case FrameType.rstStream:
        this.finish(stream, new Error(`http2: stream reset with code ${payload.readUInt32BE(0)}`));
        break;
      case FrameType.goaway: {
        const code = payload.readUInt32BE(4);
        const detail = payload.subarray(8).toString('utf8');
        throw new Error(`http2: GOAWAY code ${code} ${detail}`);
      }
      case FrameType.pushPromise:
        throw new Error('http2: PUSH_PROMISE although push is disabled');
      default:
        break; // PRIORITY and unknown frame types are ignored, as HTTP/2 requires.
    }
  }

  private onSettings(payload: Buffer): void {
    for (let at = 0; at + 6 <= payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.maxConcurrentStreams) this.maxConcurrentStreams = value;
      if (id === Setting.initialWindowSize) this.streamSendWindow = value;
    }
    this.socket.write(encodeFrame(FrameType.settings, FrameFlag.ack, 0, new Uint8Array(0)));
    this.startWaiting();
  }

  private onDataFrame(flags: number, stream: number, payload: Buffer): void {
    this.consumedSinceRefill += payload.length;
    if (this.consumedSinceRefill >= WINDOW_REFILL_BYTES) {
      this.socket.write(encodeFrame(FrameType.windowUpdate, 0, 0, u32(this.consumedSinceRefill)));
      this.consumedSinceRefill = 0;
    }
    const call = this.calls.get(stream);
    if (call === undefined) return;
    call.data.push(Buffer.from(unpad(flags, payload)));
    if (flags & FrameFlag.endStream) this.finish(stream, null);
  }

  private onHeaders(stream: number, fields: readonly HeaderField[], endStream: boolean): void {
    const call = this.calls.get(stream);
    if (call === undefined) return;
    for (const { name, value } of fields) {
      if (name === ':status') call.httpStatus = value;
      else if (name === 'grpc-status') call.status = value;
      else if (name === 'grpc-message') call.statusMessage = decodeURIComponent(value);
    }
    if (endStream) this.finish(stream, null);
  }

  private finish(stream: number, error: Error | null): void {
    const call = this.calls.get(stream);
    if (call === undefined) return;
    this.calls.delete(stream);
    this.startWaiting();
    if (error !== null) {
      call.reject(error);
    } else if (call.httpStatus !== '200') {
      call.reject(new Error(`http status ${call.httpStatus}`));
    } else if (call.status === undefined) {
      call.reject(new Error('stream ended without grpc-status'));
    } else if (call.status !== '0') {
      call.reject(new LeanGrpcError(Number(call.status), call.statusMessage));
    } else {
      const body = call.data.length === 1 ? call.data[0] : Buffer.concat(call.data);
      if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
        call.reject(new Error('grpc: response is not exactly one message'));
      } else {
        call.resolve(body.subarray(5));
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const calls = [...this.calls.values(), ...this.waiting.map((queued) => queued.call)];
    this.calls.clear();
    this.waiting.length = 0;
    for (const call of calls) call.reject(error);
  }
}

function unpad(flags: number, payload: Buffer): Buffer {
  if ((flags & FrameFlag.padded) === 0) return payload;
  const padding = payload[0];
  if (padding >= payload.length) throw new Error('http2: bad padding');
  return payload.subarray(1, payload.length - padding);
}

// ---------------------------------------------------------------- hand-encoded etcd messages

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 128)) bytes++;
  return bytes;
}

class Writer {
  readonly bytes: Buffer;
  private at = 0;
  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }
  varint(value: number): this {
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.at++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.bytes[this.at++] = rest;
    return this;
  }
  /** A length-delimited field (wire type 2). */
  field(fieldNumber: number, data: Uint8Array): this {
    this.varint((fieldNumber << 3) | 2).varint(data.length);
    this.bytes.set(data, this.at);
    this.at += data.length;
    return this;
  }
  /** A varint field (wire type 0). */
  number(fieldNumber: number, value: number): this {
    return this.varint(fieldNumber << 3).varint(value);
  }
  done(): Buffer {
    if (this.at !== this.bytes.length) throw new Error('protobuf size miscomputed');
    return this.bytes;
  }
}

const fieldSize = (fieldNumber: number, length: number): number =>
  varintBytes(fieldNumber << 3) + varintBytes(length) + length;

/** etcdserverpb.PutRequest {key = 1, value = 2}. */
export function encodePutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  return new Writer(fieldSize(1, key.length) + fieldSize(2, value.length))
    .field(1, key)
    .field(2, value)
    .done();
}

/** etcdserverpb.RangeRequest {key = 1, serializable = 7} for one key. */
export function encodeRangeRequest(key: Uint8Array, serializable: boolean): Buffer {
  const size = fieldSize(1, key.length) + (serializable ? 2 : 0);
  const writer = new Writer(size).field(1, key);
  if (serializable) writer.number(7, 1);
  return writer.done();
}

/** etcdserverpb.TxnRequest with no compares and one put in success (RequestOp.request_put = 2). */
export function encodeTxnPutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  const put = encodePutRequest(key, value);
  const op = new Writer(fieldSize(2, put.length)).field(2, put).done();
  return new Writer(fieldSize(2, op.length)).field(2, op).done();
}

export const KV_PUT = '/etcdserverpb.KV/Put';
export const KV_RANGE = '/etcdserverpb.KV/Range';
export const KV_TXN = '/etcdserverpb.KV/Txn';
export const MAINTENANCE_STATUS = '/etcdserverpb.Maintenance/Status';
