/**
 * The Backend contract, run against both implementations: atomic writes with the consistent
 * index, ordered ranges, snapshot streams that restore into either implementation and detect
 * corruption, and (LMDB) durability of everything across reopen.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  type Backend,
  LmdbBackend,
  MemoryBackend,
  SnapshotCorruptError,
} from '../../src/storage/index.ts';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const s = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-backend-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const implementations: { name: string; make: (dir: string) => Backend }[] = [
  { name: 'MemoryBackend', make: () => new MemoryBackend() },
  { name: 'LmdbBackend', make: (dir) => new LmdbBackend({ dataDir: dir }) },
];

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(new Uint8Array(chunk));
  return chunks;
}

async function* replay(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

for (const { name, make } of implementations) {
  test(`${name}: atomic writes with the consistent index`, async (t) => {
    const backend = make(tempDir(t));
    assert.equal(backend.consistentIndex(), 0);
    backend.write((txn) => {
      txn.put('key', b('k1'), b('v1'));
      txn.append('key', b('k2'), b('v2'));
      assert.equal(s(txn.get('key', b('k1'))!), 'v1', 'reads see the transaction’s writes');
    }, 5);
    assert.equal(backend.consistentIndex(), 5);
    assert.throws(() =>
      backend.write((txn) => {
        txn.put('key', b('k3'), b('v3'));
        txn.delete('key', b('k1'));
        throw new Error('apply failed');
      }, 6),
    );
    assert.equal(backend.consistentIndex(), 5, 'a failed batch does not move the index');
    assert.equal(
      backend.read((txn) => txn.get('key', b('k3'))),
      undefined,
    );
    assert.equal(s(backend.read((txn) => txn.get('key', b('k1')))!), 'v1');
    assert.throws(() => backend.write(() => {}, 5), /must increase/);
    assert.throws(() => backend.write((txn) => txn.append('key', b('k0'), b('x'))), /append/);
    await backend.close();
  });

  test(`${name}: ranges in byte order, bounds, limit, reverse`, async (t) => {
    const backend = make(tempDir(t));
    const keys = ['a', 'ab', 'b', 'b\u0000', 'c', '\u00ff'];
    backend.write((txn) => {
      for (const key of [...keys].reverse()) txn.put('lease', b(key), b(key));
    });
    const keysOf = (start: string, end: string | undefined, options = {}): string[] =>
      backend
        .read((txn) =>
          txn.range('lease', b(start), end === undefined ? undefined : b(end), options),
        )
        .map((e) => s(e.key));
    assert.deepEqual(keysOf('', undefined), ['a', 'ab', 'b', 'b\u0000', 'c', '\u00ff']);
    assert.deepEqual(keysOf('ab', 'c'), ['ab', 'b', 'b\u0000']);
    assert.deepEqual(keysOf('ab', 'c', { limit: 2 }), ['ab', 'b']);
    assert.deepEqual(keysOf('ab', 'c', { reverse: true }), ['b\u0000', 'b', 'ab']);
    assert.deepEqual(keysOf('a', 'b', { reverse: true, limit: 1 }), ['ab']);
    assert.deepEqual(keysOf('', undefined, { reverse: true, limit: 2 }), ['\u00ff', 'c']);
    assert.equal(backend.read((txn) => txn.range('key', b(''), undefined)).length, 0);
    await backend.close();
  });

  for (const target of implementations) {
    test(`${name} snapshot restores into ${target.name}`, async (t) => {
      const source = make(tempDir(t));
      const value = new Uint8Array(3000).fill(7);
      for (let batch = 0; batch < 5; batch++) {
        source.write((txn) => {
          for (let i = 0; i < 400; i++) txn.put('key', b(`k${batch}-${i}`), value);
          txn.put('members', b(`m${batch}`), b('member'));
        }, batch + 1);
      }
      const chunks = await collect(source.snapshot());
      assert.ok(chunks.length > 1, 'a big state streams in several chunks');
      const destination = target.make(tempDir(t));
      destination.write((txn) => txn.put('auth', b('stale'), b('x')), 99);
      await destination.restore(replay(chunks));
      assert.equal(destination.consistentIndex(), 5);
      assert.equal(destination.restorePending(), false);
      assert.equal(
        destination.read((txn) => txn.get('auth', b('stale'))),
        undefined,
      );
      assert.equal(destination.read((txn) => txn.range('key', b(''), undefined)).length, 2000);
      assert.equal(destination.read((txn) => txn.range('members', b(''), undefined)).length, 5);
      await source.close();
      await destination.close();
    });
  }

  test(`${name}: corrupt or truncated snapshots are refused`, async (t) => {
    const source = make(tempDir(t));
    source.write((txn) => {
      for (let i = 0; i < 100; i++) txn.put('key', b(`k${i}`), b(`value ${i}`));
    }, 3);
    const chunks = await collect(source.snapshot());
    const whole = Buffer.concat(chunks);
    const flipped = new Uint8Array(whole);
    flipped[Math.floor(flipped.length / 2)] ^= 0x01;
    for (const bad of [flipped, whole.subarray(0, whole.length - 3), whole.subarray(0, 100)]) {
      const destination = make(tempDir(t));
      await assert.rejects(
        destination.restore(replay([new Uint8Array(bad)])),
        SnapshotCorruptError,
      );
      // Memory keeps its old state; LMDB marks itself as needing a new snapshot.
      if (destination instanceof LmdbBackend) assert.equal(destination.restorePending(), true);
      else assert.equal(destination.restorePending(), false);
      await destination.close();
    }
    await source.close();
  });
}

test('LmdbBackend keeps data and consistent index across reopen', async (t) => {
  const dir = tempDir(t);
  let backend = new LmdbBackend({ dataDir: dir });
  backend.write((txn) => txn.put('meta', b('x'), b('y')), 42);
  await backend.sync();
  await backend.close();
  assert.ok(fs.existsSync(path.join(dir, 'member', 'snap', 'db')));
  backend = new LmdbBackend({ dataDir: dir });
  assert.equal(backend.consistentIndex(), 42);
  assert.equal(s(backend.read((txn) => txn.get('meta', b('x')))!), 'y');
  assert.ok(backend.size().sizeBytes >= backend.size().sizeInUseBytes);
  await backend.close();
});
