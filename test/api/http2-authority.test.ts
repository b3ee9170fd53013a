/**
 * Clients that send a scheme in the HTTP/2 authority (`:authority: http://127.0.0.1:2379`, as
 * etcdctl 3.4 does for http:// endpoints and for `--cluster`): node's http2 server (nghttp2)
 * resets their streams with PROTOCOL_ERROR; the client port must serve them as etcd does.
 *
 * A raw HTTP/2 client pins down the HPACK side: the authority is entered into the dynamic
 * table by the first request (split over HEADERS + CONTINUATION) and referenced by index in
 * the second, so the server's decoder must mirror the client's table exactly. etcdctl then
 * runs the commands that failed under node's server.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_PREFACE,
  encodeFrame,
  FrameFlag,
  FrameSplitter,
  FrameType,
  type Frame,
} from '../../src/api/http2/h2-frames.ts';
import { encodeHeaderBlock, HpackDecoder } from '../../src/api/http2/hpack.ts';
import { etcdctl } from '../support/etcdctl-runner.ts';
import { type RunningApi, startLocalApi } from './api-fixture.ts';

let sigil: RunningApi;

before(async () => {
  sigil = await startLocalApi();
});

after(async () => {
  await sigil?.stop();
});

const RST_STREAM = 0x3;
const GOAWAY = 0x7;

function literal(text: string): number[] {
  const bytes = [...Buffer.from(text, 'latin1')];
  assert.ok(bytes.length < 127);
  return [bytes.length, ...bytes];
}

/** One HTTP/2 connection driven by hand; collects every frame the server sends. */
class RawClient {
  readonly frames: Frame[] = [];
  private readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      for (let frame = this.splitter.next(); frame !== null; frame = this.splitter.next()) {
        this.frames.push(frame);
        if (frame.type === FrameType.settings && (frame.flags & FrameFlag.ack) === 0) {
          this.send(FrameType.settings, FrameFlag.ack, 0, []);
        }
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.socket.write(CLIENT_PREFACE);
    this.send(FrameType.settings, 0, 0, []);
  }

  send(type: number, flags: number, stream: number, payload: number[]): void {
    this.socket.write(encodeFrame(type, flags, stream, Uint8Array.from(payload)));
  }

  async until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** grpc-status of each stream's trailers, decoded with the server's HPACK state. */
function grpcStatuses(frames: readonly Frame[]): Map<number, string> {
  const decoder = new HpackDecoder();
  const statuses = new Map<number, string>();
  for (const frame of frames) {
    if (frame.type !== FrameType.headers) continue;
    assert.ok(frame.flags & FrameFlag.endHeaders, 'the server sends small blocks whole');
    for (const field of decoder.decode(frame.payload)) {
      if (field.name === 'grpc-status') statuses.set(frame.streamId, field.value);
    }
  }
  return statuses;
}

describe('HTTP/2 authorities with a scheme', { timeout: 60_000 }, () => {
  it('are repaired across HEADERS + CONTINUATION and through the dynamic table', async () => {
    const client = new RawClient(Number(new URL(sigil.url).port));
    try {
      const path = [0x04, ...literal('/etcdserverpb.Maintenance/Status')];
      const first = [
        0x83, // :method POST
        0x86, // :scheme http
        ...path,
        0x41, // :authority, with incremental indexing → dynamic entry 62
        ...literal(sigil.url),
        0x40, // content-type, new name, with incremental indexing → 62 (authority now 63)
        ...literal('content-type'),
        ...literal('application/grpc'),
        0x00,
        ...literal('te'),
        ...literal('trailers'),
      ];
      const emptyMessage = [0, 0, 0, 0, 0];
      client.send(FrameType.headers, 0, 1, first.slice(0, 10));
      client.send(FrameType.continuation, FrameFlag.endHeaders, 1, first.slice(10));
      client.send(FrameType.data, FrameFlag.endStream, 1, emptyMessage);
      await client.until('the first answer', () => grpcStatuses(client.frames).has(1));
      const second = [
        0x83,
        0x86,
        ...path,
        0xbf,
        0xbe,
        0x00,
        ...literal('te'),
        ...literal('trailers'),
      ];
      client.send(FrameType.headers, FrameFlag.endHeaders, 3, second);
      client.send(FrameType.data, FrameFlag.endStream, 3, emptyMessage);
      await client.until('the second answer', () => grpcStatuses(client.frames).has(3));
      // A block larger than one frame arrives as HEADERS + CONTINUATION.
      const large = encodeHeaderBlock(
        [
          [':method', 'POST'],
          [':scheme', 'http'],
          [':path', '/etcdserverpb.Maintenance/Status'],
          [':authority', sigil.url],
          ['content-type', 'application/grpc'],
          ['x-padding', 'p'.repeat(20_000)],
        ].map(([name, value]) => ({ name, value, sensitive: false })),
      );
      client.send(FrameType.headers, 0, 5, [...large.subarray(0, 9_000)]);
      client.send(FrameType.continuation, FrameFlag.endHeaders, 5, [...large.subarray(9_000)]);
      client.send(FrameType.data, FrameFlag.endStream, 5, emptyMessage);
      await client.until('the third answer', () => grpcStatuses(client.frames).has(5));
      assert.deepEqual(
        [...grpcStatuses(client.frames)],
        [
          [1, '0'],
          [3, '0'],
          [5, '0'],
        ],
      );
      assert.deepEqual(
        client.frames.filter((frame) => frame.type === RST_STREAM || frame.type === GOAWAY),
        [],
      );
    } finally {
      client.close();
    }
  });

  it('a PING before the first request is answered', async () => {
    const client = new RawClient(Number(new URL(sigil.url).port));
    try {
      client.send(FrameType.ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
      await client.until('the ping ack', () =>
        client.frames.some((frame) => frame.type === FrameType.ping),
      );
      const ack = client.frames.find((frame) => frame.type === FrameType.ping)!;
      assert.equal(ack.flags, FrameFlag.ack);
      assert.deepEqual([...ack.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      client.close();
    }
  });

  it('etcdctl with http:// endpoints: status, health, put/get and a lock session', async () => {
    const endpoints = [sigil.url];
    const status = await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const [entry] = JSON.parse(status.stdout) as { Endpoint: string; Status: object }[];
    assert.equal(entry.Endpoint, sigil.url);
    const health = await etcdctl(endpoints, ['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout + health.stderr, /is healthy/);
    assert.equal((await etcdctl(endpoints, ['put', 'scheme', 'ok'])).stdout, 'OK\n');
    assert.equal((await etcdctl(endpoints, ['get', 'scheme'])).stdout, 'scheme\nok\n');
    // Several calls and streams (lease grant and keep-alive, txn, range, watch) on one connection.
    const lock = await etcdctl(endpoints, ['lock', 'scheme-lock', 'echo', 'held']);
    assert.equal(lock.code, 0, lock.stderr);
    assert.equal(lock.stdout, 'held\n');
  });
});
