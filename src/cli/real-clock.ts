/** The production clock: monotonic time from performance.now(), timers from setTimeout. Only
 *  the composition root builds it; everything else receives a Clock. */
import type { Clock, TimerHandle } from '../base/index.ts';

export const realClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
};
