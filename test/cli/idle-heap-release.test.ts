/**
 * The idle heap release collects only when the event loop was idle for IDLE_CHECKS_MIN check
 * intervals in a row, the committed heap grew by RELEASE_GROWTH_BYTES_MIN since the last
 * collection it triggered, and the pause it predicts from the live heap fits in its budget; it
 * relearns the pause rate from every collection, and starts none while its last one runs.
 * The collection itself runs in child nodes (it needs --expose-gc): it compacts, and it keeps the
 * optimised code an atomic `gc()` throws away.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  IDLE_CHECKS_MIN,
  IDLE_UTILIZATION_MAX,
  IdleHeapRelease,
  INITIAL_PAUSE_MS_PER_LIVE_MIB,
  RELEASE_GROWTH_BYTES_MIN,
  type HeapReleaseHost,
} from '../../src/cli/idle-heap-release.ts';
import { silentLogger } from '../../src/transport/index.ts';

const MiB = 1024 * 1024;
const BUDGET_MS = 500;

/**
 * A heap as a compacting collection leaves it: the garbage freed (`used` drops to `live`) and
 * the emptied pages unmapped (`committed` drops to `live` too). Each collection pauses
 * `pauseMsPerLiveMiB` for every live MiB; `knownLive` is what the host last saw survive a
 * collection (it lags `live` until the next one). A collection finishes as soon as it starts,
 * unless `finishLater` holds it until `finishCollection()`.
 */
class FakeHeap implements HeapReleaseHost {
  utilization = 0;
  committed = 20 * MiB;
  used = 20 * MiB;
  live = 20 * MiB;
  knownLive = 20 * MiB;
  pauseMsPerLiveMiB = 4;
  collections = 0;
  finishLater = false;
  private running: ((pauseMs: number) => void) | undefined;

  utilizationSinceLastCall(): number {
    return this.utilization;
  }
  committedHeapBytes(): number {
    return this.committed;
  }
  usedHeapBytes(): number {
    return this.used;
  }
  liveHeapBytes(): number {
    return this.knownLive;
  }
  startCollection(finished: (pauseMs: number) => void): void {
    assert.equal(this.running, undefined, 'a collection is already running');
    this.collections++;
    this.running = finished;
    if (!this.finishLater) this.finishCollection();
  }
  finishCollection(): void {
    const finished = this.running;
    assert.ok(finished, 'no collection is running');
    this.running = undefined;
    this.used = this.live;
    this.committed = this.live;
    this.knownLive = this.live;
    finished((this.live / MiB) * this.pauseMsPerLiveMiB);
  }
  /** A burst: the heap grows to `committed` with `used` in use, `live` of it surviving (and
   *  seen to survive V8's latest full collection). */
  burst(committed: number, used: number, live: number): void {
    this.committed = committed;
    this.used = used;
    this.live = live;
    this.knownLive = live;
  }
}

/** Runs the checks of one idle-long-enough stretch; true if any of them collected. */
function idleSecond(release: IdleHeapRelease): boolean {
  let collected = false;
  for (let i = 0; i < IDLE_CHECKS_MIN; i++) collected = release.check() || collected;
  return collected;
}

