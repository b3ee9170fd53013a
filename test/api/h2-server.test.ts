/**
 * The client port's own HTTP/2 server (src/api/http2/h2-server-connection.ts and
 * h2-server-stream.ts), driven over a real loopback socket by a raw HTTP/2 client written here:
 * every frame is built by hand and every frame the server sends is collected and checked.
 *
 * Pinned down: the server's opening frames, SETTINGS and PING; a request (split header block,
 * padded body) reaching onStream and its response leaving as HEADERS, DATA, trailers in order;
 * flow control both ways (the client's stream and connection windows, changes of
 * SETTINGS_INITIAL_WINDOW_SIZE, write()/drained() backpressure, our receive-window refills and
 * overruns); when a finished response is followed by RST_STREAM(NO_ERROR); resets both ways;
 * the GOAWAY code of each protocol violation and the socket closing after it; malformed
 * requests; goAway(); the socket closing under open streams; a throwing onStream handler.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CLIENT_PREFACE,
  encodeFrame,
  FrameFlag,
  FrameSplitter,
  FrameType,
  H2ErrorCode,
  Setting,
  type Frame,
} from '../../src/api/http2/h2-frames.ts';
import { H2ServerConnection } from '../../src/api/http2/h2-server-connection.ts';
import type { H2ServerStream } from '../../src/api/http2/h2-server-stream.ts';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from '../../src/api/http2/hpack.ts';

const WAIT_MS = 3_000;
const MiB = 1024 * 1024;
const DEFAULT_WINDOW = 65_535;
const MAX_FRAME = 16_384;

/** Polls `done` until it holds; throws after `timeoutMs`, so no test waits forever. */
async function waitUntil(what: string, done: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ------------------------------------------------------------------------------- encoding

type Pairs = readonly (readonly [string, string])[];

function headerBlock(pairs: Pairs): Uint8Array {
  return encodeHeaderBlock(pairs.map(([name, value]) => ({ name, value, sensitive: false })));
}

const REQUEST: Pairs = [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', '/test.Service/Call'],
  [':authority', '127.0.0.1'],
  ['content-type', 'application/grpc'],
];
const requestBlock = (extra: Pairs = []): Uint8Array => headerBlock([...REQUEST, ...extra]);
const RESPONSE = headerBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const TRAILERS = headerBlock([['grpc-status', '0']]);

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}

function settingsPayload(settings: readonly (readonly [number, number])[]): Buffer {
  return Buffer.concat(
    settings.map(([id, value]) => {
      const entry = Buffer.alloc(6);
      entry.writeUInt16BE(id, 0);
      entry.writeUInt32BE(value, 2);
      return entry;
    }),
  );
}

