/**
 * Gives back the memory a burst of load left behind, once the member goes quiet.
 *
 * Under load V8 lets the old generation grow to several times what survives a collection (on
 * this project's 24 GiB test machine: 131 MB committed for ~50 MB live after 100,000 puts), and
 * it only shrinks the heap after a full collection. An idle member makes no garbage, so none
 * comes: measured, an idle member kept that memory for minutes. V8's memory reducer, which
 * collects idle heaps in browsers, does not run here. So every quarter second this checks the
 * event loop: once it has been busy less than 5 % of each check interval for a whole second, and
 * the committed heap grew by 32 MiB since the last collection this triggered, it runs one full
 * collection that compacts.
 *
 * Why a whole second: a collection while nothing is in flight also frees what the optimised
 * code of the request path refers to weakly, so V8 throws that code away and compiles it again
 * as traffic returns (traced: 100-250 functions re-optimised after each release; sequential puts
 * started right after one ran 3.0, 2.7, 2.5 ms p50 in three 6 s rounds, against 2.47 without a
 * release). A pause of a second between bursts is rarer than one of a quarter.
 *
 * Compacting matters more than collecting: the garbage of a burst (the raft log entries a
 * snapshot released, request buffers) sits on pages among objects that live on (the key
 * index), so a plain collection frees it without emptying the pages. Measured after a
 * 100,000-key fill: plain collections left ~87 MB committed for 55 MB live and needed a second
 * one a second later to unmap anything; one compacting collection left 70 MB. V8 compacts every
 * page with a fifth or more free only under --compact-on-every-full-gc, so the flag is switched
 * on for this collection alone: under load V8's own collections keep their cheaper heuristics
 * (with the flag on for every collection, one measured fill ran at 3,189 puts/s against
 * 3,300-3,590 without).
 *
 * The collection pauses the member for a time that grows with the live heap, the objects it
 * marks and moves: measured 5.8-9.6 ms per live MiB here (215-413 ms after the 100,000-key fill,
 * ~55 MB live). So it runs only while the predicted pause fits in half an election timeout: a
 * paused leader then still heartbeats before any follower's election timer runs out. The live
 * heap is what V8's latest full collection left in use (observed through perf_hooks' gc
 * entries), and the rate is relearned from each release. A member whose live heap outgrows the
 * budget (~60 MB at etcd's default 1 s election timeout) keeps its heap committed. It is
 * disabled below 500 ms election timeouts; `gc` is V8's, exposed by the --expose-gc that
 * bin/sigild passes to node. Without it nothing runs.
 */
import {
  constants as perfConstants,
  performance,
  PerformanceObserver,
  type EventLoopUtilization,
  type PerformanceEntry,
} from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import type { Logger } from '../server/index.ts';

export const IDLE_CHECK_INTERVAL_MS = 250;
/** Event-loop utilisation below which a check interval counts as idle (heartbeats are ~0.1 %). */
export const IDLE_UTILIZATION_MAX = 0.05;
/** Consecutive idle intervals (one second) before a release. */
export const IDLE_CHECKS_MIN = 4;
/** Committed-heap growth since the last release that makes a release worth its pause. */
export const RELEASE_GROWTH_BYTES_MIN = 32 * 1024 * 1024;
/** Shorter election timeouts leave too little room for any pause. */
export const RELEASE_ELECTION_MS_MIN = 500;
/** The pause predicted per live MiB until a release measured it (seen here: 5.8-9.6). */
export const INITIAL_PAUSE_MS_PER_LIVE_MIB = 8;

const MiB = 1024 * 1024;

/** What the release reads and does, injectable so tests drive it without a real heap. */
export interface HeapReleaseHost {
  /** Share of the time since the previous call the event loop was busy (0..1). */
  utilizationSinceLastCall(): number;
  /** Bytes of heap V8 has committed (total_heap_size). */
  committedHeapBytes(): number;
  /** Bytes of heap in use, garbage included until collected (used_heap_size). */
  usedHeapBytes(): number;
  /** Bytes in use right after the latest full collection: the live heap, as last known. */
  liveHeapBytes(): number;
  /** A full, synchronous, compacting garbage collection. */
  collect(): void;
  /** Milliseconds, to measure the pause. */
  nowMs(): number;
}

