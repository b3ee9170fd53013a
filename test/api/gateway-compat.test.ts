/**
 * The JSON gateway byte for byte against real etcd: the same requests, in the same order, go to
 * a fresh etcd 3.4 and to the client API over a fresh store, so revisions line up; only the
 * cluster and member ids (and sizes in Status) legitimately differ and are normalised.
 */
import { strict as assert } from 'node:assert';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';
import { type RunningApi, startLocalApi } from './api-fixture.ts';

let etcd: EtcdCluster;
let sigil: RunningApi;
let etcdUrl: string;

before(async () => {
  [etcd, sigil] = await Promise.all([startEtcd(), startLocalApi()]);
  etcdUrl = etcd.members[0].clientUrl;
});

after(async () => {
  await Promise.all([etcd?.stop(), sigil?.stop()]);
});

/** Ids are per cluster; everything else must match exactly. */
function normalise(text: string): string {
  return text
    .replace(/"(cluster_id|member_id|leader|ID)":"\d{12,}"/g, '"$1":"<id>"')
    .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)":"\d+"/g, '"$1":"<n>"');
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

async function post(base: string, path: string, body: string): Promise<Reply> {
  const response = await fetch(`${base}${path}`, { method: 'POST', body });
  return { status: response.status, body: normalise(await response.text()) };
}

/** Sends the same request to both and requires identical answers. */
async function same(path: string, body: string): Promise<Reply> {
  const want = await post(etcdUrl, path, body);
  const got = await post(sigil.url, path, body);
  assert.deepEqual(got, want, `${path} ${body}`);
  return got;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

test('unary KV, lease and maintenance calls answer as etcd does', { timeout: 30_000 }, async () => {
  await same('/v3/kv/put', `{"key":"${b64('foo')}","value":"${b64('bar')}"}`);
  await same('/v3/kv/put', `{"key":"${b64('foo')}","value":"${b64('baz')}","prev_kv":true}`);
  await same('/v3/kv/range', `{"key":"${b64('foo')}"}`);
  await same('/v3/kv/range', `{"key":"${b64('missing')}"}`);
  await same('/v3/kv/range', '{"key":""}');
  await same('/v3/kv/range', '');
  await same(
    '/v3/kv/txn',
    `{"compare":[{"key":"${b64('foo')}","target":"VERSION","result":"EQUAL","version":"2"}],` +
      `"success":[{"request_range":{"key":"${b64('foo')}"}}]}`,
  );
  await same(
    '/v3/kv/txn',
    `{"compare":[{"key":"${b64('foo')}","target":"VERSION","result":"EQUAL","version":"2"}],` +
      `"success":[{"requestPut":{"key":"${b64('a')}","value":"${b64('b')}"}}]}`,
  );
  await same(
    '/v3/kv/txn',
    `{"compare":[{"key":"${b64('foo')}","target":"VERSION","result":"EQUAL","version":"9"}],` +
      `"failure":[{"request_delete_range":{"key":"${b64('a')}","prev_kv":true}}]}`,
  );
  await same('/v3/kv/range', '{"key":"AA==","range_end":"AA==","count_only":true}');
  await same('/v3/kv/range', '{"key":"AA==","range_end":"AA==","limit":1,"keys_only":true}');
  await same('/v3/kv/range', `{"key":"${b64('foo')}","sortOrder":"DESCEND","sort_target":"VALUE"}`);
  await same('/v3/kv/deleterange', `{"key":"${b64('missing')}"}`);
  await same('/v3/kv/put', `{"key":"${b64('foo')}","value":"${b64('x')}","lease":"12345"}`);
  await same('/v3/kv/put', `{"key":"${b64('nope')}","ignore_value":true}`);
  await same('/v3/kv/compaction', '{"revision":"100"}');
  await same('/v3/kv/compaction', '{"revision":"2"}');
  await same('/v3/kv/compaction', '{"revision":"2"}');
  await same('/v3/kv/range', `{"key":"${b64('foo')}","revision":"1"}`);
  await same('/v3/lease/grant', '{"TTL":"100","ID":"7"}');
  await same('/v3/lease/grant', '{"TTL":"100","ID":"7"}');
  await same('/v3/kv/lease/timetolive', '{"ID":"8"}');
  await same('/v3/lease/leases', '{}');
  await same('/v3/lease/revoke', '{"ID":"7"}');
  await same('/v3/kv/lease/revoke', '{"ID":"7"}');
  await same('/v3/kv/lease/leases', '{}');
  await same('/v3/maintenance/alarm', '{"action":"GET"}');
  await same('/v3/maintenance/defragment', '{}');
  // Names, URLs and the version legitimately differ; the shape (field order too) must not.
  const local = (text: string): string =>
    text
      .replace(/"name":"[^"]*"/g, '"name":"<name>"')
      .replace(/"(peerURLs|clientURLs)":\["[^"]*"\]/g, '"$1":["<url>"]')
      .replace(/"version":"[^"]*"/, '"version":"<version>"');
  for (const path of ['/v3/cluster/member/list', '/v3/maintenance/status']) {
    const want = await post(etcdUrl, path, '{}');
    const got = await post(sigil.url, path, '{}');
    assert.equal(got.status, want.status, path);
    assert.equal(local(got.body), local(want.body), path);
  }
  await same('/v3/kv/nothing', '{}');
});

test(
  'GET /health matches; unknown paths and methods answer as etcd does',
  { timeout: 10_000 },
  async () => {
    for (const path of ['/health', '/v3/kv/range', '/nothing']) {
      const want = await fetch(`${etcdUrl}${path}`);
      const got = await fetch(`${sigil.url}${path}`);
      assert.equal(got.status, want.status, path);
      assert.equal(await got.text(), await want.text(), path);
    }
    const version = await fetch(`${sigil.url}/version`);
    assert.equal(await version.text(), '{"etcdserver":"3.5.0","etcdcluster":"3.5.0"}');
  },
);

/** Streams `parts` as a chunked body with pauses, collecting the response lines. */
function streamExchange(
  base: string,
  path: string,
  parts: readonly string[],
  settleMs: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // etcd's listener (cmux) only streams a chunked HTTP/1.1 body after 100-continue.
    const request = httpRequest(`${base}${path}`, {
      method: 'POST',
      headers: { expect: '100-continue' },
    });
    let text = '';
    request.on('response', (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
    });
    request.on('error', reject);
    const lines = (): string[] =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map(normalise);
    let index = 0;
    request.on('continue', () => next());
    const next = (): void => {
      if (index < parts.length) {
        request.write(parts[index++]);
        setTimeout(next, settleMs);
        return;
      }
      request.destroy();
      resolve(lines());
    };
  });
}

