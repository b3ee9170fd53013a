/**
 * sigilctl snapshot save/status/restore against an in-process server: the saved file is whole
 * (no .part left, hash checked), status prints etcdctl's three formats, and damaged files —
 * truncated or with a flipped byte — are refused by status and restore with a clear error; a
 * failed save leaves no file behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { progressLine } from '../../src/cli/sigilctl-snapshot.ts';
import { SigilClient } from '../../src/client/index.ts';
import { KvStore } from '../../src/mvcc/index.ts';
import { LmdbBackend } from '../../src/storage/index.ts';
import { type RunningApi, startLocalApi } from '../api/api-fixture.ts';
import { freePort } from '../support/etcd-process.ts';
import { runSigilctlInProcess } from '../support/cli-runners.ts';

let running: RunningApi;
let dir: string;
let saved: string;
let revision: number;

before(async () => {
  running = await startLocalApi({});
  dir = mkdtempSync(join(tmpdir(), 'sigil-snapshot-cli-'));
  const client = new SigilClient({ endpoints: [running.endpoint] });
  try {
    for (let i = 0; i < 200; i++) await client.put(`key/${i}`, `value ${i}`.repeat(10));
    await client.delete('key/7');
    revision = (await client.put('last', 'one')).header.revision;
  } finally {
    client.close();
  }
  saved = join(dir, 'saved.db');
  const result = await runSigilctlInProcess([
    '--endpoints',
    running.endpoint,
    'snapshot',
    'save',
    saved,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `Snapshot saved at ${saved}\n`);
});

after(async () => {
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sigilctl = (...args: string[]) => runSigilctlInProcess(args);

describe('sigilctl snapshot', { timeout: 60_000 }, () => {
  it('save leaves the complete file only, ending in the SHA-256 of the database', () => {
    assert.equal(existsSync(`${saved}.part`), false);
    const bytes = readFileSync(saved);
    assert.equal(bytes.length % 512, 32);
  });

  it('status prints hash, revision, keys and size in etcdctl formats', async () => {
    const json = await sigilctl('snapshot', 'status', saved, '-w', 'json');
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as Record<string, number>;
    assert.equal(status.revision, revision);
    // 201 live keys + 1 tombstone + consistent index + cluster version + auth revision.
    assert.ok(status.totalKey >= 205, `${status.totalKey}`);
    assert.equal(status.totalSize, readFileSync(saved).length - 32);
    const simple = await sigilctl('snapshot', 'status', saved);
    assert.equal(
      simple.stdout.trim().split(', ').slice(0, 3).join(', '),
      `${status.hash.toString(16)}, ${revision}, ${status.totalKey}`,
    );
    const table = await sigilctl('snapshot', 'status', saved, '-w', 'table');
    assert.match(table.stdout, /\| +HASH +\| REVISION \| TOTAL KEYS \| TOTAL SIZE \|/);
  });

  it('restore builds a member data dir holding every key at its revision', async () => {
    const dataDir = join(dir, 'restored');
    const result = await sigilctl('snapshot', 'restore', saved, '--data-dir', dataDir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`revision ${revision}, 202 key revisions`));
    const backend = new LmdbBackend({ dataDir });
    try {
      const kv = new KvStore(backend);
      assert.equal(kv.currentRevision, revision);
      const all = kv.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
      assert.equal(all.count, 200);
      assert.equal(
        new TextDecoder().decode(all.kvs.find((k) => k.modRevision === revision)!.key),
        'last',
      );
    } finally {
      await backend.close();
    }
    assert.ok(existsSync(join(dataDir, 'member', 'wal')), 'the raft state is seeded');
  });

  it('status and restore refuse a truncated file', async () => {
    const truncated = join(dir, 'truncated.db');
    writeFileSync(truncated, readFileSync(saved).subarray(0, 20_100));
    const status = await sigilctl('snapshot', 'status', truncated);
    assert.equal(status.code, 1);
    assert.match(
      status.stderr,
      /^Error: bbolt: truncated: the database needs \d+ bytes but the file holds 20100/,
    );
    const restore = await sigilctl(
      'snapshot',
      'restore',
      truncated,
      '--data-dir',
      join(dir, 'never-1'),
    );
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /snapshot missing hash/);
    assert.equal(existsSync(join(dir, 'never-1')), false);
  });

  it('status and restore refuse a file with one corrupted byte', async () => {
    const corrupted = join(dir, 'corrupted.db');
    const bytes = readFileSync(saved);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10;
    writeFileSync(corrupted, bytes);
    for (const args of [
      ['snapshot', 'status', corrupted],
      ['snapshot', 'restore', corrupted, '--data-dir', join(dir, 'never-2')],
    ]) {
      const result = await sigilctl(...args);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /SHA-256 mismatch .*corrupted or truncated/);
    }
    assert.equal(existsSync(join(dir, 'never-2')), false);
  });

  it('restore refuses an existing data dir and a member missing from --initial-cluster', async () => {
    const existing = join(dir, 'existing');
    mkdirSync(existing);
    const taken = await sigilctl('snapshot', 'restore', saved, '--data-dir', existing);
    assert.match(taken.stderr, /data-dir ".*existing" exists/);
    const stranger = await sigilctl(
      'snapshot',
      'restore',
      saved,
      '--name',
      'nobody',
      '--data-dir',
      join(dir, 'x'),
    );
    assert.match(stranger.stderr, /--initial-cluster has no member named "nobody"/);
  });

  it('a failed save leaves neither the file nor its .part', async () => {
    const target = join(dir, 'failed.db');
    const dead = `127.0.0.1:${await freePort()}`;
    const result = await runSigilctlInProcess([
      '--endpoints',
      dead,
      '--dial-timeout',
      '300ms',
      'snapshot',
      'save',
      target,
    ]);
    assert.equal(result.code, 1);
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(`${target}.part`), false);
    const many = await sigilctl(
      '--endpoints',
      `${running.endpoint},${dead}`,
      'snapshot',
      'save',
      target,
    );
    assert.match(many.stderr, /snapshot must be requested to one selected node, not multiple/);
  });

  it('draws progress as a bar with percentage and sizes', () => {
    assert.equal(progressLine(0, 1000), `\r[${'.'.repeat(30)}]   0% 0 B / 1.0 kB`);
    assert.equal(
      progressLine(500, 1000),
      `\r[${'#'.repeat(15)}${'.'.repeat(15)}]  50% 500 B / 1.0 kB`,
    );
    assert.equal(progressLine(1000, 1000), `\r[${'#'.repeat(30)}] 100% 1.0 kB / 1.0 kB`);
  });
});