function parseSettings(payload: Buffer): Map<number, number> {
  const settings = new Map<number, number>();
  for (let at = 0; at < payload.length; at += 6) {
    settings.set(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
  }
  return settings;
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(flags: number, prefixBits: number, value: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  for (; rest >= 0x80; rest = Math.floor(rest / 0x80)) out.push((rest % 0x80) | 0x80);
  out.push(rest);
  return out;
}

/** A field with a new name, "with incremental indexing": it enters the dynamic table. */
function indexedLiteral(name: string, value: string): number[] {
  const string = (text: string): number[] => {
    const bytes = [...Buffer.from(text, 'latin1')];
    return [...hpackInteger(0, 7, bytes.length), ...bytes];
  };
  return [0x40, ...string(name), ...string(value)];
}

// ------------------------------------------------------------------------------- frames seen

const isType =
  (type: number, streamId?: number) =>
  (frame: Frame): boolean =>
    frame.type === type && (streamId === undefined || frame.streamId === streamId);
const hasFlag = (frame: Frame, flag: number): boolean => (frame.flags & flag) !== 0;
/** The server's END_STREAM on a stream (DATA or HEADERS). */
const endOf =
  (streamId: number) =>
  (frame: Frame): boolean =>
    frame.streamId === streamId &&
    (frame.type === FrameType.data || frame.type === FrameType.headers) &&
    hasFlag(frame, FrameFlag.endStream);
/** RST_STREAM's error code, or GOAWAY's. */
const errorCode = (frame: Frame): number =>
  frame.payload.readUInt32BE(frame.type === FrameType.goaway ? 4 : 0);

// ------------------------------------------------------------------------------- the server

/** A loopback listener that serves each connection with H2ServerConnection. */
class TestServer {
  readonly streams: H2ServerStream[] = [];
  readonly connections: H2ServerConnection[] = [];
  readonly debugLogs: object[] = [];
  readonly errorLogs: object[] = [];
  /** What the test does with each new stream, inside onStream. */
  handler: (stream: H2ServerStream) => void = () => {};
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor() {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('error', () => {}); // a client that resets the connection
      socket.once('close', () => this.sockets.delete(socket));
      const logger = {
        debug: (object: object) => {
          this.debugLogs.push(object);
        },
        error: (object: object) => {
          this.errorLogs.push(object);
        },
      };
      const onStream = (stream: H2ServerStream): void => {
        this.streams.push(stream);
        this.handler(stream);
      };
      this.connections.push(new H2ServerConnection(socket, Buffer.alloc(0), { onStream, logger }));
    });
  }

  static async start(): Promise<TestServer> {
    const server = new TestServer();
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get port(): number {
    const address = this.server.address();
    assert.ok(address !== null && typeof address === 'object');
    return address.port;
  }

  /** The index-th stream handed to onStream (0 = the first). */
  async stream(index: number): Promise<H2ServerStream> {
    await waitUntil(`onStream #${index + 1}`, () => this.streams.length > index);
    return this.streams[index];
  }

  async connection(): Promise<H2ServerConnection> {
    await waitUntil('a connection', () => this.connections.length > 0);
    return this.connections[0];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ------------------------------------------------------------------------------- the client

interface ReceivedBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fields: HeaderField[];
}

/** One HTTP/2 connection driven by hand: frames out as asked, every frame in collected. */
class RawClient {
  readonly frames: Frame[] = [];
  /** The server's header blocks, decoded in arrival order. */
  readonly blocks: ReceivedBlock[] = [];
  /** The server ended the connection (FIN received). */
  endedByServer = false;
  private readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  private readonly decoder = new HpackDecoder();
  private fragments: Buffer[] = [];
  /** The HEADERS frame that opened the block being received. */
  private blockStart: Frame | null = null;
  private pings = 0;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.socket.on('end', () => (this.endedByServer = true));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  /** The connection preface and our SETTINGS. */
  start(settings: readonly (readonly [number, number])[] = []): void {
    this.writeRaw(CLIENT_PREFACE);
    this.settings(settings);
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)) {
    this.writeRaw(encodeFrame(type, flags, streamId, payload));
  }

  settings(settings: readonly (readonly [number, number])[]): void {
    this.send(FrameType.settings, 0, 0, settingsPayload(settings));
  }

  /** A header block in one HEADERS frame, or split at `splitAt` with a CONTINUATION. */
  sendHeaders(streamId: number, block: Uint8Array, options: { end?: boolean; splitAt?: number }) {
    const end = options.end === true ? FrameFlag.endStream : 0;
    const at = options.splitAt ?? block.length;
    const last = at >= block.length ? FrameFlag.endHeaders : 0;
    this.send(FrameType.headers, end | last, streamId, block.subarray(0, at));
    if (last === 0) {
      this.send(FrameType.continuation, FrameFlag.endHeaders, streamId, block.subarray(at));
    }
  }

  sendData(streamId: number, data: Uint8Array, end = false): void {
    this.send(FrameType.data, end ? FrameFlag.endStream : 0, streamId, data);
  }

  windowUpdate(streamId: number, increment: number): void {
    this.send(FrameType.windowUpdate, 0, streamId, u32(increment));
  }

  /** The first frame received, in arrival order, that `match`es. */
  async waitFor(what: string, match: (frame: Frame) => boolean): Promise<Frame> {
    await waitUntil(what, () => this.frames.some(match));
    return this.frames.find(match)!;
  }

  /** Our SETTINGS were applied: the server ACKed them. */
  async settled(): Promise<void> {
    await this.waitFor('the SETTINGS ACK', (f) => isType(FrameType.settings)(f) && f.flags !== 0);
  }

  /** A PING round trip: whatever the server sent before answering it has arrived. */
  async sync(): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(0x5eed, 0);
    payload.writeUInt32BE(++this.pings, 4);
    this.send(FrameType.ping, 0, 0, payload);
    await this.waitFor(
      'the PING ACK',
      (f) => isType(FrameType.ping)(f) && f.payload.equals(payload),
    );
  }

  framesOf(streamId: number): Frame[] {
    return this.frames.filter((frame) => frame.streamId === streamId);
  }

  /** The response body of a stream so far (the server never pads). */
  dataOf(streamId: number): Buffer {
    return Buffer.concat(
      this.framesOf(streamId)
        .filter(isType(FrameType.data))
        .map((f) => f.payload),
    );
  }

  async waitForData(streamId: number, bytes: number): Promise<void> {
    const what = `${bytes} bytes of DATA on stream ${streamId}`;
    await waitUntil(what, () => this.dataOf(streamId).length >= bytes);
  }

  /** The GOAWAY the server sent, then the server's end of the socket. */
  async goAway(): Promise<Frame> {
    const frame = await this.waitFor('GOAWAY', isType(FrameType.goaway));
    await waitUntil('the server to close the socket', () => this.endedByServer);
    return frame;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.splitter.push(chunk);
    for (let frame = this.splitter.next(); frame !== null; frame = this.splitter.next()) {
      this.frames.push(frame);
      if (frame.type === FrameType.settings && !hasFlag(frame, FrameFlag.ack)) {
        this.send(FrameType.settings, FrameFlag.ack, 0);
      }
      if (frame.type === FrameType.headers || frame.type === FrameType.continuation) {
        if (frame.type === FrameType.headers) this.blockStart = frame;
        this.fragments.push(frame.payload);
        if (!hasFlag(frame, FrameFlag.endHeaders)) continue;
        this.blocks.push({
          streamId: frame.streamId,
          endStream: hasFlag(this.blockStart!, FrameFlag.endStream),
          fields: this.decoder.decode(Buffer.concat(this.fragments)),
        });
        this.fragments = [];
      }
    }
  }
}

