/**
 * The load generator's lean gRPC path (bench/load/lean-grpc.ts; its HPACK decoder is the
 * server's, tested in test/api/hpack.test.ts): it must decode what real HTTP/2 servers send (Huffman, dynamic table), report grpc-status failures,
 * and send requests the server decodes into exactly the fields the workload meant.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnPutRequest,
  LeanGrpcConnection,
  LeanGrpcError,
} from '../../bench/load/lean-grpc.ts';
import { loadProtoCodec } from '../../src/api/proto/server-codec.ts';

describe('LeanGrpcConnection against node:http2 (nghttp2 encodes the responses)', () => {
  const codec = loadProtoCodec();
  const putType = codec.methods.get('/etcdserverpb.KV/Put')!.requestType;
  const rangeType = codec.methods.get('/etcdserverpb.KV/Range')!.requestType;
  const txnType = codec.methods.get('/etcdserverpb.KV/Txn')!.requestType;
  let server: http2.Http2Server;
  let endpoint = '';
  const received: { path: string; body: Buffer }[] = [];

  before(async () => {
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const path = String(headers[':path']);
        const body = Buffer.concat(chunks);
        received.push({ path, body: body.subarray(5) });
        if (path === '/test/Fail') {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '5',
              'grpc-message': encodeURIComponent('etcdserver: key not found'),
            },
            { endStream: true },
          );
          return;
        }
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc' },
          {
            waitForTrailers: true,
          },
        );
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // Echo the request message back as the response message.
        stream.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('round-trips many concurrent calls and encodes the etcd requests field for field', async () => {
    const connection = await LeanGrpcConnection.connect(endpoint);
    try {
      const key = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
      const value = Buffer.alloc(256, 0xab);
      const put = encodePutRequest(key, value);
      const answers = await Promise.all(
        Array.from({ length: 300 }, () => connection.unary('/etcdserverpb.KV/Put', put)),
      );
      for (const answer of answers) assert.deepEqual(answer, put);
      const decodedPut = putType.toObject(putType.decode(put)) as { key: Buffer; value: Buffer };
      assert.deepEqual([...decodedPut.key], [...key]);
      assert.deepEqual([...decodedPut.value], [...value]);
      const range = rangeType.toObject(rangeType.decode(encodeRangeRequest(key, true))) as {
        key: Buffer;
        serializable: boolean;
      };
      assert.deepEqual([...range.key], [...key]);
      assert.equal(range.serializable, true);
      const txn = txnType.toObject(txnType.decode(encodeTxnPutRequest(key, value))) as {
        success: { request_put: { key: Buffer; value: Buffer } }[];
      };
      assert.equal(txn.success.length, 1);
      assert.deepEqual([...txn.success[0].request_put.value], [...value]);
    } finally {
      connection.close();
    }
  });

  it('rejects with the grpc-status and message of a trailers-only answer', async () => {
    const connection = await LeanGrpcConnection.connect(endpoint);
    try {
      await assert.rejects(
        connection.unary('/test/Fail', new Uint8Array(0)),
        (error: unknown) =>
          error instanceof LeanGrpcError &&
          error.code === 5 &&
          error.message.includes('etcdserver: key not found'),
      );
      // The connection stays usable after a failed call.
      const ok = await connection.unary('/test/Echo', Buffer.from([8, 1]));
      assert.deepEqual([...ok], [8, 1]);
    } finally {
      connection.close();
    }
  });

  it('fails calls in flight, and later calls, once the connection is closed', async () => {
    const connection = await LeanGrpcConnection.connect(endpoint);
    const pending = connection.unary('/test/Echo', Buffer.from([1]));
    connection.close();
    await assert.rejects(pending, /closed/);
    await assert.rejects(connection.unary('/test/Echo', Buffer.from([1])), /closed/);
  });
});
