/**
 * A put naming a lease that is no integer must fail like any unknown lease. It once threw
 * inside apply (BigInt(NaN)), stopping every member and again at every replay of the committed
 * entry (member world finding 7, test/sim/FINDINGS.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerError } from '../../src/server/index.ts';
import { bytes, TestCluster, text } from './member-fixture.ts';

test('a put or txn with a non-integer lease is refused as lease-not-found and the member lives on', async () => {
  const cluster = await TestCluster.start(1);
  const member = cluster.member(0);
  // Not bigints (the type says so, the wire may not): an entry written by an older encoder.
  for (const lease of [Number.NaN, 1.5] as unknown as bigint[]) {
    await assert.rejects(
      cluster.drive(member.put({ key: bytes('k'), value: bytes('v'), lease })),
      (error: unknown) => error instanceof ServerError && error.code === 'lease-not-found',
    );
    await assert.rejects(
      cluster.drive(
        member.txn({ success: [{ requestPut: { key: bytes('k'), value: bytes('v'), lease } }] }),
      ),
      (error: unknown) => error instanceof ServerError && error.code === 'lease-not-found',
    );
  }
  assert.equal(member.failed, null);
  await cluster.drive(member.put({ key: bytes('k'), value: bytes('after') }));
  const read = await cluster.drive(member.range({ key: bytes('k') }));
  assert.equal(text(read.kvs[0].value), 'after');
  await cluster.stopAll();
});
