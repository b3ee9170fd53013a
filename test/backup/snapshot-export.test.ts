/**
 * The export spool: the stream is the database followed by its SHA-256, the spool file goes away
 * when the stream ends, is abandoned, or is disposed, and a member dump that fails its own
 * SHA-256 check never becomes a snapshot.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spoolEtcdSnapshot } from '../../src/backup/index.ts';
import { KvStore } from '../../src/mvcc/index.ts';
import { MemoryBackend } from '../../src/storage/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'sigil-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function memberDump(corrupt = false): Promise<Uint8Array[]> {
  const kv = new KvStore(new MemoryBackend());
  for (let i = 0; i < 500; i++) {
    kv.put({ key: new TextEncoder().encode(`k${i}`), value: new Uint8Array(200) });
  }
  const chunks: Uint8Array[] = [];
  const digest = createHash('sha256');
  for await (const chunk of kv.backend.snapshot()) {
    digest.update(chunk);
    chunks.push(chunk);
  }
  const sha = new Uint8Array(digest.digest());
  if (corrupt) sha[0] ^= 1;
  chunks.push(sha);
  return chunks;
}

async function* replay(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe('etcd snapshot export', { timeout: 30_000 }, () => {
  it('streams the database in chunks, then its SHA-256, and removes the spool', async () => {
    const snapshot = await spoolEtcdSnapshot(replay(await memberDump()), dir);
    assert.equal(readdirSync(dir).length, 1);
    const chunks: Uint8Array[] = [];
    for await (const chunk of snapshot.stream(4096)) chunks.push(chunk);
    const sha = chunks.pop()!;
    const database = Buffer.concat(chunks);
    assert.equal(database.length, snapshot.databaseBytes);
    assert.ok(chunks.every((chunk) => chunk.length <= 4096));
    assert.deepEqual(Buffer.from(sha), createHash('sha256').update(database).digest());
    assert.equal(snapshot.summary.revision, 501);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('removes the spool when the stream is abandoned or disposed', async () => {
    const abandoned = await spoolEtcdSnapshot(replay(await memberDump()), dir);
    const stream = abandoned.stream(4096);
    await stream.next();
    await stream.return(undefined);
    assert.deepEqual(readdirSync(dir), []);
    const disposed = await spoolEtcdSnapshot(replay(await memberDump()), dir);
    disposed.dispose();
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses a member dump whose SHA-256 does not match, leaving nothing', async () => {
    await assert.rejects(
      spoolEtcdSnapshot(replay(await memberDump(true)), dir),
      /member snapshot failed its SHA-256 check/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});
