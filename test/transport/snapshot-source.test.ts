/**
 * Snapshot data that is not in the message: read from the sender's registered source when the
 * MsgSnap leaves, written to the receiver's sink, and delivered to raft only after the sink
 * made it durable (etcd's merged snapshot message).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { asTerm, bytesEqual } from '../../src/base/index.ts';
import type { SnapshotSink, SnapshotStreams } from '../../src/transport/index.ts';
import {
  connectAll,
  message,
  snapshotOf,
  startNode,
  waitFor,
  type Node,
} from './transport-fixtures.ts';

const TEST_TIMEOUT_MS = 20_000;
const MARKER = Uint8Array.of(9, 9, 9);

/** Chunks of uneven sizes (some above the transport's chunk size), position-dependent bytes. */
function sourceChunks(): Uint8Array[] {
  const sizes = [1, 70_000, 300_000, 5, 1_000_000];
  let next = 0;
  return sizes.map((size) => {
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) chunk[i] = (next++ * 31) & 0xff;
    return chunk;
  });
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

interface Recorder {
  opened: number;
  closed: number;
  readonly written: Uint8Array[];
  committed: boolean;
  aborted: boolean;
  /** Whether the MsgSnap had been delivered when the sink committed. */
  deliveredBeforeCommit: boolean | null;
}

function streams(
  receiver: () => Node,
  recorder: Recorder,
  behaviour: { failSourceAfter?: number; failCommit?: boolean } = {},
): SnapshotStreams {
  return {
    outgoing() {
      recorder.opened++;
      return (async function* () {
        try {
          let produced = 0;
          for (const chunk of sourceChunks()) {
            if (produced === behaviour.failSourceAfter) throw new Error('disk read failed');
            yield chunk;
            produced++;
          }
        } finally {
          recorder.closed++;
        }
      })();
    },
    async incoming(): Promise<SnapshotSink> {
      return {
        async write(chunk) {
          recorder.written.push(chunk.slice());
        },
        async commit() {
          recorder.deliveredBeforeCommit = receiver().received.some((m) => m.type === 'MsgSnap');
          if (behaviour.failCommit === true) throw new Error('fsync failed');
          recorder.committed = true;
          return MARKER;
        },
        async abort() {
          recorder.aborted = true;
        },
      };
    },
  };
}

function newRecorder(): Recorder {
  return {
    opened: 0,
    closed: 0,
    written: [],
    committed: false,
    aborted: false,
    deliveredBeforeCommit: null,
  };
}

async function pairWithStreams(
  t: TestContext,
  behaviour: { failSourceAfter?: number; failCommit?: boolean } = {},
): Promise<{ a: Node; b: Node; recorder: Recorder }> {
  const a = await startNode(1, { limits: { snapshotChunkBytes: 64 * 1024 } });
  const b = await startNode(2);
  t.after(() => Promise.all([a.transport.stop(), b.transport.stop()]));
  const recorder = newRecorder();
  const both = streams(() => b, recorder, behaviour);
  a.transport.setSnapshotStreams(both);
  b.transport.setSnapshotStreams(both);
  connectAll([a, b]);
  a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
  await waitFor('stream up', () => b.received.length === 1);
  return { a, b, recorder };
}

function snapMessage(a: Node, b: Node) {
  // The message's own data is not what travels: the source is.
  return message('MsgSnap', a.id, b.id, {
    term: asTerm(2),
    snapshot: snapshotOf(Uint8Array.of(1, 2, 3), [a.id, b.id]),
  });
}

test(
  'the data is read from the source when the snapshot is sent and spooled before delivery',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { a, b, recorder } = await pairWithStreams(t);
    const snap = snapMessage(a, b);
    a.transport.send([snap]);
    await waitFor('snapshot status', () => a.snapshotStatuses.length === 1);
    assert.deepEqual(a.snapshotStatuses, [{ peer: b.id, ok: true }]);
    assert.ok(bytesEqual(concat(recorder.written), concat(sourceChunks())), 'spooled bytes');
    assert.equal(recorder.deliveredBeforeCommit, false, 'raft sees it only after the commit');
    const delivered = b.received.find((m) => m.type === 'MsgSnap');
    assert.ok(delivered?.snapshot != null);
    assert.deepEqual(delivered.snapshot.data, MARKER, 'raft gets what the sink returned');
    assert.deepEqual(delivered.snapshot.metadata, snap.snapshot?.metadata);
    assert.equal(recorder.opened, 1);
    await waitFor('source closed', () => recorder.closed === 1);
    assert.equal(recorder.aborted, false);
  },
);

test(
  'a source that fails mid-stream fails the snapshot and the receiver drops what it spooled',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { a, b, recorder } = await pairWithStreams(t, { failSourceAfter: 2 });
    a.transport.send([snapMessage(a, b)]);
    await waitFor('snapshot status', () => a.snapshotStatuses.length === 1);
    assert.deepEqual(a.snapshotStatuses, [{ peer: b.id, ok: false }]);
    await waitFor('spool aborted', () => recorder.aborted);
    assert.equal(recorder.committed, false);
    assert.equal(
      b.received.some((m) => m.type === 'MsgSnap'),
      false,
    );
  },
);

test(
  'a sink that cannot make the data durable refuses the snapshot; nothing reaches raft',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { a, b, recorder } = await pairWithStreams(t, { failCommit: true });
    a.transport.send([snapMessage(a, b)]);
    await waitFor('snapshot status', () => a.snapshotStatuses.length === 1);
    assert.deepEqual(a.snapshotStatuses, [{ peer: b.id, ok: false }]);
    assert.equal(
      b.received.some((m) => m.type === 'MsgSnap'),
      false,
    );
    assert.ok(b.logger.has('error', 'spooling a snapshot failed'));
    await waitFor('spool dropped', () => recorder.aborted);
    assert.equal(recorder.committed, false);
    // The connection survives a refused snapshot: later messages still arrive.
    a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
    await waitFor('heartbeat after refusal', () => b.received.length === 2);
  },
);
