/**
 * A backend streamed by the leader holds the leader's state when it was read, which may be
 * ahead of the raft snapshot it travels with; raft then hands the follower committed entries
 * the restored backend already holds. The state machine must skip them (by the consistent
 * index), within a batch as well as whole batches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asTerm } from '../../src/base/index.ts';
import type { Entry } from '../../src/raft/index.ts';
import { encodeRequest } from '../../src/server/request.ts';
import { StateMachine } from '../../src/server/state-machine.ts';
import { MemoryBackend } from '../../src/storage/index.ts';
import { ManualClock } from '../support/test-clock.ts';

const encoder = new TextEncoder();

function putEntry(index: number): Entry {
  const request = {
    kind: 'put',
    put: { key: encoder.encode(`k${index}`), value: encoder.encode('v') },
  } as const;
  return {
    index: asLogIndex(index),
    term: asTerm(1),
    type: 'normal',
    data: encodeRequest({ id: BigInt(index), request }),
  };
}

const range = (from: number, to: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => putEntry(from + i));

function stateMachine(backend: MemoryBackend): StateMachine {
  return new StateMachine({
    backend,
    clock: new ManualClock(),
    minLeaseTtlSeconds: 5,
    schedule: (task) => setImmediate(task),
  });
}

test('entries at or below a restored backend’s consistent index are not applied again', async () => {
  const leader = stateMachine(new MemoryBackend());
  const noHooks = { confChange: () => {}, applied: () => {} };
  leader.applyEntries(range(1, 8), noHooks);
  assert.equal(leader.kv.currentRevision, 9);

  const follower = stateMachine(new MemoryBackend());
  await follower.restore(leader.backendSnapshot());
  assert.equal(follower.appliedIndex, 8);
  // As after installing a raft snapshot at index 5: raft re-delivers 6.. in one batch that
  // straddles the consistent index, then a batch wholly below it, then new entries.
  const applied: bigint[] = [];
  const hooks = { confChange: () => {}, applied: (id: bigint) => void applied.push(id) };
  follower.applyEntries(range(6, 10), hooks);
  follower.applyEntries(range(7, 8), hooks);
  follower.applyEntries(range(11, 11), hooks);
  assert.equal(follower.appliedIndex, 11);
  assert.equal(follower.kv.currentRevision, 12, 'one revision per entry, none twice');
  assert.deepEqual(applied, [9n, 10n, 11n], 'only entries above the backend settle waiters');
  leader.applyEntries(range(9, 11), noHooks);
  assert.equal(leader.kv.currentRevision, follower.kv.currentRevision);
});
