/**
 * A member handed `env.schedule` must run all its background work through it, so the
 * simulator, not a real event-loop turn, decides when that work happens. The WAL's group-commit
 * yield once ignored it and always waited for a setImmediate (member world finding, see
 * test/sim/FINDINGS.md): a simulated member then wrote its WAL at a time the world did not
 * choose.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asMemberId, SeededRandom } from '../../src/base/index.ts';
import { memberConfigDefaults, startMember } from '../../src/server/index.ts';
import { FaultyFileSystem, MemoryBackend } from '../../src/storage/index.ts';
import { silentLogger } from '../../src/transport/index.ts';
import { MemoryPeerNetwork } from '../support/memory-peer-network.ts';
import { ManualClock, settle } from '../support/test-clock.ts';
import { bytes, CLUSTER_ID, text } from './member-fixture.ts';

test('with an injected schedule, no member code asks the event loop for a turn', async () => {
  const id = asMemberId(0x2001n);
  const clock = new ManualClock();
  const tasks: (() => void)[] = [];
  const fromSource: string[] = [];
  const realSetImmediate = globalThis.setImmediate;
  // Counts the setImmediate calls made from production code (settle() below makes its own).
  globalThis.setImmediate = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    const stack = new Error().stack ?? '';
    if (stack.includes('/src/')) fromSource.push(stack.split('\n').slice(2, 4).join(' '));
    return realSetImmediate(callback, ...args);
  }) as typeof setImmediate;
  try {
    const config = memberConfigDefaults(
      {
        name: 'solo',
        dataDir: '/data/solo',
        memberId: id,
        clusterId: CLUSTER_ID,
        initialCluster: [{ id, name: 'solo', peerUrls: ['http://solo:2380'] }],
        clientUrls: ['http://solo:2379'],
      },
      { walSegmentBytes: 64 * 1024 },
    );
    const member = await startMember(config, {
      clock,
      random: new SeededRandom(7),
      fs: new FaultyFileSystem(new SeededRandom(8)),
      backend: new MemoryBackend(),
      transport: new MemoryPeerNetwork().transport(id),
      logger: silentLogger,
      wallClockMs: () => 1_700_000_000_000,
      schedule: (task) => void tasks.push(task),
    });
    let done = false;
    const put = member.put({ key: bytes('k'), value: bytes('v') }).finally(() => (done = true));
    for (let round = 0; round < 200 && !done; round++) {
      clock.advance(50);
      await settle(2);
      while (tasks.length > 0) tasks.shift()!();
      await settle(2);
    }
    await put;
    const read = await member.range({ key: bytes('k'), serializable: true });
    assert.equal(text(read.kvs[0].value), 'v');
    assert.ok(tasks.length === 0 || done);
    const stopped = member.stop();
    while (tasks.length > 0) tasks.shift()!();
    await stopped;
  } finally {
    globalThis.setImmediate = realSetImmediate;
  }
  assert.deepEqual(fromSource, [], 'setImmediate called from src/ despite env.schedule');
});
