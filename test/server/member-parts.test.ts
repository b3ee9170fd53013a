import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRequest, encodeRequest } from '../../src/server/request.ts';
import { ProposalRegistry } from '../../src/server/proposal-registry.ts';
import { ReadIndexBatcher } from '../../src/server/read-index-batcher.ts';
import { RequestIdGenerator } from '../../src/server/request-id.ts';
import { isServerError } from '../../src/server/index.ts';
import { ManualClock, settle } from '../support/test-clock.ts';

describe('request encoding', () => {
  it('round-trips bytes (including Buffers), bigints and nested txns', () => {
    const encoded = encodeRequest({
      id: 0xfedcba9876543210n,
      request: {
        kind: 'txn',
        txn: {
          compare: [
            {
              key: Buffer.from('k'),
              target: 'VALUE',
              result: 'EQUAL',
              value: new Uint8Array([0, 255]),
            },
          ],
          success: [
            { requestTxn: { success: [{ requestPut: { key: new Uint8Array([1]), lease: 5n } }] } },
          ],
          failure: [],
        },
      },
    });
    const decoded = decodeRequest(encoded);
    assert.equal(decoded.id, 0xfedcba9876543210n);
    assert.equal(decoded.request.kind, 'txn');
    if (decoded.request.kind !== 'txn') return;
    const compare = decoded.request.txn.compare![0];
    assert.deepEqual(compare.key, new Uint8Array(Buffer.from('k')));
    assert.ok(compare.key instanceof Uint8Array);
    assert.deepEqual(compare.value, new Uint8Array([0, 255]));
    const nested = decoded.request.txn.success![0];
    assert.ok('requestTxn' in nested);
    assert.deepEqual(nested.requestTxn.success, [
      { requestPut: { key: new Uint8Array([1]), lease: 5n } },
    ]);
  });

  it('round-trips lease ids above 2^53', () => {
    const decoded = decodeRequest(
      encodeRequest({ id: 1n, request: { kind: 'leaseRevoke', id: (1n << 62n) + 1n } }),
    );
    assert.deepEqual(decoded.request, { kind: 'leaseRevoke', id: (1n << 62n) + 1n });
  });
});

describe('request ids', () => {
  it("carry the member id's low 16 bits and never repeat", () => {
    const generator = new RequestIdGenerator(0xabcd1234n, 1_700_000_000_000);
    const seen = new Set<bigint>();
    for (let i = 0; i < 1000; i++) {
      const id = generator.next();
      assert.equal(id >> 48n, 0x1234n);
      assert.ok(!seen.has(id));
      seen.add(id);
    }
  });
});

describe('ProposalRegistry', () => {
  it('times out, fails on request, and settles once', async () => {
    const clock = new ManualClock();
    const registry = new ProposalRegistry(clock, 1000);
    const slow = registry.register(1n);
    const failed = registry.register(2n);
    const settled = registry.register<number>(3n);
    registry.fail(2n, 'leader-changed');
    registry.settle(3n, { ok: true, value: 42 });
    registry.settle(3n, { ok: true, value: 43 });
    clock.advance(1000);
    await assert.rejects(
      slow,
      (error: unknown) => isServerError(error) && error.code === 'timed-out',
    );
    await assert.rejects(
      failed,
      (error: unknown) => isServerError(error) && error.code === 'leader-changed',
    );
    assert.equal(await settled, 42);
    assert.equal(registry.size, 0);
  });

  it('times each request out a full timeout after it registered, with one timer', async () => {
    const clock = new ManualClock();
    const registry = new ProposalRegistry(clock, 1000);
    const outcomes = new Map<bigint, string>();
    const track = (id: bigint): void => {
      registry.register(id).then(
        () => outcomes.set(id, 'settled'),
        (error: unknown) => outcomes.set(id, isServerError(error) ? error.code : 'other'),
      );
    };
    track(1n);
    clock.advance(300);
    track(2n);
    clock.advance(300);
    track(3n);
    assert.equal(clock.pendingTimers, 1, 'one timer for every waiter');
    registry.settle(1n, { ok: true, value: null });
    clock.advance(399); // t = 999: nobody's timeout has run out
    await settle(2);
    assert.deepEqual([...outcomes], [[1n, 'settled']]);
    clock.advance(301); // t = 1300: the second's has (registered at 300), not the third's
    await settle(2);
    assert.equal(outcomes.get(2n), 'timed-out');
    assert.equal(outcomes.has(3n), false);
    clock.advance(299);
    await settle(2);
    assert.equal(outcomes.has(3n), false, 'the third waits until t = 1600');
    clock.advance(1);
    await settle(2);
    assert.equal(outcomes.get(3n), 'timed-out');
    assert.equal(clock.pendingTimers, 0, 'no timer left once nobody waits');
  });

  it('keeps its timer through a settle that leaves nobody waiting, and drops it on failAll', () => {
    const clock = new ManualClock();
    const registry = new ProposalRegistry(clock, 1000);
    for (const id of [1n, 2n, 3n]) {
      void registry.register(id);
      registry.settle(id, { ok: true, value: null });
    }
    assert.equal(clock.pendingTimers, 1, 'one timer, set by the first request, for all three');
    clock.advance(1000);
    assert.equal(clock.pendingTimers, 0, 'it ran out with nobody waiting and stayed off');
    registry.register(4n).catch(() => undefined);
    registry.failAll('stopped');
    assert.equal(clock.pendingTimers, 0, 'a stopped registry leaves no timer');
  });
});

