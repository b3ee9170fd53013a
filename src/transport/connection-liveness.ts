/**
 * Notices a peer that went silent without closing the connection (host powered off, network
 * partition): TCP alone would keep such a connection "up" for many minutes of retransmissions,
 * so the sender would neither report the peer unreachable nor redial it.
 *
 * The dialer sends a ping every interval and the acceptor answers with a pong; each side
 * closes the connection once it has heard nothing for the idle timeout. The checks ride on
 * the injected Clock, so the simulator (or a test) controls them.
 */
import { assert, type Clock, type TimerHandle } from '../base/index.ts';

export interface LivenessOptions {
  readonly intervalMs: number;
  readonly idleTimeoutMs: number;
}

export class ConnectionLiveness {
  private lastHeardMs: number;
  private timer: TimerHandle | null = null;

  /**
   * `everyInterval` runs on each tick (the dialer sends its ping there); `onIdle` runs once,
   * after which the monitor is stopped.
   */
  constructor(
    private readonly clock: Clock,
    private readonly options: LivenessOptions,
    private readonly everyInterval: () => void,
    private readonly onIdle: (silentMs: number) => void,
  ) {
    assert(options.intervalMs >= 1, 'liveness interval must be at least 1 ms');
    // Several intervals per timeout, so one late pong is never mistaken for a dead peer.
    assert(options.idleTimeoutMs >= 2 * options.intervalMs, 'idle timeout below two intervals');
    this.lastHeardMs = clock.nowMs();
    this.arm();
  }

  /** Any frame from the peer proves it alive. */
  heard(): void {
    this.lastHeardMs = this.clock.nowMs();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(): void {
    const dueMs = this.clock.nowMs() + this.options.intervalMs;
    this.timer = this.clock.setTimer(this.options.intervalMs, () => {
      this.timer = null;
      // A late tick means this member was busy (a long apply, a GC pause) and could neither
      // ping nor read: that time is our silence, not the peer's, so it does not count.
      const lagMs = Math.max(0, this.clock.nowMs() - dueMs);
      this.lastHeardMs += lagMs;
      const silentMs = this.clock.nowMs() - this.lastHeardMs;
      if (silentMs > this.options.idleTimeoutMs) {
        this.onIdle(silentMs);
        return;
      }
      this.arm();
      this.everyInterval();
    });
  }
}
