/**
 * Group commit for LmdbBackend. In lmdb-js a synchronous transaction's commit also waits, on the
 * calling thread, for the flush of the file (overlappingSync only moves the wait out of the
 * write lock): about 5 ms per commit on our disks, which capped the apply loop at one batch per
 * flush. So, like etcd's backend (commit every 100 ms or 10,000 writes), each LmdbBackend.write()
 * runs as a child transaction of one long write transaction that stays open across calls and
 * event-loop turns, and that transaction commits once it is GROUP_AGE_MS_MAX old or holds
 * GROUP_WRITES_MAX writes or GROUP_BYTES_MAX bytes. Every call still stores its consistent index
 * in the same transaction as its data, and a failed call aborts only its own child transaction,
 * so the file always holds some prefix of the calls, each with its index; the WAL replays what
 * a crash loses. Reads go through the open transaction and see every call that returned
 * (lmdb-js reads use the write transaction while one is open).
 */
import type { RootDatabase } from 'lmdb';
import { assert } from '../../base/index.ts';

/** Group commit bounds; etcd's backend uses 100 ms and 10,000 too. */
const GROUP_AGE_MS_MAX = 100;
const GROUP_WRITES_MAX = 10_000;
/** Bounds LMDB's dirty pages (it spills above 512 MB) when values are large. */
const GROUP_BYTES_MAX = 64 * 1024 * 1024;

/** The long write transaction writes join until it commits. */
interface CommitGroup {
  /** Lets the transaction commit (at the next microtask checkpoint, in lmdb-js). */
  readonly release: () => void;
  /** Settles once the transaction has committed (or failed to). */
  readonly committed: Promise<void>;
  readonly openedMs: number;
  readonly timer: ReturnType<typeof setTimeout>;
  writes: number;
  bytes: number;
}

export class GroupCommitter {
  private group: CommitGroup | undefined;
  /** Set when a group commit failed: writes that returned were lost, the member must stop. */
  private failure: unknown;

  /** Whether a group transaction is open (writes now join it). */
  get isOpen(): boolean {
    return this.group !== undefined;
  }

  /** Whether a group commit failed; no write may follow. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Opens the long write transaction in `root`: lmdb-js keeps a synchronous transaction open
   * until the promise its callback returns settles, and commits it then.
   */
  open(root: RootDatabase): void {
    assert(this.group === undefined, 'group transaction already open');
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const pending = root.transactionSync(() => held) as unknown as Promise<void>;
    assert(typeof pending.then === 'function', 'lmdb-js did not hold the write transaction open');
    const timer = setTimeout(release, GROUP_AGE_MS_MAX);
    // An idle member must not be kept alive by the timer; exiting is a crash the WAL covers.
    timer.unref();
    const group: CommitGroup = {
      release,
      committed: pending.then(
        () => this.ended(group),
        (error: unknown) => {
          this.failure = error;
          this.ended(group);
        },
      ),
      openedMs: performance.now(),
      timer,
      writes: 0,
      bytes: 0,
    };
    this.group = group;
  }

  private ended(group: CommitGroup): void {
    clearTimeout(group.timer);
    if (this.group === group) this.group = undefined;
  }

  /** Counts a write against the open group's bounds. */
  countWrite(bytes: number): void {
    if (this.group === undefined) return;
    this.group.writes++;
    this.group.bytes += bytes;
  }

  /** Lets the open group commit if it has reached one of its bounds. */
  releaseIfDue(): void {
    const group = this.group;
    if (group === undefined) return;
    if (
      group.writes >= GROUP_WRITES_MAX ||
      group.bytes >= GROUP_BYTES_MAX ||
      performance.now() - group.openedMs >= GROUP_AGE_MS_MAX
    ) {
      group.release();
    }
  }

  /**
   * Commits the open group, if any; rejects if a group commit failed. A write may open a new
   * group between this promise settling and the caller resuming: use commitAll() when "no
   * group open" must hold at the caller's next synchronous step.
   */
  async commit(): Promise<void> {
    while (this.group !== undefined) {
      const group = this.group;
      group.release();
      await group.committed;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Commits until no group is open when this resolves (no await lies after the last check). */
  async commitAll(): Promise<void> {
    do await this.commit();
    while (this.group !== undefined);
  }
}