export class IdleHeapRelease {
  /** What the last collection left committed (the start: what the process began with). */
  private baselineBytes: number;
  private pauseMsPerLiveMiB = INITIAL_PAUSE_MS_PER_LIVE_MIB;
  /** A release put off because its pause would not fit is logged once per baseline. */
  private deferralLogged = false;
  /** Idle check intervals in a row, up to now. */
  private idleChecks = 0;

  constructor(
    private readonly host: HeapReleaseHost,
    private readonly logger: Logger,
    /** The longest pause allowed (half an election timeout). */
    private readonly pauseBudgetMs: number,
  ) {
    this.baselineBytes = host.committedHeapBytes();
  }

  /** One check; returns whether it collected. */
  check(): boolean {
    const utilization = this.host.utilizationSinceLastCall();
    const committedBefore = this.host.committedHeapBytes();
    this.idleChecks = utilization < IDLE_UTILIZATION_MAX ? this.idleChecks + 1 : 0;
    if (this.idleChecks < IDLE_CHECKS_MIN) return false;
    if (committedBefore - this.baselineBytes < RELEASE_GROWTH_BYTES_MIN) return false;
    const predictedPauseMs = (this.host.liveHeapBytes() / MiB) * this.pauseMsPerLiveMiB;
    if (predictedPauseMs > this.pauseBudgetMs) {
      if (!this.deferralLogged) {
        this.deferralLogged = true;
        this.logger.info(
          { predictedPauseMs: Math.round(predictedPauseMs), budgetMs: this.pauseBudgetMs },
          'idle: heap release put off, its pause would not fit in half an election timeout',
        );
      }
      return false;
    }
    const usedBefore = this.host.usedHeapBytes();
    const startedMs = this.host.nowMs();
    this.host.collect();
    const pauseMs = this.host.nowMs() - startedMs;
    // What survived is what the collection marked and moved: the rate is per MiB of it.
    const liveMiB = this.host.usedHeapBytes() / MiB;
    this.pauseMsPerLiveMiB = pauseMs / Math.max(liveMiB, 1);
    this.baselineBytes = this.host.committedHeapBytes();
    this.deferralLogged = false;
    this.idleChecks = 0;
    this.logger.info(
      {
        pauseMs: Math.round(pauseMs),
        freedMiB: Math.round(usedBefore / MiB - liveMiB),
        liveMiB: Math.round(liveMiB),
        committedBeforeMiB: Math.round(committedBefore / MiB),
        committedAfterMiB: Math.round(this.baselineBytes / MiB),
      },
      'idle: heap memory released',
    );
    return true;
  }
}

/** One full collection with V8's compaction of every fragmented page (see the file comment). */
export function compactingCollection(collect: () => void): void {
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    collect();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** A perf_hooks 'gc' entry: `detail.kind` says which collection ran. */
type GcEntry = PerformanceEntry & { readonly detail?: { readonly kind?: number } };

/** The real host: this process's event loop, V8 heap and `gc`; stop() ends its observer. */
function processHost(collect: () => void): HeapReleaseHost & { stop(): void } {
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const usedBytes = (): number => getHeapStatistics().used_heap_size;
  // Until the first full collection, all in use counts as live (the cautious guess).
  let liveBytes: number | undefined;
  const observer = new PerformanceObserver((list) => {
    const full = list
      .getEntries()
      .some((entry) => (entry as GcEntry).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR);
    // Read as soon as the entry is delivered: allocations since then count as live.
    if (full) liveBytes = usedBytes();
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    utilizationSinceLastCall: () => {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, previous);
      previous = now;
      return utilization;
    },
    committedHeapBytes: () => getHeapStatistics().total_heap_size,
    usedHeapBytes: usedBytes,
    liveHeapBytes: () => liveBytes ?? usedBytes(),
    collect: () => {
      compactingCollection(collect);
      liveBytes = usedBytes();
    },
    nowMs: () => performance.now(),
    stop: () => observer.disconnect(),
  };
}

/**
 * Starts the checks when this process can collect and the election timeout allows the pause;
 * returns the function that stops them.
 */
export function startIdleHeapRelease(electionMs: number, logger: Logger): () => void {
  const collect = globalThis.gc;
  if (collect === undefined || electionMs < RELEASE_ELECTION_MS_MIN) return () => {};
  const host = processHost(() => void collect());
  const release = new IdleHeapRelease(host, logger, electionMs / 2);
  const timer = setInterval(() => release.check(), IDLE_CHECK_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    host.stop();
  };
}
