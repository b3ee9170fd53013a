/**
 * The real etcdctl (3.4, ETCDCTL_API=3) run against real etcd and against the client API over
 * a fresh store, with the same commands in the same order, so revisions line up and outputs
 * must match once ids, endpoints, sizes and the version string are normalised.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ETCDCTL_BIN, type EtcdCluster, startEtcd } from '../support/etcd-process.ts';
import { type RunningApi, startLocalApi } from './api-fixture.ts';

let etcd: EtcdCluster;
let sigil: RunningApi;

before(async () => {
  [etcd, sigil] = await Promise.all([startEtcd(), startLocalApi()]);
});

after(async () => {
  await Promise.all([etcd?.stop(), sigil?.stop()]);
});

interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function etcdctl(endpoint: string, args: readonly string[], input?: string): Promise<Output> {
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL_BIN,
      [`--endpoints=${endpoint}`, '--command-timeout=5s', ...args],
      { timeout: 10_000, env: { ...process.env, ETCDCTL_API: '3' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        // Keep only etcdctl's own error line: client retry logs carry timestamps.
        const lastLine = stderr.trim().split('\n').pop() ?? '';
        resolve({ code, stdout, stderr: lastLine });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Per-cluster values: ids (decimal in JSON, hex in text), endpoints, sizes, versions. */
function normalise(text: string, endpoint: string): string {
  return text
    .replaceAll(endpoint, '<endpoint>')
    .replace(/"(cluster_id|member_id|leader|ID)":\d+/g, '"$1":<id>')
    .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)":\d+/g, '"$1":<n>')
    .replace(/"version":"[^"]*"/g, '"version":"<version>"')
    .replace(/"name":"[^"]*"/g, '"name":"<name>"')
    .replace(/"peerURLs":\["[^"]*"\]/g, '"peerURLs":["<url>"]')
    .replace(/"took":"[^"]*"/g, '"took":"<duration>"')
    .replace(/\b[0-9a-f]{16}\b/g, '<hex-id>');
}

async function both(args: readonly string[], input?: string): Promise<Output> {
  const [want, got] = await Promise.all([
    etcdctl(etcd.endpoints[0], args, input),
    etcdctl(sigil.endpoint, args, input),
  ]);
  const clean = (output: Output, endpoint: string): Output => ({
    code: output.code,
    stdout: normalise(output.stdout, endpoint),
    stderr: normalise(output.stderr, endpoint),
  });
  const wantClean = clean(want, etcd.endpoints[0]);
  const gotClean = clean(got, sigil.endpoint);
  assert.deepEqual(gotClean, wantClean, `etcdctl ${args.join(' ')}`);
  return gotClean;
}

test(
  'etcdctl key-value commands print what they print against etcd',
  { timeout: 40_000 },
  async () => {
    await both(['put', 'foo', 'bar']);
    await both(['put', 'foo', 'baz', '--prev-kv']);
    await both(['put', 'foo2', 'x']);
    await both(['get', 'foo']);
    await both(['get', 'foo', '-w', 'json']);
    await both(['get', '--prefix', 'foo', '--order=DESCEND', '--sort-by=VALUE']);
    await both(['get', '--from-key', '', '--keys-only']);
    await both(['get', '--prefix', '', '--count-only', '-w', 'json']);
    await both(['get', 'foo', '--print-value-only', '--rev=2']);
    await both(['put', 'gone', 'x', '--ignore-value']);
    await both(['txn', '-i'], 'value("foo") = "baz"\n\nput foo qux\nget foo2\n\nput nope nope\n\n');
    await both(['txn', '-i', '-w', 'json'], 'mod("foo") > "0"\n\ndel foo2\n\n\n');
    await both(['del', 'foo', '--prev-kv']);
    await both(['del', '--prefix', 'nothing']);
    await both(['compaction', '3']);
    await both(['get', 'foo', '--rev=2']);
    await both(['compaction', '999']);
  },
);

test('etcdctl lease, member and endpoint commands match', { timeout: 40_000 }, async () => {
  await both(['lease', 'grant', '100']);
  await both(['lease', 'timetolive', '1234']);
  await both(['lease', 'revoke', '1234']);
  await both(['lease', 'keep-alive', '--once', '1234']);
  await both(['put', 'k', 'v', '--lease=1234']);
  await both(['member', 'list', '-w', 'json']);
  await both(['endpoint', 'status', '-w', 'json']);
  await both(['endpoint', 'health', '-w', 'json']);
  await both(['alarm', 'list']);
  // Granted ids differ; the full cycle on each proves grant → attach → ttl → revoke.
  for (const endpoint of [etcd.endpoints[0], sigil.endpoint]) {
    const granted = await etcdctl(endpoint, ['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted/.exec(granted.stdout)?.[1];
    assert.ok(id !== undefined, granted.stdout + granted.stderr);
    assert.equal((await etcdctl(endpoint, ['put', 'leased', 'v', `--lease=${id}`])).stdout, 'OK\n');
    const ttl = await etcdctl(endpoint, ['lease', 'timetolive', id, '--keys']);
    assert.match(
      ttl.stdout,
      new RegExp(
        `lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[leased\\]\\)`,
      ),
    );
    assert.match(
      (await etcdctl(endpoint, ['lease', 'keep-alive', '--once', id])).stdout,
      /keepalived with TTL\(60\)/,
    );
    assert.equal(
      (await etcdctl(endpoint, ['lease', 'revoke', id])).stdout,
      `lease ${id} revoked\n`,
    );
    assert.equal((await etcdctl(endpoint, ['get', 'leased'])).stdout, '');
  }
});

/** Runs `etcdctl watch` for a while, with writes made meanwhile, and returns what it printed. */
async function watchOutput(
  endpoint: string,
  args: readonly string[],
  writes: () => Promise<void>,
): Promise<string> {
  const child = spawn(ETCDCTL_BIN, [`--endpoints=${endpoint}`, 'watch', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  await writes();
  await new Promise((resolve) => setTimeout(resolve, 700));
  child.kill('SIGTERM');
  await exited;
  return stdout;
}

test(
  'etcdctl watch prints history and live events as against etcd',
  { timeout: 30_000 },
  async () => {
    const outputs: string[] = [];
    for (const endpoint of [etcd.endpoints[0], sigil.endpoint]) {
      await etcdctl(endpoint, ['put', 'w/a', '1']);
      const revision = JSON.parse((await etcdctl(endpoint, ['get', 'w/a', '-w', 'json'])).stdout)
        .header.revision;
      const output = await watchOutput(
        endpoint,
        ['--prefix', 'w/', `--rev=${revision}`, '--prev-kv'],
        async () => {
          await etcdctl(endpoint, ['put', 'w/b', '2']);
          await etcdctl(endpoint, ['put', 'w/a', '3']);
          await etcdctl(endpoint, ['del', 'w/a']);
        },
      );
      outputs.push(output);
    }
    assert.equal(outputs[1], outputs[0]);
    // With --prev-kv etcdctl prints the previous value first: PUT w/a 1 → 3, DELETE w/a (was 3).
    assert.equal(
      outputs[1],
      'PUT\nw/a\n1\nPUT\nw/b\n2\nPUT\nw/a\n1\nw/a\n3\nDELETE\nw/a\n3\nw/a\n\n',
    );
  },
);