test('watch and keep-alive streams answer as etcd does', { timeout: 30_000 }, async () => {
  for (const base of [etcdUrl, sigil.url]) {
    await post(base, '/v3/kv/put', `{"key":"${b64('w')}","value":"${b64('1')}"}`);
    await post(base, '/v3/kv/put', `{"key":"${b64('w')}","value":"${b64('2')}"}`);
    await post(base, '/v3/lease/grant', '{"TTL":"60","ID":"9"}');
  }
  const current = JSON.parse((await post(sigil.url, '/v3/kv/range', `{"key":"${b64('w')}"}`)).body);
  const start = Number(current.kvs[0].mod_revision) - 1;
  const watchParts = [
    `{"create_request":{"key":"${b64('w')}","start_revision":"${start}","prev_kv":true}}`,
    '{"progress_request":{}}',
    '{"cancel_request":{"watch_id":"0"}}',
    `{"create_request":{"key":"${b64('w')}","watch_id":"5"}}{"create_request":{"key":"${b64('w')}","watch_id":"5"}}`,
    `{"create_request":{"key":"${b64('w')}","start_revision":"1"}}`,
    '{"cancel_request":{"watch_id":"77"}}',
  ];
  const [want, got] = await Promise.all([
    streamExchange(etcdUrl, '/v3/watch', watchParts, 300),
    streamExchange(sigil.url, '/v3/watch', watchParts, 300),
  ]);
  assert.deepEqual(got, want);
  const keepAliveParts = ['{"ID":"9"}', '{"ID":"2"}'];
  const [wantLease, gotLease] = await Promise.all([
    streamExchange(etcdUrl, '/v3/lease/keepalive', keepAliveParts, 200),
    streamExchange(sigil.url, '/v3/lease/keepalive', keepAliveParts, 200),
  ]);
  assert.deepEqual(gotLease, wantLease);
});