describe('idle heap release', () => {
  it('collects an idle heap that grew, once, and again after the next burst', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    heap.burst(150 * MiB, 120 * MiB, 60 * MiB);
    heap.utilization = 0.9;
    assert.equal(idleSecond(release), false, 'busy: never');
    heap.utilization = 0.01;
    assert.equal(idleSecond(release), true);
    assert.equal(heap.committed, 60 * MiB);
    assert.equal(idleSecond(release), false, 'nothing grew since');
    heap.burst(60 * MiB + RELEASE_GROWTH_BYTES_MIN - 1, 80 * MiB, 60 * MiB);
    assert.equal(idleSecond(release), false, 'grew, but less than the minimum');
    heap.burst(60 * MiB + RELEASE_GROWTH_BYTES_MIN, 80 * MiB, 60 * MiB);
    assert.equal(idleSecond(release), true, 'the next burst');
    assert.equal(heap.collections, 2);
  });

  it('waits for a whole idle second; a busy interval starts the count again', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    heap.burst(200 * MiB, 100 * MiB, 50 * MiB);
    for (let i = 1; i < IDLE_CHECKS_MIN; i++) assert.equal(release.check(), false);
    heap.utilization = 0.5;
    assert.equal(release.check(), false, 'busy');
    heap.utilization = 0;
    for (let i = 1; i < IDLE_CHECKS_MIN; i++) assert.equal(release.check(), false);
    assert.equal(release.check(), true, 'idle for IDLE_CHECKS_MIN intervals in a row');
  });

  it('counts an interval just at the utilisation bound as busy', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    heap.burst(200 * MiB, 100 * MiB, 50 * MiB);
    heap.utilization = IDLE_UTILIZATION_MAX;
    assert.equal(idleSecond(release), false);
    heap.utilization = IDLE_UTILIZATION_MAX / 2;
    assert.equal(idleSecond(release), true);
  });

  it('puts off a collection whose predicted pause exceeds the budget', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    const fittingMiB = Math.floor(BUDGET_MS / INITIAL_PAUSE_MS_PER_LIVE_MIB);
    heap.burst(400 * MiB, 300 * MiB, (fittingMiB + 1) * MiB);
    assert.equal(idleSecond(release), false, 'this much live heap would pause too long');
    assert.equal(heap.collections, 0);
    heap.knownLive = fittingMiB * MiB;
    assert.equal(idleSecond(release), true, 'this much fits');
  });

  it('predicts the next pause from the rate the last one measured', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    // The first release turns out 1.5 times as slow per live MiB as first assumed.
    heap.pauseMsPerLiveMiB = 1.5 * INITIAL_PAUSE_MS_PER_LIVE_MIB;
    heap.burst(200 * MiB, 100 * MiB, 40 * MiB);
    assert.equal(idleSecond(release), true);
    // 60 MiB fits the initial rate (x 8 ms = 480) but not the measured one (x 12 ms = 720).
    heap.burst(200 * MiB, 120 * MiB, 60 * MiB);
    assert.equal(idleSecond(release), false);
    assert.equal(heap.collections, 1);
    heap.knownLive = 40 * MiB;
    assert.equal(idleSecond(release), true, '40 MiB x 12 ms fits');
  });

  it('starts no collection while its last one runs, and learns from that one when it ends', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger, BUDGET_MS);
    heap.finishLater = true;
    heap.pauseMsPerLiveMiB = 1.5 * INITIAL_PAUSE_MS_PER_LIVE_MIB;
    heap.burst(200 * MiB, 100 * MiB, 40 * MiB);
    assert.equal(idleSecond(release), true);
    // Marking takes a while: the heap stays as it was, idle and grown, and a check finds it so.
    assert.equal(idleSecond(release), false, 'still running');
    assert.equal(heap.collections, 1);
    heap.finishCollection();
    // As in the test above: the measured rate (12 ms per MiB) now rules out 60 MiB.
    heap.burst(200 * MiB, 120 * MiB, 60 * MiB);
    assert.equal(idleSecond(release), false);
    heap.knownLive = 40 * MiB;
    assert.equal(idleSecond(release), true, 'the next one, once the first ended');
    assert.equal(heap.collections, 2);
  });
});

/** Runs a fixture in a child node with `flags`; returns its JSON line. */
function runFixture(name: string, flags: string[], args: string[] = []): unknown {
  const fixture = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const output = execFileSync(process.execPath, [...flags, '--import', 'tsx', fixture, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(output);
}

describe('the release collection', () => {
  it('gives back pages a plain full collection keeps (V8 honours the flag switched at run time)', () => {
    const { plain, compacted } = runFixture('fragmented-heap.ts', ['--expose-gc']) as {
      plain: number;
      compacted: number;
    };
    // Half of every page is free after the plain collections; measured 82 -> 65 MB.
    assert.ok(plain - compacted >= 8 * MiB, `committed ${plain} -> ${compacted} bytes`);
  });

  it('keeps optimised code whose objects all died, which an atomic gc() throws away', () => {
    const flags = ['--expose-gc', '--allow-natives-syntax'];
    // The hazard is real in this node: without it the second assertion would prove nothing.
    assert.deepEqual(runFixture('optimised-code.ts', flags, ['atomic']), {
      before: true,
      after: false,
    });
    assert.deepEqual(runFixture('optimised-code.ts', flags, ['release']), {
      before: true,
      after: true,
    });
  });
});
