/**
 * LmdbBackend's group commit: write() calls share one long LMDB transaction across event-loop
 * turns. Each call must stay atomic with its consistent index: a failed call leaves no trace,
 * reads see every call that returned, and the file a crash would leave (a copy taken while a
 * group is open) holds exactly the calls up to its own consistent index, none after.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LmdbBackend } from '../../src/storage/index.ts';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const s = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
const dbFile = (dataDir: string): string => path.join(dataDir, 'member', 'snap', 'db');

/** The value each call writes under its own key; every fifth call also deletes an older key. */
const keyOf = (call: number): Uint8Array => b(`k${String(call).padStart(5, '0')}`);

/** Opens a copy of the file as it is now (what a crash at this instant would leave on disk). */
function crashCopy(dataDir: string, root: string, name: string): LmdbBackend {
  const copyDir = path.join(root, name);
  fs.mkdirSync(path.dirname(dbFile(copyDir)), { recursive: true });
  fs.copyFileSync(dbFile(dataDir), dbFile(copyDir));
  return new LmdbBackend({ dataDir: copyDir });
}

/** Checks that `backend` holds exactly the effects of the successful calls up to its index. */
function checkPrefix(backend: LmdbBackend, succeeded: number[], deletedBy: Map<number, number>) {
  const index = backend.consistentIndex();
  for (const call of succeeded) {
    const deletedAt = deletedBy.get(call);
    const want =
      call > index || (deletedAt !== undefined && deletedAt <= index) ? undefined : `v${call}`;
    assert.equal(
      s(backend.read((txn) => txn.get('key', keyOf(call)))),
      want,
      `key of call ${call}`,
    );
  }
}

test('LmdbBackend group commit: atomic calls, read-your-writes, crash leaves a prefix', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-group-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'live');
  let backend = new LmdbBackend({ dataDir });
  const succeeded: number[] = [];
  const deletedBy = new Map<number, number>();
  let copies = 0;
  let copiesBehind = 0;
  for (let call = 1; call <= 600; call++) {
    const fails = call % 13 === 0;
    const victim = call % 5 === 0 ? succeeded[Math.floor(succeeded.length / 2)] : undefined;
    const attempt = (): void =>
      backend.write((txn) => {
        txn.put('key', keyOf(call), b(`v${call}`));
        if (victim !== undefined && !deletedBy.has(victim)) txn.delete('key', keyOf(victim));
        if (fails) throw new Error('apply failed');
      }, call);
    if (fails) {
      assert.throws(attempt, /apply failed/);
      assert.equal(
        backend.read((txn) => txn.get('key', keyOf(call))),
        undefined,
        'rolled back',
      );
      assert.equal(backend.consistentIndex(), succeeded[succeeded.length - 1] ?? 0);
      continue;
    }
    attempt();
    succeeded.push(call);
    if (victim !== undefined && !deletedBy.has(victim)) deletedBy.set(victim, call);
    assert.equal(backend.consistentIndex(), call);
    assert.equal(s(backend.read((txn) => txn.get('key', keyOf(call)))), `v${call}`);
    if (call % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (call % 97 === 0) {
      const copy = crashCopy(dataDir, root, `crash${copies++}`);
      assert.ok(copy.consistentIndex() <= call, 'a crash never runs ahead');
      if (copy.consistentIndex() < call) copiesBehind++;
      checkPrefix(copy, succeeded, deletedBy);
      await copy.close();
    }
  }
  // Calls run faster than the group bounds: the copies caught open groups.
  assert.ok(copiesBehind > 0, 'no copy was taken while a group was open');
  checkPrefix(backend, succeeded, deletedBy);
  // After sync() the file holds everything: a crash now loses nothing.
  await backend.sync();
  const synced = crashCopy(dataDir, root, 'synced');
  assert.equal(synced.consistentIndex(), succeeded[succeeded.length - 1]);
  checkPrefix(synced, succeeded, deletedBy);
  await synced.close();
  // A group left open at close() is committed by it.
  backend.write((txn) => txn.put('key', b('last'), b('x')), 601);
  await backend.close();
  backend = new LmdbBackend({ dataDir });
  assert.equal(backend.consistentIndex(), 601);
  assert.equal(s(backend.read((txn) => txn.get('key', b('last')))), 'x');
  checkPrefix(backend, succeeded, deletedBy);
  await backend.close();
});