test(
  'each operation of a txn reports the revision the txn had reached when it ran',
  { timeout: 10_000 },
  async () => {
    const range = (key: string): string => `{"request_range":{"key":"${b64(key)}"}}`;
    const put = (key: string): string => `{"requestPut":{"key":"${b64(key)}"}}`;
    const del = (key: string): string => `{"request_delete_range":{"key":"${b64(key)}"}}`;
    const txn = (...ops: string[]): string => `{"success":[${ops.join(',')}]}`;
    // A range before the first write reads (and reports) the revision before the txn; one after
    // it reports the new revision; a delete of nothing changes nothing; a nested txn's own
    // header carries no revision at all.
    await same('/v3/kv/txn', txn(range('foo'), put('t')));
    await same('/v3/kv/txn', txn(put('t'), range('foo')));
    await same('/v3/kv/txn', txn(range('foo'), del('nothing'), range('t')));
    await same('/v3/kv/txn', txn(range('foo'), del('t'), range('t')));
    await same(
      '/v3/kv/txn',
      txn(range('foo'), `{"request_txn":${txn(range('foo'), put('t'), range('t'))}}`, range('foo')),
    );
    await same('/v3/kv/txn', txn(range('foo'), put('foo'), range('foo')));
  },
);

test('64-bit lease ids through the gateway answer as etcd does', { timeout: 10_000 }, async () => {
  // Real etcd hands out ids like these; it also grants any nonzero id a client names.
  const big = 0x694d7a0c9d8c5f04n.toString();
  for (const id of [big, '9223372036854775807', '-5']) {
    const granted = await same('/v3/lease/grant', `{"TTL":"100","ID":"${id}"}`);
    assert.match(
      (await post(sigil.url, '/v3/lease/timetolive', `{"ID":"${id}"}`)).body,
      id.length > 11 ? /"ID":"<id>"/ : new RegExp(`"ID":"${id}"`),
      granted.body,
    );
    await same(
      '/v3/kv/put',
      `{"key":"${b64(`leased/${id}`)}","value":"${b64('v')}","lease":"${id}"}`,
    );
    await same('/v3/kv/range', `{"key":"${b64(`leased/${id}`)}"}`);
    await same('/v3/kv/lease/timetolive', `{"ID":"${id}","keys":true}`);
    await same('/v3/lease/revoke', `{"ID":"${id}"}`);
    await same('/v3/kv/range', `{"key":"${b64(`leased/${id}`)}"}`);
  }
  // The id must come back exactly (the normaliser hides long ids in the comparisons above).
  await same('/v3/lease/grant', `{"TTL":"100","ID":"${big}"}`);
  await same('/v3/kv/put', `{"key":"${b64('exact')}","value":"","lease":"${big}"}`);
  const range = await fetch(`${sigil.url}/v3/kv/range`, {
    method: 'POST',
    body: `{"key":"${b64('exact')}"}`,
  });
  assert.match(await range.text(), new RegExp(`"lease":"${big}"`));
  const leases = await (
    await fetch(`${sigil.url}/v3/lease/leases`, { method: 'POST', body: '{}' })
  ).text();
  assert.match(leases, new RegExp(`\\{"ID":"${big}"\\}`));
  await same('/v3/lease/revoke', `{"ID":"${big}"}`);
});

test('64-bit integers sent as JSON numbers stay exact', { timeout: 10_000 }, async () => {
  // etcd's gateway takes int64 fields as numbers too; a double would round this id.
  const id = '7587855141790572293';
  await same('/v3/lease/grant', `{"TTL":100,"ID":${id}}`);
  const ttl = await fetch(`${sigil.url}/v3/lease/timetolive`, {
    method: 'POST',
    body: `{"ID":${id}}`,
  });
  assert.match(await ttl.text(), new RegExp(`"ID":"${id}","TTL":"\\d+","grantedTTL":"100"`));
  await same('/v3/lease/revoke', `{"ID":${id}}`);
  // Numbers inside strings are text, not integers.
  await same('/v3/kv/put', `{"key":"${b64('12345678901234567890')}","value":"${b64('v')}"}`);
});
