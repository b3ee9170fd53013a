/**
 * The idle heap release collects only when the event loop was idle and the committed heap grew
 * by RELEASE_GROWTH_BYTES_MIN since the last collection it triggered, and keeps collecting at
 * idle checks only while each collection frees RELEASE_AGAIN_BYTES_MIN.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  IDLE_UTILIZATION_MAX,
  IdleHeapRelease,
  RELEASE_AGAIN_BYTES_MIN,
  RELEASE_GROWTH_BYTES_MIN,
  type HeapReleaseHost,
} from '../../src/cli/idle-heap-release.ts';
import { silentLogger } from '../../src/transport/index.ts';

const MiB = 1024 * 1024;

/**
 * A heap as V8 keeps it: a collection frees the garbage (`used` drops to `live`), and the pages
 * it emptied are unmapped only at the next collection (`committed` drops then).
 */
class FakeHeap implements HeapReleaseHost {
  utilization = 0;
  committed = 20 * MiB;
  used = 20 * MiB;
  live = 20 * MiB;
  collections = 0;
  private usedAfterLastCollection: number | undefined;

  utilizationSinceLastCall(): number {
    return this.utilization;
  }
  committedHeapBytes(): number {
    return this.committed;
  }
  usedHeapBytes(): number {
    return this.used;
  }
  collect(): void {
    this.collections++;
    if (this.usedAfterLastCollection !== undefined) {
      this.committed = Math.max(this.used, this.usedAfterLastCollection);
    }
    this.used = this.live;
    this.usedAfterLastCollection = this.used;
  }
  nowMs(): number {
    return 0;
  }
}

describe('idle heap release', () => {
  it('collects an idle heap that grew, twice, and again after the next burst', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger);
    heap.utilization = 0.9;
    heap.committed = 150 * MiB;
    heap.used = 120 * MiB;
    heap.live = 60 * MiB;
    assert.equal(release.check(), false, 'busy: never');
    heap.utilization = 0.01;
    assert.equal(release.check(), true);
    assert.equal(heap.committed, 150 * MiB, 'freed, not yet unmapped');
    assert.equal(release.check(), true, 'the first freed 60 MiB: once more');
    assert.equal(heap.committed, 60 * MiB);
    assert.equal(release.check(), false, 'the second freed nothing');
    heap.committed = 60 * MiB + RELEASE_GROWTH_BYTES_MIN - 1;
    heap.used = heap.committed;
    assert.equal(release.check(), false, 'grew, but less than the minimum');
    heap.committed = 60 * MiB + RELEASE_GROWTH_BYTES_MIN;
    assert.equal(release.check(), true, 'the next burst');
    assert.equal(heap.collections, 3);
  });

  it('repeats only while a collection frees enough, and not while busy', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger);
    heap.committed = 200 * MiB;
    heap.used = 60 * MiB + RELEASE_AGAIN_BYTES_MIN;
    heap.live = 60 * MiB;
    assert.equal(release.check(), true);
    heap.utilization = 0.5;
    assert.equal(release.check(), false, 'busy: waits');
    heap.utilization = 0;
    heap.used = 60 * MiB + RELEASE_AGAIN_BYTES_MIN - 1;
    assert.equal(release.check(), true, 'the previous one freed enough');
    assert.equal(release.check(), false, 'this one freed too little');
    assert.equal(heap.collections, 2);
  });

  it('counts a second just at the utilisation bound as busy', () => {
    const heap = new FakeHeap();
    const release = new IdleHeapRelease(heap, silentLogger);
    heap.committed = 200 * MiB;
    heap.utilization = IDLE_UTILIZATION_MAX;
    assert.equal(release.check(), false);
    heap.utilization = IDLE_UTILIZATION_MAX / 2;
    assert.equal(release.check(), true);
  });
});
