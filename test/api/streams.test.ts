/**
 * Stream features no stock client exercises fully: client-chosen watch ids, fragmentation of
 * large watch responses, progress notifications at the configured interval, the Snapshot
 * server stream, and exact 64-bit ids through gRPC and the gateway.
 */
import { strict as assert } from 'node:assert';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, test } from 'node:test';
import { LOCAL_MEMBER_ID } from '../support/local-server.ts';
import { type RunningApi, startLocalApi } from './api-fixture.ts';
import { decode, encode, frame, openSession, rawCall } from './grpc-raw-client.ts';

const MAX_REQUEST_BYTES = 4_096;
let running: RunningApi;
let session: ClientHttp2Session;

before(async () => {
  running = await startLocalApi({
    maxRequestBytes: MAX_REQUEST_BYTES,
    progressNotifyIntervalMs: 100,
  });
  session = await openSession(running.url);
});

after(async () => {
  session.close();
  await running.stop();
});

const bytes = (text: string): Buffer => Buffer.from(text);

function watchRequest(message: Record<string, unknown>): Buffer {
  return frame(encode('etcdserverpb.WatchRequest', message));
}

/** Opens a watch stream with `requests`, lets it run for `durationMs`, returns responses. */
async function watchFor(
  requests: Buffer[],
  durationMs: number,
): Promise<Record<string, unknown>[]> {
  const result = await rawCall(session, '/etcdserverpb.Watch/Watch', Buffer.concat(requests), {
    'grpc-timeout': `${durationMs}m`,
  });
  assert.equal(result.status, 4, 'the stream runs until its deadline');
  return result.messages.map((message) => decode('etcdserverpb.WatchResponse', message));
}

test(
  'client-chosen watch ids, a duplicate refused, events tagged with their id',
  { timeout: 10_000 },
  async () => {
    const { header } = await running.server.put({ key: bytes('ids/a'), value: bytes('1') });
    const responses = await watchFor(
      [
        watchRequest({
          create_request: { key: bytes('ids/a'), watch_id: 42, start_revision: header.revision },
        }),
        watchRequest({ create_request: { key: bytes('ids/a'), watch_id: 42 } }),
        watchRequest({ create_request: { key: bytes('ids/a') } }),
      ],
      400,
    );
    assert.deepEqual(
      responses.map((response) => [
        response.watch_id,
        response.created ?? false,
        response.canceled ?? false,
      ]),
      [
        ['42', true, false],
        ['-1', true, true],
        [undefined, true, false],
        ['42', false, false],
      ],
    );
    assert.equal(
      responses[1].cancel_reason,
      'mvcc: duplicate watch ID provided on the WatchStream',
    );
    assert.equal((responses[3].events as unknown[]).length, 1);
  },
);

test(
  'a response over max-request-bytes is fragmented when asked',
  { timeout: 10_000 },
  async () => {
    const big = Buffer.alloc(1_500, 'x');
    const before = running.server.kv.currentRevision;
    await running.server.txn({
      success: ['frag/a', 'frag/b', 'frag/c', 'frag/d'].map((key) => ({
        requestPut: { key: bytes(key), value: big },
      })),
    });
    const responses = await watchFor(
      [
        watchRequest({
          create_request: {
            key: bytes('frag/'),
            range_end: bytes('frag0'),
            start_revision: before + 1,
            fragment: true,
          },
        }),
      ],
      400,
    );
    const pieces = responses.filter((response) => Array.isArray(response.events));
    assert.ok(pieces.length >= 2, `expected fragments, got ${pieces.length}`);
    assert.deepEqual(
      pieces.map((piece) => piece.fragment ?? false),
      [...pieces.slice(1).map(() => true), false],
    );
    assert.equal(pieces.flatMap((piece) => piece.events as unknown[]).length, 4);
  },
);

test(
  'progress_notify sends empty responses at the configured interval',
  { timeout: 10_000 },
  async () => {
    const responses = await watchFor(
      [watchRequest({ create_request: { key: bytes('quiet'), progress_notify: true } })],
      450,
    );
    const progress = responses.filter(
      (response) => !response.created && response.events === undefined,
    );
    assert.ok(progress.length >= 2, `expected progress notifications, got ${progress.length}`);
    assert.ok(
      progress.every(
        (response) => (response.header as { revision: string }).revision !== undefined,
      ),
    );
  },
);

test(
  'Snapshot streams the backend with remaining_bytes reaching 0',
  { timeout: 10_000 },
  async () => {
    const result = await rawCall(
      session,
      '/etcdserverpb.Maintenance/Snapshot',
      frame(new Uint8Array()),
    );
    assert.equal(result.status, 0);
    const chunks = result.messages.map((message) =>
      decode('etcdserverpb.SnapshotResponse', message),
    );
    assert.ok(chunks.length >= 1);
    assert.equal(chunks[chunks.length - 1].remaining_bytes, undefined);
    assert.ok(chunks.every((chunk) => (chunk.blob as Uint8Array).length > 0));
  },
);

test('64-bit ids survive gRPC and the gateway exactly', { timeout: 10_000 }, async () => {
  // The largest lease id the MVCC layer carries exactly (larger ones are refused, see
  // bad-input.test.ts); member and cluster ids below use all 64 bits.
  const id = BigInt(Number.MAX_SAFE_INTEGER);
  const granted = await rawCall(
    session,
    '/etcdserverpb.Lease/LeaseGrant',
    frame(encode('etcdserverpb.LeaseGrantRequest', { TTL: 30, ID: id.toString() })),
  );
  assert.equal(decode('etcdserverpb.LeaseGrantResponse', granted.messages[0]).ID, id.toString());
  const ttl = await fetch(`${running.url}/v3/lease/timetolive`, {
    method: 'POST',
    body: JSON.stringify({ ID: id.toString() }),
  });
  assert.match(await ttl.text(), new RegExp(`"ID":"${id}","TTL":"\\d+","grantedTTL":"30"`));
  const members = await (
    await fetch(`${running.url}/v3/cluster/member/list`, { method: 'POST', body: '{}' })
  ).text();
  assert.match(members, new RegExp(`"member_id":"${LOCAL_MEMBER_ID}"`));
  assert.match(members, new RegExp(`"ID":"${LOCAL_MEMBER_ID}"`));
  const status = await rawCall(
    session,
    '/etcdserverpb.Maintenance/Status',
    frame(new Uint8Array()),
  );
  assert.equal(
    decode('etcdserverpb.StatusResponse', status.messages[0]).leader,
    LOCAL_MEMBER_ID.toString(),
  );
});
