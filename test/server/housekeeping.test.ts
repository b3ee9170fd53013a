/**
 * Publishing a member's name and client URLs (etcd's publish): it starts as soon as a leader is
 * known, not at the next 500 ms round, happens once, and is retried by the rounds when the
 * proposal fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lessor } from '../../src/lease/index.ts';
import { Housekeeping, HOUSEKEEPING_INTERVAL_MS } from '../../src/server/housekeeping.ts';
import type { InternalRequest } from '../../src/server/request.ts';
import { silentLogger } from '../../src/transport/index.ts';
import { ManualClock, settle } from '../support/test-clock.ts';

function fixture(outcomes: boolean[]) {
  const clock = new ManualClock();
  const proposed: InternalRequest[] = [];
  const housekeeping = new Housekeeping({
    clock,
    logger: silentLogger,
    memberId: 7n,
    name: 'sigil7',
    clientUrls: ['http://127.0.0.1:2379'],
    quotaBackendBytes: Number.MAX_SAFE_INTEGER,
    hasLeader: () => true,
    isLeader: () => false,
    lessor: () => new Lessor({ minTtlSeconds: 2 }),
    backendSizeBytes: () => 0,
    propose: (request) => {
      proposed.push(request);
      return outcomes.shift() === false
        ? Promise.reject(new Error('no leader'))
        : Promise.resolve();
    },
  });
  return { clock, proposed, housekeeping };
}

describe('housekeeping publishes the member', () => {
  it('as soon as a leader is known, once', async () => {
    const { clock, proposed, housekeeping } = fixture([true]);
    housekeeping.start();
    housekeeping.leaderKnown();
    assert.equal(proposed.length, 0, 'not from inside the raft loop');
    clock.advance(0);
    await settle();
    assert.deepEqual(proposed, [
      {
        kind: 'memberAttributes',
        memberId: 7n,
        name: 'sigil7',
        clientUrls: ['http://127.0.0.1:2379'],
      },
    ]);
    housekeeping.leaderKnown();
    clock.advance(3 * HOUSEKEEPING_INTERVAL_MS);
    await settle();
    assert.equal(proposed.length, 1);
    housekeeping.stop();
  });

  it('again at the next round when the proposal failed', async () => {
    const { clock, proposed, housekeeping } = fixture([false, true]);
    housekeeping.start();
    housekeeping.leaderKnown();
    clock.advance(0);
    await settle();
    assert.equal(proposed.length, 1);
    clock.advance(HOUSEKEEPING_INTERVAL_MS);
    await settle();
    assert.equal(proposed.length, 2);
    clock.advance(3 * HOUSEKEEPING_INTERVAL_MS);
    await settle();
    assert.equal(proposed.length, 2);
    housekeeping.stop();
  });

  it('not after it stopped', async () => {
    const { clock, proposed, housekeeping } = fixture([true]);
    housekeeping.start();
    housekeeping.leaderKnown();
    housekeeping.stop();
    clock.advance(3 * HOUSEKEEPING_INTERVAL_MS);
    await settle();
    assert.equal(proposed.length, 0);
  });
});
