/**
 * Exponential backoff with jitter for redialling a peer. Without jitter, every member of a
 * cluster that lost a peer redials it in lockstep; with "equal jitter" each delay is drawn from
 * [d/2, d), which spreads them while still guaranteeing the backoff grows.
 */
import { assert, type Random } from '../base/index.ts';

export interface BackoffOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export class ReconnectBackoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: Random,
  ) {
    assert(options.initialDelayMs >= 1, 'initial backoff must be at least 1 ms');
    assert(options.maxDelayMs >= options.initialDelayMs, 'max backoff below initial backoff');
  }

  /** The delay before the next attempt, after one more failure. */
  nextDelayMs(): number {
    // Cap the exponent so 2^failures cannot overflow into Infinity after a long outage.
    const exponent = Math.min(this.failures, 30);
    this.failures++;
    const ceilingMs = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** exponent,
    );
    const halfMs = Math.floor(ceilingMs / 2);
    const delayMs = ceilingMs - halfMs + this.random.int(Math.max(1, halfMs));
    assert(delayMs >= 1 && delayMs <= this.options.maxDelayMs, `backoff ${delayMs} out of range`);
    return delayMs;
  }

  /** A handshake succeeded: the next outage starts from the initial delay again. */
  reset(): void {
    this.failures = 0;
  }
}
