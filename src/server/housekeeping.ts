/**
 * A member's periodic chores (every 500 ms, like etcd's lease revoke loop): the leader revokes
 * expired leases through raft; any member raises the NOSPACE alarm when its backend outgrows
 * the quota; and each member publishes its name and client URLs once a leader exists (etcd's
 * publish), so MemberList shows them. All of it goes through raft like any client request.
 * Publishing starts as soon as a leader is known, not at the next round: a joining member
 * serves clients (and can be promoted) moments after it catches up, and MemberList should name
 * it by then.
 */
import type { Clock, TimerHandle } from '../base/index.ts';
import type { Lessor } from '../lease/index.ts';
import type { Logger } from '../transport/index.ts';
import type { InternalRequest } from './request.ts';

export const HOUSEKEEPING_INTERVAL_MS = 500;
/** Expired leases revoked per round, so a mass expiry cannot flood raft. */
const LEASE_REVOKES_PER_ROUND_MAX = 500;

export interface HousekeepingHost {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly memberId: bigint;
  readonly name: string;
  readonly clientUrls: readonly string[];
  readonly quotaBackendBytes: number;
  hasLeader(): boolean;
  isLeader(): boolean;
  lessor(): Lessor;
  backendSizeBytes(): number;
  propose(request: InternalRequest): Promise<unknown>;
}

export class Housekeeping {
  private timer: TimerHandle | null = null;
  private readonly revoking = new Set<bigint>();
  private nospaceRaised = false;
  private published = false;
  private publishing = false;

  constructor(private readonly host: HousekeepingHost) {}

  start(): void {
    this.timer = this.host.clock.setTimer(HOUSEKEEPING_INTERVAL_MS, () => {
      this.round();
      this.start();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * A leader became known. Publishing waits for a fresh turn of the event loop: this is called
   * from the raft loop, which must not be re-entered by a proposal.
   */
  leaderKnown(): void {
    if (this.published || this.publishing || this.timer === null) return;
    this.publishing = true;
    this.host.clock.setTimer(0, () => {
      if (this.timer !== null) this.publish();
      else this.publishing = false;
    });
  }

  /** Leadership moved away: revokes in flight are the new leader's business now. */
  demoted(): void {
    this.revoking.clear();
  }

  /** The NOSPACE alarm was disarmed: it may be raised again. */
  spaceAlarmCleared(): void {
    this.nospaceRaised = false;
  }

  private round(): void {
    const host = this.host;
    if (!host.hasLeader()) return;
    if (host.isLeader()) this.revokeExpired();
    if (!this.nospaceRaised && host.backendSizeBytes() > host.quotaBackendBytes) {
      this.nospaceRaised = true;
      host.logger.warn({ quotaBytes: host.quotaBackendBytes }, 'backend quota exceeded');
      const alarm: InternalRequest = {
        kind: 'alarm',
        action: 'activate',
        memberId: host.memberId,
        alarm: 'NOSPACE',
      };
      host.propose(alarm).catch(() => {
        this.nospaceRaised = false;
      });
    }
    if (!this.published && !this.publishing) this.publish();
  }

  private revokeExpired(): void {
    const now = this.host.clock.nowMs();
    for (const id of this.host.lessor().expired(now, LEASE_REVOKES_PER_ROUND_MAX)) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      const done = (): void => void this.revoking.delete(id);
      this.host.propose({ kind: 'leaseRevoke', id }).then(done, done);
    }
  }

  private publish(): void {
    this.publishing = true;
    const request: InternalRequest = {
      kind: 'memberAttributes',
      memberId: this.host.memberId,
      name: this.host.name,
      clientUrls: this.host.clientUrls,
    };
    this.host.propose(request).then(
      () => {
        this.published = true;
        this.publishing = false;
      },
      () => {
        this.publishing = false;
      },
    );
  }
}
