/**
 * close() ends open streams with etcd's "server stopped" status (Unavailable, so clients fail
 * over to another member) and releases the port.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { startLocalApi } from './api-fixture.ts';
import { encode, frame, openSession } from './grpc-raw-client.ts';

test(
  'close ends watch streams with UNAVAILABLE and stops listening',
  { timeout: 10_000 },
  async () => {
    const running = await startLocalApi();
    const session = await openSession(running.url);
    session.on('error', () => undefined);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.Watch/Watch',
      'content-type': 'application/grpc',
    });
    stream.on('error', () => undefined);
    const trailers = new Promise<Record<string, unknown>>((resolve) =>
      stream.once('trailers', resolve),
    );
    stream.on('data', () => undefined);
    stream.write(
      frame(encode('etcdserverpb.WatchRequest', { create_request: { key: Buffer.from('a') } })),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await running.stop();
    const status = await trailers;
    assert.equal(status['grpc-status'], '14');
    assert.equal(status['grpc-message'], 'etcdserver: server stopped');
    await assert.rejects(fetch(`${running.url}/version`));
    session.destroy();
  },
);
