import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/index.ts';
import { ReconnectBackoff } from '../../src/transport/reconnect-backoff.ts';

test('backoff doubles per failure, stays within [ceiling/2, ceiling] and is capped', () => {
  const backoff = new ReconnectBackoff(
    { initialDelayMs: 100, maxDelayMs: 3000 },
    new SeededRandom(1),
  );
  const ceilings = [100, 200, 400, 800, 1600, 3000, 3000, 3000];
  for (const ceilingMs of ceilings) {
    const delayMs = backoff.nextDelayMs();
    assert.ok(
      delayMs >= ceilingMs / 2 && delayMs <= ceilingMs,
      `${delayMs} for ceiling ${ceilingMs}`,
    );
  }
  for (let i = 0; i < 100; i++)
    assert.ok(backoff.nextDelayMs() <= 3000, 'no overflow after a long outage');
});

test('reset starts the next outage from the initial delay', () => {
  const backoff = new ReconnectBackoff(
    { initialDelayMs: 100, maxDelayMs: 3000 },
    new SeededRandom(2),
  );
  for (let i = 0; i < 10; i++) backoff.nextDelayMs();
  backoff.reset();
  assert.ok(backoff.nextDelayMs() <= 100);
});

test('jitter spreads members that lost the same peer at the same moment', () => {
  const delays = new Set<number>();
  for (let seed = 0; seed < 20; seed++) {
    const backoff = new ReconnectBackoff(
      { initialDelayMs: 1000, maxDelayMs: 1000 },
      new SeededRandom(seed),
    );
    delays.add(backoff.nextDelayMs());
  }
  assert.ok(delays.size >= 15, `only ${delays.size} distinct delays from 20 members`);
});