/** Header fields as name → value, for comparing. */
const record = (fields: readonly HeaderField[]): Record<string, string> =>
  Object.fromEntries(fields.map(({ name, value }) => [name, value]));

/** A body receiver that collects everything. */
function collect(stream: H2ServerStream): { readonly body: () => Buffer; ended: boolean } {
  const chunks: Buffer[] = [];
  const state = { body: () => Buffer.concat(chunks), ended: false };
  stream.receive({
    data: (chunk) => chunks.push(Buffer.from(chunk)),
    end: () => (state.ended = true),
  });
  return state;
}

// ------------------------------------------------------------------------------- the tests

describe('H2ServerConnection', { timeout: 15_000 }, () => {
  let server: TestServer;
  let clients: RawClient[];

  beforeEach(async () => {
    server = await TestServer.start();
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.destroy();
    await server.close();
  });

  /** A client that has not sent anything yet. */
  function rawClient(): RawClient {
    const client = new RawClient(server.port);
    clients.push(client);
    return client;
  }

  /** A client past the preface and its SETTINGS. */
  function client(settings: readonly (readonly [number, number])[] = []): RawClient {
    const raw = rawClient();
    raw.start(settings);
    return raw;
  }

  describe('connection setup', () => {
    it('opens with SETTINGS and a connection WINDOW_UPDATE, ACKs ours, answers PING', async () => {
      const c = client();
      await c.settled();
      const [settings, windowUpdate] = c.frames;
      assert.deepEqual(
        [settings.type, settings.flags, settings.streamId],
        [FrameType.settings, 0, 0],
      );
      const values = parseSettings(settings.payload);
      assert.equal(values.get(Setting.initialWindowSize), MiB);
      assert.ok((values.get(Setting.maxConcurrentStreams) ?? 0) >= 100, 'MAX_CONCURRENT_STREAMS');
      assert.deepEqual([windowUpdate.type, windowUpdate.streamId], [FrameType.windowUpdate, 0]);
      assert.ok(DEFAULT_WINDOW + windowUpdate.payload.readUInt32BE(0) >= MiB, 'connection window');

      const ping = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
      c.send(FrameType.ping, 0, 0, ping);
      const ack = await c.waitFor('the PING ACK', isType(FrameType.ping));
      assert.deepEqual([ack.flags, ack.streamId], [FrameFlag.ack, 0]);
      assert.deepEqual(ack.payload, ping);
      assert.equal(c.frames.filter(isType(FrameType.goaway)).length, 0);
    });
  });

  describe('requests and responses', () => {
    it('delivers a split header block and a padded body; the response leaves in order', async () => {
      const c = client();
      let request: ReturnType<typeof collect> | undefined;
      server.handler = (stream) => (request = collect(stream));
      c.sendHeaders(1, requestBlock([['x-trace', 'abc']]), { splitAt: 7 });
      const body = Buffer.from('request body');
      const padded = Buffer.concat([Buffer.from([5]), body, Buffer.alloc(5)]);
      c.send(FrameType.data, FrameFlag.padded | FrameFlag.endStream, 1, padded);

      const stream = await server.stream(0);
      assert.equal(stream.id, 1);
      for (const [name, value] of [...REQUEST, ['x-trace', 'abc']]) {
        assert.equal(stream.headers.get(name), value, name);
      }
      await waitUntil('the end of the request', () => request?.ended === true);
      assert.deepEqual(request!.body(), body);

      stream.respond(RESPONSE);
      assert.equal(stream.write(Buffer.from('response body')), true);
      stream.end(TRAILERS);
      await c.waitFor('the trailers', endOf(1));
      await c.sync();
      const { headers, data } = FrameType;
      assert.deepEqual(
        c.framesOf(1).map((f) => [f.type, f.flags]),
        [
          [headers, FrameFlag.endHeaders],
          [data, 0],
          [headers, FrameFlag.endHeaders | FrameFlag.endStream],
        ],
      );
      assert.equal(c.dataOf(1).toString(), 'response body');
      assert.deepEqual(
        c.blocks.map((b) => [b.streamId, b.endStream, record(b.fields)]),
        [
          [1, false, { ':status': '200', 'content-type': 'application/grpc' }],
          [1, true, { 'grpc-status': '0' }],
        ],
      );
      assert.equal(stream.closed, true);
      assert.equal((await server.connection()).openStreams, 0);
    });

    it('resets a request without :path with PROTOCOL_ERROR and serves the next one', async () => {
      const c = client();
      const noPath = REQUEST.filter(([name]) => name !== ':path');
      c.sendHeaders(1, headerBlock(noPath), { end: true });
      const rst = await c.waitFor('RST_STREAM', isType(FrameType.rstStream, 1));
      assert.equal(errorCode(rst), H2ErrorCode.protocol);
      assert.equal(server.streams.length, 0, 'onStream is not called for it');

      server.handler = (stream) => stream.respond(RESPONSE, true);
      c.sendHeaders(3, requestBlock(), { end: true });
      const response = await c.waitFor('the response', isType(FrameType.headers, 3));
      assert.ok(hasFlag(response, FrameFlag.endStream));
      assert.equal(server.streams[0].headers.get(':path'), '/test.Service/Call');
      assert.equal(c.frames.filter(isType(FrameType.goaway)).length, 0);
    });
  });

  describe('RST_STREAM(NO_ERROR) after a response (RFC 9113 §8.1)', () => {
    it('follows a response that ends while the client is still sending', async () => {
      const c = client();
      c.sendHeaders(1, requestBlock(), {});
      const stream = await server.stream(0);
      stream.respond(RESPONSE);
      stream.write(Buffer.from('x'));
      stream.end(TRAILERS);
      const rst = await c.waitFor('RST_STREAM', isType(FrameType.rstStream, 1));
      assert.equal(errorCode(rst), H2ErrorCode.noError);
      const { headers, data, rstStream } = FrameType;
      assert.deepEqual(
        c.framesOf(1).map((f) => f.type),
        [headers, data, headers, rstStream],
      );
      assert.equal(stream.closed, true);
    });

    it('is not sent when the client ended its side with DATA first', async () => {
      const c = client();
      server.handler = (stream) =>
        stream.receive({ data: () => {}, end: () => stream.respond(RESPONSE, true) });
      c.sendHeaders(1, requestBlock(), {});
      c.sendData(1, Buffer.from('body'), true);
      await c.waitFor('the response', isType(FrameType.headers, 1));
      await c.sync();
      assert.deepEqual(c.frames.filter(isType(FrameType.rstStream)), []);
    });

    it('is not sent when the request ended in its HEADERS, answered later', async () => {
      const c = client();
      c.sendHeaders(1, requestBlock(), { end: true });
      const stream = await server.stream(0);
      await waitUntil('the end of the request', () => stream.receiveEnded);
      stream.respond(RESPONSE);
      stream.end();
      await c.waitFor('END_STREAM', endOf(1));
      await c.sync();
      assert.deepEqual(c.frames.filter(isType(FrameType.rstStream)), []);
    });

    it('is not sent when the request ended in its HEADERS, answered from onStream', async () => {
      // As the gRPC service answers an unknown method: trailers-only, at once.
      const c = client();
      server.handler = (stream) => stream.respond(RESPONSE, true);
      c.sendHeaders(1, requestBlock(), { end: true });
      await c.waitFor('the response', isType(FrameType.headers, 1));
      await c.sync();
      assert.deepEqual(
        c.frames.filter(isType(FrameType.rstStream)).map((f) => [f.streamId, errorCode(f)]),
        [],
        'the stream was already closed both ways: no frame may follow (RFC 9113 §5.1)',
      );
    });
  });

  describe('send-side flow control', () => {
    it('sends no more DATA than the stream window allows', async () => {
      const c = client([[Setting.initialWindowSize, 10]]);
      c.sendHeaders(1, requestBlock(), { end: true });
      const stream = await server.stream(0);
      const body = Buffer.from('abcdefghijklmnopqrstuvwxy');
      stream.respond(RESPONSE);
      assert.equal(stream.write(body), true);
      stream.end(TRAILERS);

      await c.waitForData(1, 10);
      await c.sync();
      assert.equal(c.dataOf(1).length, 10);
      c.windowUpdate(1, 10);
      await c.waitForData(1, 20);
      await c.sync();
      assert.equal(c.dataOf(1).length, 20);
      assert.equal(c.blocks.length, 1, 'the trailers wait behind the data');
      c.windowUpdate(1, 100);
      await c.waitFor('the trailers', endOf(1));
      assert.deepEqual(c.dataOf(1), body);
      assert.deepEqual(
        c.framesOf(1).map((f) => f.type),
        [FrameType.headers, FrameType.data, FrameType.data, FrameType.data, FrameType.headers],
      );
    });

    it('stops at the connection window; write() and drained() push back past 64 KiB', async () => {
      const c = client([[Setting.initialWindowSize, MiB]]);
      c.sendHeaders(1, requestBlock(), { end: true });
      const stream = await server.stream(0);
      const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
      stream.respond(RESPONSE);
      assert.equal(stream.write(body), false, 'more than 64 KiB waits for the window');
      let drained = false;
      void stream.drained().then(() => (drained = true));

      await c.waitForData(1, DEFAULT_WINDOW);
      c.windowUpdate(1, 100_000); // the stream window was never the limit
      await c.sync();
      assert.equal(c.dataOf(1).length, DEFAULT_WINDOW);
      assert.equal(drained, false);
      assert.ok(c.framesOf(1).every((f) => f.payload.length <= MAX_FRAME));

      c.windowUpdate(0, 100_000);
      await c.waitForData(1, DEFAULT_WINDOW + 100_000);
      await c.sync();
      assert.equal(c.dataOf(1).length, DEFAULT_WINDOW + 100_000);

      c.windowUpdate(0, body.length - DEFAULT_WINDOW - 100_000);
      await c.waitForData(1, body.length);
      await waitUntil('drained() once the window took everything', () => drained);
      assert.deepEqual(c.dataOf(1), body);
      assert.equal(stream.write(Buffer.from('more')), true);
    });

    it('drained() resolves as soon as write() would take more again', async () => {
      const c = client([[Setting.initialWindowSize, 0]]);
      c.sendHeaders(1, requestBlock(), { end: true });
      const stream = await server.stream(0);
      stream.respond(RESPONSE);
      assert.equal(stream.write(Buffer.alloc(70_000)), false);
      let drained = false;
      void stream.drained().then(() => (drained = true));
      await c.sync();
      assert.equal(c.dataOf(1).length, 0);

      c.windowUpdate(1, 10_000); // 60 000 bytes left queued: under the 64 KiB mark
      await c.waitForData(1, 10_000);
      assert.equal(stream.write(Buffer.alloc(0)), true, 'write() says go on');
      await waitUntil('drained() with 60 000 bytes queued', () => drained);
    });

    it('applies a change of SETTINGS_INITIAL_WINDOW_SIZE to open streams (§6.9.2)', async () => {
      const c = client([[Setting.initialWindowSize, 10]]);
      c.sendHeaders(1, requestBlock(), { end: true });
      const stream = await server.stream(0);
      stream.respond(RESPONSE);
      stream.write(Buffer.alloc(25, 1));
      await c.waitForData(1, 10);

      c.settings([[Setting.initialWindowSize, 20]]); // window 0 → 10
      await c.waitForData(1, 20);
      c.settings([[Setting.initialWindowSize, 5]]); // window 0 → -15
      c.windowUpdate(1, 15); // → 0
      await c.sync();
      assert.equal(c.dataOf(1).length, 20, 'a window below zero must be made up first');
      c.windowUpdate(1, 3);
      await c.waitForData(1, 23);
      await c.sync();
      assert.equal(c.dataOf(1).length, 23);

      // A stream opened after the change starts with the new initial window.
      c.sendHeaders(3, requestBlock(), { end: true });
      const later = await server.stream(1);
      later.respond(RESPONSE);
      later.write(Buffer.alloc(25, 2));
      await c.waitForData(3, 5);
      await c.sync();
      assert.equal(c.dataOf(3).length, 5);
    });
  });

  describe('receive-side flow control', () => {
    it('refills a stream window once more than half of it is used', async () => {
      const c = client();
      let request: ReturnType<typeof collect> | undefined;
      server.handler = (stream) => (request = collect(stream));
      await c.settled();
      c.sendHeaders(1, requestBlock(), {});
      const chunk = Buffer.alloc(MAX_FRAME, 9);
      const streamUpdates = (): Frame[] => c.frames.filter(isType(FrameType.windowUpdate, 1));
      for (let i = 0; i < 31; i++) c.sendData(1, chunk); // 496 KiB of the 1 MiB window
      await c.sync();
      assert.equal(request?.body().length, 31 * MAX_FRAME);
      assert.deepEqual(streamUpdates(), []);

      c.sendData(1, chunk);
      c.sendData(1, chunk);
      const update = await c.waitFor('a stream WINDOW_UPDATE', isType(FrameType.windowUpdate, 1));
      assert.equal(update.payload.readUInt32BE(0), 32 * MAX_FRAME, 'back to 1 MiB');
      await c.sync();
      assert.equal(streamUpdates().length, 1);
      assert.equal(request?.body().length, 33 * MAX_FRAME);
      assert.equal(c.frames.filter(isType(FrameType.rstStream)).length, 0);
    });

    it('resets a stream that sends past its window with FLOW_CONTROL_ERROR', async () => {
      // Over the wire alone this cannot happen: the server refills at half of 1 MiB and a frame
      // holds at most 16 KiB. So the window the server keeps for the stream is made small.
      const c = client();
      let closed = false;
      server.handler = (stream) => {
        stream.receiveWindow = 100;
        stream.onClose(() => (closed = true));
      };
      c.sendHeaders(1, requestBlock(), {});
      c.sendData(1, Buffer.alloc(101));
      const rst = await c.waitFor('RST_STREAM', isType(FrameType.rstStream, 1));
      assert.equal(errorCode(rst), H2ErrorCode.flowControl);
      assert.equal(closed, true);
      await c.sync(); // the connection goes on
      assert.equal(c.frames.filter(isType(FrameType.goaway)).length, 0);
    });

    it('resets DATA or HEADERS on a half-closed (remote) stream with STREAM_CLOSED (§5.1)', async () => {
      const c = client();
      c.sendHeaders(1, requestBlock(), { end: true });
      c.sendData(1, Buffer.from('late'));
      const first = await c.waitFor('RST_STREAM 1', isType(FrameType.rstStream, 1));
      assert.equal(errorCode(first), H2ErrorCode.streamClosed);

      c.sendHeaders(3, requestBlock(), { end: true });
      c.sendHeaders(3, TRAILERS, { end: true });
      const second = await c.waitFor('RST_STREAM 3', isType(FrameType.rstStream, 3));
      assert.equal(errorCode(second), H2ErrorCode.streamClosed);
    });
  });

  describe('stream and connection ends', () => {
    it('closes a stream the client resets: onClose runs, later writes return false', async () => {
      const c = client();
      c.sendHeaders(1, requestBlock(), {});
      const stream = await server.stream(0);
      let closes = 0;
      stream.onClose(() => closes++);
      stream.respond(RESPONSE);
      c.send(FrameType.rstStream, 0, 1, u32(H2ErrorCode.cancel));
      await waitUntil('onClose', () => closes === 1);
      assert.equal(stream.closed, true);
      assert.equal(stream.write(Buffer.from('late')), false);
      stream.end(TRAILERS);
      await c.sync();
      assert.deepEqual(
        c.framesOf(1).map((f) => f.type),
        [FrameType.headers],
        'nothing follows the reset',
      );
      assert.equal((await server.connection()).openStreams, 0);
    });

    it('aborts the open streams when the socket closes', async () => {
      const c = client();
      c.sendHeaders(1, requestBlock(), {});
      c.sendHeaders(3, requestBlock(), { end: true });
      const streams = [await server.stream(0), await server.stream(1)];
      let closes = 0;
      for (const stream of streams) stream.onClose(() => closes++);
      c.destroy();
      await waitUntil('both onClose listeners', () => closes === 2);
      assert.deepEqual(
        streams.map((s) => s.closed),
        [true, true],
      );
      assert.equal((await server.connection()).openStreams, 0);
    });

    it('goAway(): GOAWAY(NO_ERROR), new streams refused, open ones finish', async () => {
      const c = client();
      let request: ReturnType<typeof collect> | undefined;
      server.handler = (stream) => (request = collect(stream));
      c.sendHeaders(1, requestBlock(), {});
      const stream = await server.stream(0);
      (await server.connection()).goAway();
      const goAway = await c.waitFor('GOAWAY', isType(FrameType.goaway));
      assert.equal(goAway.payload.readUInt32BE(0), 1, 'the last stream id');
      assert.equal(errorCode(goAway), H2ErrorCode.noError);

      c.sendHeaders(3, requestBlock(), { end: true });
      const refused = await c.waitFor('RST_STREAM 3', isType(FrameType.rstStream, 3));
      assert.equal(errorCode(refused), H2ErrorCode.refusedStream);
      assert.equal(server.streams.length, 1, 'onStream is not called for a refused stream');

      c.sendData(1, Buffer.from('tail'), true);
      await waitUntil('the end of the request', () => request?.ended === true);
      assert.equal(request!.body().toString(), 'tail');
      stream.respond(RESPONSE);
      stream.write(Buffer.from('done'));
      stream.end(TRAILERS);
      await c.waitFor('the trailers', endOf(1));
      assert.equal(c.dataOf(1).toString(), 'done');
      assert.equal(c.frames.filter(isType(FrameType.goaway)).length, 1);
      assert.equal(c.endedByServer, false);
    });

    it('survives a throwing onStream handler: GOAWAY(INTERNAL_ERROR), the error logged', async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown): number => uncaught.push(error);
      process.on('uncaughtException', onUncaught);
      try {
        const c = client();
        server.handler = () => {
          throw new Error('handler bug');
        };
        c.sendHeaders(1, requestBlock(), { end: true });
        const goAway = await c.goAway();
        assert.equal(errorCode(goAway), H2ErrorCode.internal);
        assert.equal(server.errorLogs.length, 1);
        assert.match(String((server.errorLogs[0] as { err?: unknown }).err), /handler bug/);
        assert.deepEqual(uncaught, []);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  });

  describe('protocol violations end the connection with GOAWAY', () => {
    const violations: {
      readonly name: string;
      readonly code: number;
      /** Without the preface and SETTINGS already sent. */
      readonly raw?: boolean;
      readonly send: (c: RawClient) => void;
    }[] = [
      {
        name: 'a bad connection preface',
        code: H2ErrorCode.protocol,
        raw: true,
        send: (c) => c.writeRaw(Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')),
      },
      {
        name: 'a first frame other than SETTINGS',
        code: H2ErrorCode.protocol,
        raw: true,
        send: (c) => {
          c.writeRaw(CLIENT_PREFACE);
          c.send(FrameType.ping, 0, 0, Buffer.alloc(8));
        },
      },
      {
        name: 'a frame over 16384 bytes',
        code: H2ErrorCode.frameSize,
        send: (c) => {
          c.sendHeaders(1, requestBlock(), {});
          c.sendData(1, Buffer.alloc(MAX_FRAME + 1));
        },
      },
      {
        name: 'a PING of 7 bytes',
        code: H2ErrorCode.frameSize,
        send: (c) => c.send(FrameType.ping, 0, 0, Buffer.alloc(7)),
      },
      {
        name: 'an even stream id',
        code: H2ErrorCode.protocol,
        send: (c) => c.sendHeaders(2, requestBlock(), { end: true }),
      },
      {
        name: 'a header block interrupted by another frame',
        code: H2ErrorCode.protocol,
        send: (c) => {
          c.send(FrameType.headers, 0, 1, requestBlock().subarray(0, 4));
          c.send(FrameType.ping, 0, 0, Buffer.alloc(8));
        },
      },
      {
        name: 'a malformed HPACK block (index 0)',
        code: H2ErrorCode.compression,
        send: (c) => c.sendHeaders(1, Uint8Array.from([0x83, 0x80]), { end: true }),
      },
      {
        name: 'an HPACK bomb past the 256 KiB header list limit',
        code: H2ErrorCode.compression,
        send: (c) => {
          // Stream 1 puts a 4 KiB field in the dynamic table (index 62); stream 3 names it 100
          // times in ~100 bytes: 400 KiB of header list.
          const big = indexedLiteral('x-big', 'b'.repeat(4_000));
          c.sendHeaders(1, Uint8Array.from([...requestBlock(), ...big]), { end: true });
          const bomb = [...requestBlock(), ...Array<number>(100).fill(0x80 | 62)];
          c.sendHeaders(3, Uint8Array.from(bomb), { end: true });
        },
      },
      {
        name: 'DATA on an idle stream',
        code: H2ErrorCode.protocol,
        send: (c) => c.sendData(5, Buffer.from('x')),
      },
      {
        name: 'WINDOW_UPDATE of 0 on the connection',
        code: H2ErrorCode.protocol,
        send: (c) => c.windowUpdate(0, 0),
      },
      {
        name: 'WINDOW_UPDATE on an idle stream (§5.1)',
        code: H2ErrorCode.protocol,
        send: (c) => c.windowUpdate(7, 100),
      },
      {
        name: 'CONTINUATION outside a header block',
        code: H2ErrorCode.protocol,
        send: (c) => c.send(FrameType.continuation, FrameFlag.endHeaders, 1, requestBlock()),
      },
    ];

    for (const violation of violations) {
      it(`${violation.name}: code ${violation.code}, then the socket closes`, async () => {
        const c = violation.raw === true ? rawClient() : client();
        violation.send(c);
        const goAway = await c.goAway();
        assert.equal(goAway.streamId, 0);
        assert.equal(errorCode(goAway), violation.code, goAway.payload.subarray(8).toString());
        assert.equal(server.debugLogs.length, 1, 'the violation is logged at debug level');
        assert.equal(server.errorLogs.length, 0);
      });
    }

    it('the HPACK bomb: the stream before it was served, GOAWAY names it last', async () => {
      const c = client();
      const big = indexedLiteral('x-big', 'b'.repeat(4_000));
      c.sendHeaders(1, Uint8Array.from([...requestBlock(), ...big]), { end: true });
      const bomb = [...requestBlock(), ...Array<number>(100).fill(0x80 | 62)];
      c.sendHeaders(3, Uint8Array.from(bomb), { end: true });
      const goAway = await c.goAway();
      assert.equal(goAway.payload.readUInt32BE(0), 1);
      assert.equal(server.streams.length, 1);
      assert.equal(server.streams[0].headers.get('x-big'), 'b'.repeat(4_000));
      assert.equal(server.streams[0].closed, true, 'the connection is gone');
    });
  });
});
