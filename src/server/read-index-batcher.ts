/**
 * Linearizable reads, batched (etcd's linearizableReadLoop). Reads that arrive while a
 * ReadIndex round is in flight wait for the next round, so one heartbeat round confirms
 * leadership for all of them. A round's answer is a log index; its reads are released once this
 * member has applied that index, and then read MVCC locally.
 *
 * A round whose answer does not come (lost messages, no leader yet, leadership moving) is
 * retried with a fresh context after `retryMs`; a read waiting longer than `timeoutMs` fails.
 */
import { assert, type Clock, type TimerHandle } from '../base/index.ts';
import { ServerError, type ServerErrorCode } from './server-error.ts';

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly deadlineMs: number;
}

export interface ReadIndexHost {
  /** This member's id. It prefixes every context: the leader ignores a context that is
   *  already pending, so two followers counting from 1 alike would lose each other's rounds
   *  (each such round then waited out the retry timeout: reads at p99 took a second). */
  readonly memberId: bigint;
  /** Wall-clock milliseconds when this member started: contexts count on from it (shifted past
   *  any number of rounds a process can make per millisecond), so a restarted member never
   *  reuses a context an earlier incarnation may still have pending at the leader, whose
   *  answer (an older read index) would otherwise be taken for the new round's. */
  readonly startedAtWallMs: number;
  /** Asks raft for a read index; returns a refusal code when raft refused outright. */
  requestReadIndex(context: Uint8Array): ServerErrorCode | null;
  appliedIndex(): number;
}

/** Room for 2^20 rounds per millisecond of wall clock: more than any process can make. */
const CONTEXT_ROUND_BITS = 20n;

export class ReadIndexBatcher {
  /** Reads waiting for the next round. */
  private queued: PendingRead[] = [];
  /** The round in flight: its context and its reads. */
  private round: { context: Uint8Array; reads: PendingRead[]; retry: TimerHandle } | null = null;
  /** Rounds answered, waiting for the apply to reach their index. */
  private readonly answered: { index: number; reads: PendingRead[] }[] = [];
  private nextContext: bigint;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly host: ReadIndexHost,
    private readonly retryMs: number,
    private readonly timeoutMs: number,
  ) {
    assert(Number.isSafeInteger(host.startedAtWallMs) && host.startedAtWallMs >= 0, 'wall ms');
    this.nextContext = (BigInt(host.startedAtWallMs) << CONTEXT_ROUND_BITS) + 1n;
  }

  /** Resolves when a read started now may be served from local state. */
  wait(): Promise<void> {
    if (this.stopped) return Promise.reject(new ServerError('stopped'));
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ resolve, reject, deadlineMs: this.clock.nowMs() + this.timeoutMs });
      if (this.round === null) this.startRound();
    });
  }

  private startRound(): void {
    assert(this.round === null, 'one round at a time');
    if (this.queued.length === 0) return;
    const reads = this.queued;
    this.queued = [];
    const context = new Uint8Array(16);
    const view = new DataView(context.buffer);
    view.setBigUint64(0, BigInt.asUintN(64, this.host.memberId));
    view.setBigUint64(8, this.nextContext++);
    const retry = this.clock.setTimer(this.retryMs, () => this.retryRound());
    this.round = { context, reads, retry };
    const refusal = this.host.requestReadIndex(context);
    // A refused round (no leader known yet) is simply retried: a leader may appear soon.
    if (refusal !== null) this.expire(reads, refusal);
  }

  private retryRound(): void {
    const round = this.round;
    if (round === null) return;
    this.round = null;
    const alive = this.expire(round.reads, 'timed-out');
    this.queued = [...alive, ...this.queued];
    this.startRound();
  }

  /** Fails reads past their deadline with `code`; returns the others. */
  private expire(reads: PendingRead[], code: ServerErrorCode): PendingRead[] {
    const now = this.clock.nowMs();
    const alive: PendingRead[] = [];
    for (const read of reads) {
      if (read.deadlineMs <= now) read.reject(new ServerError(code));
      else alive.push(read);
    }
    return alive;
  }

  /** Raft answered a ReadIndex request. */
  onReadState(context: Uint8Array, index: number): void {
    const round = this.round;
    if (round === null || !bytesEqual(round.context, context)) return;
    round.retry.cancel();
    this.round = null;
    this.answered.push({ index, reads: round.reads });
    this.onApplied(this.host.appliedIndex());
    this.startRound();
  }

  /** The member applied up to `applied`: release the reads that were waiting for it. */
  onApplied(applied: number): void {
    for (let i = 0; i < this.answered.length;) {
      const done = this.answered[i];
      if (done.index > applied) {
        i++;
        continue;
      }
      this.answered.splice(i, 1);
      for (const read of done.reads) read.resolve();
    }
  }

  stop(): void {
    this.stopped = true;
    this.round?.retry.cancel();
    const reads = [
      ...this.queued,
      ...(this.round?.reads ?? []),
      ...this.answered.flatMap((done) => done.reads),
    ];
    this.queued = [];
    this.round = null;
    this.answered.length = 0;
    for (const read of reads) read.reject(new ServerError('stopped'));
  }
}

function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && left.every((byte, i) => byte === right[i]);
}
