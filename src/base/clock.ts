/**
 * Time, injected. Production members get a real clock (src/cli builds it); the simulator hands
 * them a virtual one so that a seed replays exactly.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  nowMs(): number;
  /** Calls `callback` once, `delayMs` from now, unless cancelled first. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}
