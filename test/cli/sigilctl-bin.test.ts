/** bin/sigilctl as users run it: a separate process, started from another working directory. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';
import type { CliResult } from '../support/cli-runners.ts';

const BIN = fileURLToPath(new URL('../../bin/sigilctl', import.meta.url));
let etcd: EtcdCluster;

before(async () => {
  etcd = await startEtcd();
});

after(async () => {
  await etcd?.stop();
});

function sigilctl(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      [`--endpoints=${etcd.endpoints[0]}`, ...args],
      { cwd: tmpdir(), timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

test(
  'bin/sigilctl works from another directory and exits like etcdctl',
  { timeout: 30_000 },
  async () => {
    const [put, failure] = await Promise.all([
      sigilctl('put', 'bin/key', 'value'),
      sigilctl('put', 'bin/other', 'v', '--lease=abc'),
    ]);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    assert.equal(put.code, 0);
    assert.equal(failure.code, 1);
    assert.equal(failure.stderr, 'Error: etcdserver: requested lease not found\n');
    const get = await sigilctl('get', 'bin/key');
    assert.equal(get.stdout, 'bin/key\nvalue\n');
  },
);
