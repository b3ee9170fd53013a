/**
 * Hostile and malformed input at the client port: each case gets its etcd status, and neither
 * crashes the process nor disturbs another client, which keeps being served on its own
 * connection throughout.
 */
import { strict as assert } from 'node:assert';
import type { ClientHttp2Session } from 'node:http2';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type RunningApi, startLocalApi } from './api-fixture.ts';
import { decode, encode, frame, openSession, rawCall } from './grpc-raw-client.ts';

const MAX_REQUEST_BYTES = 64 * 1024;
let running: RunningApi;
let bystander: ClientHttp2Session;

before(async () => {
  running = await startLocalApi({ maxRequestBytes: MAX_REQUEST_BYTES, maxTxnOps: 8 });
  bystander = await openSession(running.url);
});

after(async () => {
  bystander.close();
  await running.stop();
});

const range = (key: string) =>
  frame(encode('etcdserverpb.RangeRequest', { key: Buffer.from(key) }));

/** The other client still gets answers. */
async function bystanderServed(): Promise<void> {
  const result = await rawCall(bystander, '/etcdserverpb.KV/Range', range('x'));
  assert.equal(result.status, 0);
  assert.equal(result.messages.length, 1);
}

async function expectStatus(
  path: string,
  body: Buffer,
  code: number,
  message: RegExp,
  headers: Record<string, string> = {},
): Promise<void> {
  const session = await openSession(running.url);
  try {
    const result = await rawCall(session, path, body, headers);
    assert.equal(result.status, code, `status of ${path}: ${result.message}`);
    assert.match(result.message ?? '', message);
  } finally {
    session.close();
  }
  await bystanderServed();
}

const cases: { name: string; path: string; body: () => Buffer; code: number; message: RegExp }[] = [
  {
    name: 'unknown method',
    path: '/etcdserverpb.KV/Nope',
    body: () => range('a'),
    code: 12,
    message: /^unknown method Nope for service etcdserverpb\.KV$/,
  },
  {
    name: 'unknown service',
    path: '/foo.Bar/Baz',
    body: () => range('a'),
    code: 12,
    message: /^unknown service foo\.Bar$/,
  },
  {
    name: 'garbage protobuf',
    path: '/etcdserverpb.KV/Range',
    body: () => frame(Buffer.from([0xff, 0xff, 0xff])),
    code: 3,
    message: /unmarshalling request/,
  },
  {
    name: 'truncated frame',
    path: '/etcdserverpb.KV/Range',
    body: () => frame(Buffer.alloc(100)).subarray(0, 20),
    code: 3,
    message: /0 complete messages/,
  },
  {
    name: 'no message',
    path: '/etcdserverpb.KV/Range',
    body: () => Buffer.alloc(0),
    code: 3,
    message: /0 complete messages/,
  },
  {
    name: 'compressed frame',
    path: '/etcdserverpb.KV/Range',
    body: () => frame(Buffer.from([10, 1, 97]), 1),
    code: 12,
    message: /compressed/,
  },
  {
    name: 'empty key',
    path: '/etcdserverpb.KV/Range',
    body: () => frame(encode('etcdserverpb.RangeRequest', {})),
    code: 3,
    message: /^etcdserver: key is not provided$/,
  },
  {
    name: 'invalid sort',
    path: '/etcdserverpb.KV/Range',
    body: () =>
      frame(encode('etcdserverpb.RangeRequest', { key: Buffer.from('a'), sort_target: 9 })),
    code: 3,
    message: /^etcdserver: invalid sort option$/,
  },
  {
    name: 'value with ignore_value',
    path: '/etcdserverpb.KV/Put',
    body: () =>
      frame(
        encode('etcdserverpb.PutRequest', {
          key: Buffer.from('a'),
          value: Buffer.from('v'),
          ignore_value: true,
        }),
      ),
    code: 3,
    message: /^etcdserver: value is provided$/,
  },
  {
    name: 'put over max-request-bytes',
    path: '/etcdserverpb.KV/Put',
    body: () =>
      frame(
        encode('etcdserverpb.PutRequest', {
          key: Buffer.from('a'),
          value: Buffer.alloc(MAX_REQUEST_BYTES),
        }),
      ),
    code: 3,
    message: /^etcdserver: request is too large$/,
  },
  {
    name: 'message over the gRPC receive limit',
    path: '/etcdserverpb.KV/Range',
    body: () =>
      frame(
        encode('etcdserverpb.RangeRequest', {
          key: Buffer.from('a'),
          range_end: Buffer.alloc(MAX_REQUEST_BYTES + 600 * 1024),
        }),
      ),
    code: 8,
    message: /^grpc: received message larger than max \(\d+ vs\. \d+\)$/,
  },
  {
    name: 'too many txn ops',
    path: '/etcdserverpb.KV/Txn',
    body: () =>
      frame(
        encode('etcdserverpb.TxnRequest', {
          success: Array.from({ length: 9 }, (_, i) => ({
            request_put: { key: Buffer.from(`k${i}`) },
          })),
        }),
      ),
    code: 3,
    message: /^etcdserver: too many operations in txn request$/,
  },
  {
    // No lease was granted: a 64-bit id is looked up exactly, and found nowhere.
    name: 'a lease id beyond 2^53 on a put is an unknown lease',
    path: '/etcdserverpb.KV/Put',
    body: () =>
      frame(
        encode('etcdserverpb.PutRequest', { key: Buffer.from('k'), lease: '1152921504606846977' }),
      ),
    code: 5,
    message: /^etcdserver: requested lease not found$/,
  },
  {
    name: 'auth is not faked',
    path: '/etcdserverpb.Auth/AuthEnable',
    body: () => frame(encode('etcdserverpb.AuthEnableRequest', {})),
    code: 12,
    message: /not implemented/,
  },
  {
    name: 'member add is not faked',
    path: '/etcdserverpb.Cluster/MemberAdd',
    body: () => frame(encode('etcdserverpb.MemberAddRequest', { peerURLs: ['http://x:1'] })),
    code: 12,
    message: /not implemented/,
  },
];