/** A batcher whose ReadIndex requests land in `contexts` (raft never refuses them). */
function recordingBatcher(options: {
  clock?: ManualClock;
  memberId?: bigint;
  startedAtWallMs?: number;
  appliedIndex?: () => number;
  timeoutMs?: number;
}): { batcher: ReadIndexBatcher; contexts: Uint8Array[] } {
  const contexts: Uint8Array[] = [];
  const batcher = new ReadIndexBatcher(
    options.clock ?? new ManualClock(),
    {
      memberId: options.memberId ?? 0x1234n,
      startedAtWallMs: options.startedAtWallMs ?? 1_700_000_000_000,
      requestReadIndex: (context) => {
        contexts.push(context);
        return null;
      },
      appliedIndex: options.appliedIndex ?? (() => 0),
    },
    500,
    options.timeoutMs ?? 5000,
  );
  return { batcher, contexts };
}

describe('ReadIndexBatcher', () => {
  it('shares one ReadIndex round among the reads that arrive while one is in flight', async () => {
    let applied = 0;
    const { batcher, contexts } = recordingBatcher({ appliedIndex: () => applied });
    let done = 0;
    const first = batcher.wait().then(() => done++);
    const others = Array.from({ length: 10 }, () => batcher.wait().then(() => done++));
    assert.equal(contexts.length, 1, 'the first read starts a round');
    batcher.onReadState(contexts[0], 7);
    assert.equal(contexts.length, 2, 'the reads that queued meanwhile get the next round');
    await settle();
    assert.equal(done, 0, 'nothing released before index 7 is applied');
    applied = 7;
    batcher.onApplied(7);
    await first;
    batcher.onReadState(contexts[1], 7);
    await Promise.all(others);
    assert.equal(done, 11);
  });

  it('retries a round that got no answer and fails reads past their deadline', async () => {
    const clock = new ManualClock();
    const { batcher, contexts } = recordingBatcher({ clock, timeoutMs: 1200 });
    const read = batcher.wait();
    clock.advance(500);
    assert.equal(contexts.length, 2, 'retried with a fresh context');
    clock.advance(1000);
    await assert.rejects(
      read,
      (error: unknown) => isServerError(error) && error.code === 'timed-out',
    );
  });

  it('gives every member its own contexts, so a leader never mistakes one for a repeat', () => {
    // The leader ignores a ReadIndex whose context is already pending; two followers whose
    // contexts collided lost one of their rounds to the retry timeout.
    const clock = new ManualClock();
    const firstContexts = [0x0an, 0x0bn, 0xfedcba9876543210n].map((memberId) => {
      const { batcher, contexts } = recordingBatcher({ clock, memberId });
      void batcher.wait().catch(() => undefined);
      batcher.stop();
      return Buffer.from(contexts[0]).toString('hex');
    });
    assert.equal(new Set(firstContexts).size, 3, `distinct: ${firstContexts.join(' ')}`);
    assert.ok(firstContexts[2].startsWith('fedcba9876543210'), 'the member id leads the context');
  });

  it('never repeats a context across a restart of the same member', async () => {
    // An earlier incarnation's round may still be pending at the leader; if the restarted
    // member reused its context, the old (lower) read index would answer the new round.
    const contextsOf = (startedAtWallMs: number, rounds: number): bigint[] => {
      const { batcher, contexts: raw } = recordingBatcher({ startedAtWallMs });
      const counter = (context: Uint8Array): bigint => Buffer.from(context).readBigUInt64BE(8);
      for (let round = 0; round < rounds; round++) {
        void batcher.wait().catch(() => undefined);
        // Answer the round in flight so the next wait starts a new one.
        batcher.onReadState(raw[raw.length - 1], 0);
      }
      batcher.stop();
      return raw.map(counter);
    };
    const before = contextsOf(1_700_000_000_000, 1000);
    const after = contextsOf(1_700_000_000_005, 10);
    assert.equal(new Set(before).size, 1000, 'each round its own context');
    assert.ok(after[0] > before[before.length - 1], `restart starts past ${before.at(-1)}`);
  });
});
