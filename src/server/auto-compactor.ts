/**
 * etcd's --auto-compaction-*, run by the leader only (followers learn compactions through the
 * log). Periodic mode samples the current revision every tenth of the retention and compacts to
 * the revision seen one retention ago; revision mode compacts to (current - retention) every
 * five minutes. Failures (already compacted, leadership moved) are fine: the next round retries.
 */
import { assert, type Clock, type TimerHandle } from '../base/index.ts';
import type { AutoCompaction } from './member-config.ts';

export const REVISION_MODE_INTERVAL_MS = 5 * 60 * 1000;

export interface AutoCompactorHost {
  isLeader(): boolean;
  currentRevision(): number;
  compactRevision(): number;
  compact(revision: number): Promise<unknown>;
}

export class AutoCompactor {
  private timer: TimerHandle | null = null;
  /** Revisions sampled at each interval, oldest first (periodic mode). */
  private readonly samples: number[] = [];
  private readonly intervalMs: number;
  private readonly samplesKept: number;

  constructor(
    private readonly clock: Clock,
    private readonly mode: AutoCompaction,
    private readonly host: AutoCompactorHost,
  ) {
    if (mode.mode === 'periodic') {
      assert(mode.retentionMs > 0, 'periodic retention is positive');
      this.intervalMs = Math.max(1, Math.floor(mode.retentionMs / 10));
      this.samplesKept = 10;
    } else {
      assert(mode.retentionRevisions > 0, 'revision retention is positive');
      this.intervalMs = REVISION_MODE_INTERVAL_MS;
      this.samplesKept = 0;
    }
  }

  start(): void {
    this.timer = this.clock.setTimer(this.intervalMs, () => {
      this.round();
      this.start();
    });
  }

  private round(): void {
    const current = this.host.currentRevision();
    let target = 0;
    if (this.mode.mode === 'periodic') {
      this.samples.push(current);
      if (this.samples.length <= this.samplesKept) return;
      target = this.samples.shift()!;
    } else {
      target = current - this.mode.retentionRevisions;
    }
    if (!this.host.isLeader() || target <= this.host.compactRevision()) return;
    this.host.compact(target).catch(() => undefined);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
