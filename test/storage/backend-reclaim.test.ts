/**
 * Online space reclaim: reads and writes keep going while LmdbBackend.reclaimSpace() copies
 * the file, nothing written during the copy is lost (also across reopen), and the file shrinks.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LmdbBackend } from '../../src/storage/index.ts';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);

test('reclaimSpace shrinks the file without stopping reads or writes', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigil-reclaim-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let backend = new LmdbBackend({ dataDir });
  const value = new Uint8Array(1024).fill(1);
  let index = 0;
  for (let batch = 0; batch < 40; batch++) {
    backend.write((txn) => {
      for (let i = 0; i < 1000; i++) txn.put('key', b(`k${batch * 1000 + i}`), value);
    }, ++index);
  }
  // The backend groups writes into one LMDB transaction until sync() (or its commit bounds):
  // commit the fill on its own so the file reaches its high-water mark.
  await backend.sync();
  // Delete 95 %: LMDB keeps the file at its high-water mark.
  backend.write((txn) => {
    for (let i = 0; i < 40_000; i++) if (i % 20 !== 0) txn.delete('key', b(`k${i}`));
  }, ++index);
  await backend.sync();
  const before = backend.size();
  assert.ok(before.sizeBytes > 30_000_000, `file at high-water mark: ${before.sizeBytes}`);

  let done = false;
  const started = performance.now();
  let turnGapMsMax = 0;
  let lastTurn = performance.now();
  const reclaim = backend.reclaimSpace().finally(() => (done = true));
  let writesDuring = 0;
  let readsDuring = 0;
  while (!done) {
    // One write batch and some reads per event-loop turn, interleaved with the copy.
    const key = b(`during${writesDuring}`);
    backend.write((txn) => {
      txn.put('key', key, b(`v${writesDuring}`));
      txn.delete('key', b(`k${writesDuring * 20}`));
    }, ++index);
    writesDuring++;
    assert.ok(backend.read((txn) => txn.get('key', key)) !== undefined);
    assert.ok(
      backend.read((txn) => txn.get('key', b('k39980'))) !== undefined || writesDuring > 1999,
    );
    readsDuring += 2;
    await new Promise((resolve) => setImmediate(resolve));
    turnGapMsMax = Math.max(turnGapMsMax, performance.now() - lastTurn);
    lastTurn = performance.now();
  }
  const report = await reclaim;
  assert.ok(writesDuring > 10, 'writes ran while the copy was in progress');
  // Generous for slow CI disks; a stop-the-world copy of this file takes seconds.
  assert.ok(turnGapMsMax < 1_000, `event loop blocked for ${turnGapMsMax} ms`);
  const elapsedMs = performance.now() - started;
  t.diagnostic(
    `reclaim ${elapsedMs.toFixed(0)} ms; writes during: ${writesDuring}, reads: ${readsDuring}`,
  );
  t.diagnostic(`longest event-loop turn during reclaim: ${turnGapMsMax.toFixed(1)} ms`);
  t.diagnostic(`size ${report.sizeBeforeBytes} -> ${report.sizeAfterBytes}`);
  assert.ok(report.sizeAfterBytes < report.sizeBeforeBytes / 4, 'the file shrank');

  const check = (backend: LmdbBackend): void => {
    assert.equal(backend.consistentIndex(), index);
    for (let i = 0; i < writesDuring; i++) {
      const got = backend.read((txn) => txn.get('key', b(`during${i}`)));
      assert.equal(new TextDecoder().decode(got), `v${i}`, `write ${i} during reclaim survived`);
      assert.equal(
        backend.read((txn) => txn.get('key', b(`k${i * 20}`))),
        undefined,
      );
    }
    const live = backend.read((txn) => txn.range('key', b('k'), b('l')));
    assert.equal(live.length, 2000 - Math.min(writesDuring, 2000));
  };
  check(backend);
  backend.write((txn) => txn.put('key', b('after'), b('x')), ++index);
  await backend.close();
  backend = new LmdbBackend({ dataDir });
  check(backend);
  assert.ok(backend.read((txn) => txn.get('key', b('after'))) !== undefined);
  await backend.close();
});
