/**
 * Gives back the memory a burst of load left behind, once the member goes quiet.
 *
 * Under load V8 lets the old generation grow to several times what survives a collection (on
 * this project's 24 GiB test machine: 131 MB committed for ~50 MB live after 100,000 puts), and
 * it only shrinks the heap after a full collection. An idle member makes no garbage, so none
 * comes: measured, an idle member kept that memory for minutes. V8's memory reducer, which
 * collects idle heaps in browsers, does not run here. So once a second this checks the event
 * loop: if it was busy less than 5 % of the last second and the committed heap grew by 32 MiB
 * since the last collection this triggered, it runs a full collection, and another at each
 * idle second while the previous one freed at least 8 MiB. The second matters: V8 unmaps the
 * pages a collection emptied only at the next one (traced after a 100,000-key fill: the first
 * took the heap from 117 to 52 MB used with 155 MB still committed, the second committed 142 ->
 * 111 MB). A member under steady load is never idle; an idle one stops collecting after a
 * collection that freed nothing worth another pause.
 *
 * The collection pauses the member (about 0.1 s per 100 MB of heap, measured 76-187 ms after a
 * 100,000-key fill), so it is enabled only with election timeouts of 500 ms or more; `gc` is
 * V8's, exposed by the --expose-gc that bin/sigild passes to node. Without it nothing runs.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../server/index.ts';

export const IDLE_CHECK_INTERVAL_MS = 1000;
/** Event-loop utilisation below which a second counts as idle (heartbeats are ~0.1 %). */
export const IDLE_UTILIZATION_MAX = 0.05;
/** Committed-heap growth since the last release that makes a release worth its pause. */
export const RELEASE_GROWTH_BYTES_MIN = 32 * 1024 * 1024;
/** A collection that freed this much is worth repeating at the next idle second. */
export const RELEASE_AGAIN_BYTES_MIN = 8 * 1024 * 1024;
/** Shorter election timeouts could see the pause as a dead leader. */
export const RELEASE_ELECTION_MS_MIN = 500;

/** What the release reads and does, injectable so tests drive it without a real heap. */
export interface HeapReleaseHost {
  /** Share of the time since the previous call the event loop was busy (0..1). */
  utilizationSinceLastCall(): number;
  /** Bytes of heap V8 has committed (total_heap_size). */
  committedHeapBytes(): number;
  /** Bytes of heap in use, garbage included until collected (used_heap_size). */
  usedHeapBytes(): number;
  /** A full, synchronous garbage collection. */
  collect(): void;
  /** Milliseconds, for the pause reported in the log. */
  nowMs(): number;
}

export class IdleHeapRelease {
  /** What the last collection left committed (the start: what the process began with). */
  private baselineBytes: number;
  /** The last collection freed enough: collect again at the next idle second. */
  private releasing = false;

  constructor(
    private readonly host: HeapReleaseHost,
    private readonly logger: Logger,
  ) {
    this.baselineBytes = host.committedHeapBytes();
  }

  /** One check; returns whether it collected. */
  check(): boolean {
    const utilization = this.host.utilizationSinceLastCall();
    const committedBefore = this.host.committedHeapBytes();
    if (utilization >= IDLE_UTILIZATION_MAX) return false;
    const grown = committedBefore - this.baselineBytes >= RELEASE_GROWTH_BYTES_MIN;
    if (!grown && !this.releasing) return false;
    const usedBefore = this.host.usedHeapBytes();
    const startedMs = this.host.nowMs();
    this.host.collect();
    this.baselineBytes = this.host.committedHeapBytes();
    const freedBytes = usedBefore - this.host.usedHeapBytes();
    this.releasing = freedBytes >= RELEASE_AGAIN_BYTES_MIN;
    this.logger.info(
      {
        pauseMs: Math.round(this.host.nowMs() - startedMs),
        freedMiB: Math.round(freedBytes / 1048576),
        committedBeforeMiB: Math.round(committedBefore / 1048576),
        committedAfterMiB: Math.round(this.baselineBytes / 1048576),
      },
      'idle: heap memory released',
    );
    return true;
  }
}

/** The real host: this process's event loop, V8 heap and `gc`. */
function processHost(collect: () => void): HeapReleaseHost {
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    utilizationSinceLastCall: () => {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, previous);
      previous = now;
      return utilization;
    },
    committedHeapBytes: () => getHeapStatistics().total_heap_size,
    usedHeapBytes: () => getHeapStatistics().used_heap_size,
    collect,
    nowMs: () => performance.now(),
  };
}

/**
 * Starts the checks when this process can collect and the election timeout allows the pause;
 * returns the function that stops them.
 */
export function startIdleHeapRelease(electionMs: number, logger: Logger): () => void {
  const collect = globalThis.gc;
  if (collect === undefined || electionMs < RELEASE_ELECTION_MS_MIN) return () => {};
  const release = new IdleHeapRelease(
    processHost(() => void collect()),
    logger,
  );
  const timer = setInterval(() => release.check(), IDLE_CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
