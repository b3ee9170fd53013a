/**
 * One member process's view of time, driven by the world's event queue. Its timers and its
 * background `schedule` work are world events, so nothing runs on a real timer or a real
 * event-loop turn. A crash kills the process clock: every timer and task it still holds is
 * dropped, as a dead process's would be, which also freezes whatever async work of the dead
 * member was waiting on them.
 */
import { assert, type Clock, type TimerHandle } from '../../../src/base/index.ts';
import type { World } from '../world.ts';

export class ProcessClock implements Clock {
  private alive = true;

  /**
   * `rate` models clock drift (local ms per world ms); `originMs` is where this process's
   * monotonic clock starts, as a fresh process's would be anywhere.
   */
  constructor(
    private readonly world: World,
    private readonly rate: number,
    private readonly originMs: number,
  ) {
    assert(rate > 0, 'a clock moves forward');
  }

  nowMs(): number {
    return this.originMs + Math.floor(this.world.nowMs * this.rate);
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assert(Number.isFinite(delayMs), 'a finite timer');
    let cancelled = false;
    this.world.schedule(Math.max(0, delayMs) / this.rate, () => {
      if (!cancelled && this.alive) callback();
    });
    return { cancel: () => void (cancelled = true) };
  }

  /** MemberEnvironment.schedule: background work as a world event at the current time. */
  readonly schedule = (task: () => void): void => {
    this.world.schedule(0, () => {
      if (this.alive) task();
    });
  };

  kill(): void {
    this.alive = false;
  }
}
