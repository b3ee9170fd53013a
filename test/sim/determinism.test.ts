import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate, type SimulateRequest } from './simulate.ts';

async function assertReplays(request: SimulateRequest): Promise<string> {
  const first = await simulate(request);
  const second = await simulate(request);
  const name = `seed ${request.seed}${request.disk === undefined ? '' : ` --disk ${request.disk}`}`;
  assert.equal(second.traceHash, first.traceHash, `${name} diverged`);
  assert.equal(second.steps, first.steps);
  assert.equal(second.opsChecked, first.opsChecked);
  return first.description;
}

test('simulator: a seed replays exactly (20 swarm seeds, run twice)', async () => {
  const disks = new Set<string>();
  for (let seed = 500; seed < 520; seed++) {
    const description = await assertReplays({ seed });
    disks.add(/disk=(\w+)/.exec(description)?.[1] ?? '?');
  }
  assert.deepEqual([...disks].sort(), ['model', 'wal'], 'the swarm drew both disks');
});

test('simulator: a seed replays exactly on the real WAL disk (crashes, torn writes, bit rot)', async () => {
  let sawRot = false;
  for (let seed = 520; seed < 526; seed++) {
    await assertReplays({ seed, disk: 'wal' });
    sawRot ||= ((await simulate({ seed, disk: 'wal' })).stats['bit-rot'] ?? 0) > 0;
  }
  assert.ok(sawRot, 'some replayed seed injected corruption');
});

test('simulator: different seeds give different traces', async () => {
  const hashes = new Set<string>();
  for (let seed = 0; seed < 20; seed++) hashes.add((await simulate({ seed })).traceHash);
  assert.equal(hashes.size, 20);
});

test('simulator: the kept trace is the hashed one', async () => {
  const withLines = await simulate({ seed: 3, keepTrace: true });
  const without = await simulate({ seed: 3 });
  assert.equal(withLines.traceHash, without.traceHash);
  assert.ok(withLines.trace !== null && withLines.trace.length > 100);
  assert.ok(withLines.trace.some((line) => line.includes('deliver MsgApp')));
  assert.ok(withLines.trace.some((line) => line.includes('call c0')));
});
