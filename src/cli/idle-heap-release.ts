/**
 * Gives back the memory a burst of load left behind, once the member goes quiet.
 *
 * Under load V8 lets the old generation grow to several times what survives a collection (on
 * this project's 24 GiB test machine: 131 MB committed for ~50 MB live after 100,000 puts), and
 * it only shrinks the heap after a full collection. An idle member makes no garbage, so none
 * comes: measured, an idle member kept that memory for minutes. V8's memory reducer, which
 * collects idle heaps in browsers, does not run here. So every quarter second this checks the
 * event loop: once it has been busy less than 5 % of each check interval for a whole second, and
 * the committed heap grew by 32 MiB since the last collection this triggered, it starts one full
 * collection that compacts.
 *
 * Compacting matters more than collecting: the garbage of a burst (the raft log entries a
 * snapshot released, request buffers) sits on pages among objects that live on (the key
 * index), so a plain collection frees it without emptying the pages. Measured after a
 * 100,000-key fill: plain collections left ~87 MB committed for 55 MB live and needed a second
 * one a second later to unmap anything; one compacting collection left 70 MB. V8 compacts every
 * page with a fifth or more free only under --compact-on-every-full-gc, and it picks the pages
 * when marking starts, so the flag is on for that moment alone: under load V8's own collections
 * keep their cheaper heuristics (with the flag on for every collection, one measured fill ran at
 * 3,189 puts/s against 3,300-3,590 without).
 *
 * The collection marks incrementally, as V8's own full collections do, instead of in one
 * stop-the-world `gc()`. A member that is idle has none of its request objects alive (streams,
 * codec writers, timers' immediates), and the optimised code of the request path refers to
 * their hidden classes weakly. V8 keeps such classes through a collection only if it finds
 * their constructors marked before it decides, which is the case after incremental marking but
 * not in an atomic `gc()`, where it decides right after the roots. So `gc()` threw the classes
 * away, and with them ~90 optimised functions per member (traced with --trace-deopt, "reason:
 * weak objects"), which V8 compiled again only over the next seconds of traffic: sequential puts
 * right after such a release ran 2.85, 2.63, 2.17, 1.99 ms p50 in four rounds of 400, against
 * 2.02, 1.97, 1.88, 1.79 without a release. Started incrementally: no function thrown away, and
 * 1.91, 1.86, 1.65, 1.67 (test/cli/fixtures/optimised-code.ts shows the difference on one
 * function). V8 starts marking when a collection finds the old generation near its limit; the
 * release has it start at once with --stress-incremental-marking switched on around one young
 * collection, then V8's own tasks mark and finish with a compacting pause.
 *
 * That final pause grows with the live heap (measured 1.7-3.7 ms per live MiB at ~36 MB live,
 * 62-131 ms; the marking steps before it 12-40 ms at most), so the release starts only while the
 * pause it predicts fits in half an election timeout: a paused leader then still heartbeats
 * before any follower's election timer runs out. The live heap is what V8's latest full
 * collection left in use (observed through perf_hooks' gc entries), and the rate is relearned
 * from each release's pause, starting from the cautious 8 ms per MiB an atomic collection took.
 * It is disabled below 500 ms election timeouts; `gc` is V8's, exposed by the --expose-gc that
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
/** The pause predicted per live MiB until a release measured it (an atomic `gc()`: 5.8-9.6). */
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
  /**
   * Starts a full, incremental, compacting garbage collection; `finished` runs once, after its
   * final pause, with the length of that pause in milliseconds.
   */
  startCollection(finished: (pauseMs: number) => void): void;
}

export class IdleHeapRelease {
  /** What the last collection left committed (the start: what the process began with). */
  private baselineBytes: number;
  private pauseMsPerLiveMiB = INITIAL_PAUSE_MS_PER_LIVE_MIB;
  /** A release put off because its pause would not fit is logged once per baseline. */
  private deferralLogged = false;
  /** Idle check intervals in a row, up to now. */
  private idleChecks = 0;
  /** A collection this started has not finished yet. */
  private collecting = false;

  constructor(
    private readonly host: HeapReleaseHost,
    private readonly logger: Logger,
    /** The longest pause allowed (half an election timeout). */
    private readonly pauseBudgetMs: number,
  ) {
    this.baselineBytes = host.committedHeapBytes();
  }

  /** One check; returns whether it started a collection. */
  check(): boolean {
    const utilization = this.host.utilizationSinceLastCall();
    this.idleChecks = utilization < IDLE_UTILIZATION_MAX ? this.idleChecks + 1 : 0;
    if (this.collecting || this.idleChecks < IDLE_CHECKS_MIN) return false;
    const committedBefore = this.host.committedHeapBytes();
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
    this.collecting = true;
    this.host.startCollection((pauseMs) => this.finished(pauseMs, usedBefore, committedBefore));
    return true;
  }

  private finished(pauseMs: number, usedBefore: number, committedBefore: number): void {
    // What survived is what the collection marked and moved: the rate is per MiB of it.
    const liveMiB = this.host.usedHeapBytes() / MiB;
    this.pauseMsPerLiveMiB = pauseMs / Math.max(liveMiB, 1);
    this.baselineBytes = this.host.committedHeapBytes();
    this.deferralLogged = false;
    this.idleChecks = 0;
    this.collecting = false;
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
  }
}

/**
 * Starts a full collection that marks incrementally and compacts every fragmented page (see the
 * file comment); V8's tasks finish it. `collectYoung` is a young-generation collection (`gc`
 * with `{ type: 'minor' }`): V8 checks whether to start marking after one.
 */
export function startCompactingCollection(collectYoung: () => void): void {
  setFlagsFromString('--compact-on-every-full-gc');
  setFlagsFromString('--stress-incremental-marking');
  try {
    collectYoung();
  } finally {
    setFlagsFromString('--no-stress-incremental-marking');
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** Whether a perf_hooks 'gc' entry is a full collection (its `detail.kind` says which ran). */
export function isFullCollection(entry: PerformanceEntry): boolean {
  const { detail } = entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } };
  return detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR;
}

/** The real host: this process's event loop, V8 heap and `gc`; stop() ends its observer. */
function processHost(collectYoung: () => void): HeapReleaseHost & { stop(): void } {
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const usedBytes = (): number => getHeapStatistics().used_heap_size;
  // Until the first full collection, all in use counts as live (the cautious guess).
  let liveBytes: number | undefined;
  let onFullCollection: ((pauseMs: number) => void) | undefined;
  const observer = new PerformanceObserver((list) => {
    const full = list.getEntries().find(isFullCollection);
    if (full === undefined) return;
    // Read as soon as the entry is delivered: allocations since then count as live.
    liveBytes = usedBytes();
    const finished = onFullCollection;
    onFullCollection = undefined;
    finished?.(full.duration);
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
    startCollection: (finished) => {
      onFullCollection = finished;
      startCompactingCollection(collectYoung);
    },
    stop: () => observer.disconnect(),
  };
}

/**
 * Starts the checks when this process can collect and the election timeout allows the pause;
 * returns the function that stops them.
 */
export function startIdleHeapRelease(electionMs: number, logger: Logger): () => void {
  const gc = globalThis.gc;
  if (gc === undefined || electionMs < RELEASE_ELECTION_MS_MIN) return () => {};
  const host = processHost(() => gc({ type: 'minor' }));
  const release = new IdleHeapRelease(host, logger, electionMs / 2);
  const timer = setInterval(() => release.check(), IDLE_CHECK_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    host.stop();
  };
}
