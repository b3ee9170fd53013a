/**
 * A manual clock for tests: time moves only when the test says so, and timers fire in deadline
 * order (ties in creation order) as it does. Async work the timers start (WAL writes, message
 * delivery) runs on the real event loop, so tests pair advance() with settle().
 */
import type { Clock, TimerHandle } from '../../src/base/index.ts';

interface Timer {
  readonly deadlineMs: number;
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private now = 0;
  private sequence = 0;
  private timers: Timer[] = [];

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Timer = {
      deadlineMs: this.now + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that comes due, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      let next: Timer | undefined;
      for (const timer of this.timers) {
        if (timer.deadlineMs > target) continue;
        if (
          next === undefined ||
          timer.deadlineMs < next.deadlineMs ||
          (timer.deadlineMs === next.deadlineMs && timer.sequence < next.sequence)
        ) {
          next = timer;
        }
      }
      if (next === undefined) break;
      next.cancelled = true;
      this.now = Math.max(this.now, next.deadlineMs);
      next.callback();
    }
    this.now = target;
  }

  get pendingTimers(): number {
    return this.timers.filter((timer) => !timer.cancelled).length;
  }
}

/** Lets promise chains and setImmediate work run: `turns` event-loop turns. */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Advances `clock` in `stepMs` steps, settling after each, until `condition` holds; fails after
 * `maxMs` of virtual time so a broken test ends instead of hanging.
 */
export async function advanceUntil(
  clock: ManualClock,
  condition: () => boolean,
  options: { stepMs?: number; maxMs?: number; what?: string } = {},
): Promise<void> {
  const stepMs = options.stepMs ?? 100;
  const maxMs = options.maxMs ?? 30_000;
  await settle();
  for (let elapsed = 0; !condition(); elapsed += stepMs) {
    if (elapsed > maxMs) {
      throw new Error(
        `timed out after ${maxMs} virtual ms waiting for ${options.what ?? 'condition'}`,
      );
    }
    clock.advance(stepMs);
    await settle();
  }
}

/** Awaits `promise` while advancing the clock, for requests that need raft rounds. */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  options: { stepMs?: number; maxMs?: number } = {},
): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  tracked.catch(() => undefined);
  await advanceUntil(clock, () => done, { ...options, what: 'a request to finish' });
  return await tracked;
}
