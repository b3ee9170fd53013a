/**
 * Requests proposed by this member that have not been applied yet. Each waits for the entry
 * carrying its id to be applied here (resolve with the apply result), or for a reason to give
 * up: the request timeout, a leadership change before it was applied, or shutdown. An entry
 * applied after its waiter gave up is still applied; nobody hears about it (etcd does the same:
 * a client told "leader changed" or "timed out" must not assume the write did not happen).
 *
 * Timeouts share one timer, armed for the oldest waiter: every waiter gets the same timeout and
 * the clock does not go back, so waiters expire in the order they registered (the Map's order).
 * The timer is not cancelled when the last waiter settles (a single sequential client would
 * re-arm it for every request): it runs out once, finds nobody, and stays off. A timer set and
 * cancelled per request cost the leader ~18 µs of each sequential put (profiled).
 */
import { assert, type Clock, type TimerHandle } from '../base/index.ts';
import { ServerError, type ServerErrorCode } from './server-error.ts';

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly deadlineMs: number;
}

/** Upper bound on requests in flight; beyond it new ones are refused (etcd: too many requests). */
export const PENDING_PROPOSALS_MAX = 100_000;

export class ProposalRegistry {
  /** In registration order, which is deadline order. */
  private readonly waiters = new Map<bigint, Waiter>();
  /** Armed for the oldest waiter's deadline, or an earlier one's (since settled). */
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    assert(timeoutMs > 0, 'request timeout is positive');
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Registers request `id`; the promise settles with its apply result or a ServerError. */
  register<T>(id: bigint): Promise<T> {
    assert(!this.waiters.has(id), 'request ids are unique');
    if (this.waiters.size >= PENDING_PROPOSALS_MAX) {
      return Promise.reject(new ServerError('too-many-requests'));
    }
    return new Promise<T>((resolve, reject) => {
      const deadlineMs = this.clock.nowMs() + this.timeoutMs;
      this.waiters.set(id, { resolve: resolve as (value: unknown) => void, reject, deadlineMs });
      if (this.timer === null) this.arm(deadlineMs);
    });
  }

  has(id: bigint): boolean {
    return this.waiters.has(id);
  }

  /** The entry carrying `id` was applied with `outcome` (a value, or an expected error). */
  settle(id: bigint, outcome: { ok: true; value: unknown } | { ok: false; error: Error }): void {
    const waiter = this.take(id);
    if (waiter === undefined) return;
    if (outcome.ok) waiter.resolve(outcome.value);
    else waiter.reject(outcome.error);
  }

  fail(id: bigint, code: ServerErrorCode): void {
    this.take(id)?.reject(new ServerError(code));
  }

  failAll(code: ServerErrorCode): void {
    for (const id of [...this.waiters.keys()]) this.fail(id, code);
    assert(this.waiters.size === 0, 'every waiter was failed');
    // A stopping member leaves no timer behind.
    this.timer?.cancel();
    this.timer = null;
  }

  private take(id: bigint): Waiter | undefined {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return undefined;
    this.waiters.delete(id);
    return waiter;
  }

  private arm(deadlineMs: number): void {
    this.timer = this.clock.setTimer(deadlineMs - this.clock.nowMs(), () => this.expire());
  }

  /** Fails every waiter past its deadline, oldest first, and re-arms for the next one. */
  private expire(): void {
    this.timer = null;
    const nowMs = this.clock.nowMs();
    for (const [id, waiter] of this.waiters) {
      if (waiter.deadlineMs > nowMs) {
        this.arm(waiter.deadlineMs);
        return;
      }
      this.fail(id, 'timed-out');
    }
  }
}