for (const item of cases) {
  test(`gRPC: ${item.name}`, { timeout: 10_000 }, () =>
    expectStatus(item.path, item.body(), item.code, item.message),
  );
}

test(
  'gRPC: a reads-only range over max-request-bytes is served (etcd checks proposals only)',
  { timeout: 10_000 },
  async () => {
    const body = frame(
      encode('etcdserverpb.RangeRequest', {
        key: Buffer.from('a'),
        range_end: Buffer.alloc(MAX_REQUEST_BYTES + 10),
      }),
    );
    const result = await rawCall(bystander, '/etcdserverpb.KV/Range', body);
    assert.equal(result.status, 0);
  },
);

test(
  'gRPC: grpc-timeout ends a watch stream with DEADLINE_EXCEEDED',
  { timeout: 10_000 },
  async () => {
    const create = frame(
      encode('etcdserverpb.WatchRequest', { create_request: { key: Buffer.from('a') } }),
    );
    const started = Date.now();
    const result = await rawCall(bystander, '/etcdserverpb.Watch/Watch', create, {
      'grpc-timeout': '200m',
    });
    assert.equal(result.status, 4);
    assert.ok(Date.now() - started >= 150, 'not before the deadline');
    assert.equal(decode('etcdserverpb.WatchResponse', result.messages[0]).created, true);
  },
);

test(
  'gRPC: health reports SERVING with a leader and NOT_SERVING without',
  { timeout: 10_000 },
  async () => {
    const check = frame(encode('grpc.health.v1.HealthCheckRequest', {}));
    const serving = await rawCall(bystander, '/grpc.health.v1.Health/Check', check);
    assert.equal(decode('grpc.health.v1.HealthCheckResponse', serving.messages[0]).status, 1);
    running.server.hasLeader = false;
    try {
      const notServing = await rawCall(bystander, '/grpc.health.v1.Health/Check', check);
      assert.equal(decode('grpc.health.v1.HealthCheckResponse', notServing.messages[0]).status, 2);
      const health = await fetch(`${running.url}/health`);
      assert.equal(health.status, 503);
      assert.equal(await health.text(), '{"health":"false"}');
    } finally {
      running.server.hasLeader = true;
    }
  },
);

const gatewayCases: { name: string; path: string; body: string; status: number; code: number }[] = [
  { name: 'invalid JSON', path: '/v3/kv/range', body: '{bad', status: 400, code: 3 },
  { name: 'JSON array', path: '/v3/kv/range', body: '[]', status: 400, code: 3 },
  { name: 'bad base64', path: '/v3/kv/range', body: '{"key":"!!!"}', status: 400, code: 3 },
  {
    name: 'bad int64',
    path: '/v3/kv/range',
    body: '{"key":"YQ==","limit":"abc"}',
    status: 400,
    code: 3,
  },
  {
    name: 'unknown enum name',
    path: '/v3/kv/range',
    body: '{"key":"YQ==","sort_order":"BOGUS"}',
    status: 400,
    code: 3,
  },
  {
    name: 'nested type mismatch',
    path: '/v3/kv/txn',
    body: '{"success":[{"request_put":"x"}]}',
    status: 400,
    code: 3,
  },
  {
    name: 'oversized put',
    path: '/v3/kv/put',
    body: JSON.stringify({
      key: 'YQ==',
      value: Buffer.alloc(MAX_REQUEST_BYTES).toString('base64'),
    }),
    status: 400,
    code: 3,
  },
  { name: 'unimplemented auth', path: '/v3/auth/enable', body: '{}', status: 501, code: 12 },
];

for (const item of gatewayCases) {
  test(`gateway: ${item.name}`, { timeout: 10_000 }, async () => {
    const response = await fetch(`${running.url}${item.path}`, { method: 'POST', body: item.body });
    assert.equal(response.status, item.status);
    const body = (await response.json()) as { error: string; message: string; code: number };
    assert.equal(body.code, item.code);
    assert.equal(body.error, body.message);
    await bystanderServed();
  });
}

test(
  'garbage bytes on a fresh connection are dropped without harm',
  { timeout: 10_000 },
  async () => {
    for (const garbage of [
      Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\ngarbage'),
      Buffer.from([0, 1, 2, 3, 4, 5, 255]),
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(running.endpoint.split(':')[1]), '127.0.0.1', () =>
          socket.end(garbage),
        );
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
      await bystanderServed();
    }
    assert.deepEqual(running.errors, []);
  },
);

test(
  'a client vanishing mid-watch cancels its watchers and harms no one',
  { timeout: 10_000 },
  async () => {
    const watchers = running.server.watchable.watcherCount;
    const session = await openSession(running.url);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.Watch/Watch',
      'content-type': 'application/grpc',
    });
    stream.on('error', () => undefined);
    stream.write(
      frame(encode('etcdserverpb.WatchRequest', { create_request: { key: Buffer.from('v') } })),
    );
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    assert.equal(running.server.watchable.watcherCount, watchers + 1);
    session.destroy();
    const deadline = Date.now() + 2_000;
    while (running.server.watchable.watcherCount !== watchers && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(running.server.watchable.watcherCount, watchers);
    await bystanderServed();
  },
);
