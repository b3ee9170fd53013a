/**
 * When a member that applied its own removal may stop (FINDINGS §3).
 *
 * A member learns its removal is committed either from the leader (its commit index came from
 * a MsgApp or heartbeat) or, if it led itself when the change committed, from nobody: the other
 * voters may hold the entry without knowing it is committed, and in a two-voter configuration
 * they need this member's vote to elect a successor. So the member keeps running raft (it can
 * no longer campaign, but it votes and acknowledges) until a message from another member
 * carries a commit index at or beyond its own at removal time, or until a bounded wait ends.
 *
 * A follower may also never learn that its removal committed: the leader stops replicating to
 * a member once it applies the member's removal. Such a member loses its leader; it then asks
 * its peers for their member list (MemberCluster's removal probe), and one that lacks it
 * proves the removal committed (a list changes only by applied entries).
 */
import type { Clock, TimerHandle } from '../base/index.ts';
import type { Message } from '../raft/index.ts';
import type { PeerTransport } from '../transport/index.ts';

/** How long a removed member that cannot learn the outcome keeps serving raft. */
export const REMOVED_MEMBER_GRACE_ELECTIONS = 10;

export interface RemovalWatchOptions {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly electionMs: number;
  readonly stop: () => void;
}

export class RemovalWatch {
  private commitSeenFromOthers = 0;
  private removedAtCommit: number | null = null;
  private timer: TimerHandle | null = null;
  private finished = false;

  constructor(private readonly options: RemovalWatchOptions) {}

  get removed(): boolean {
    return this.removedAtCommit !== null;
  }

  /** Every inbound message, before raft steps it. */
  observe(message: Message): void {
    const carriesCommit = message.type === 'MsgApp' || message.type === 'MsgHeartbeat';
    if (!carriesCommit || message.from === this.options.memberId) return;
    if (message.commit > this.commitSeenFromOthers) this.commitSeenFromOthers = message.commit;
    this.maybeFinish();
  }

  /** This member applied its own removal; `commit` is its commit index then. */
  selfRemoved(commit: number): void {
    if (this.removedAtCommit !== null) return;
    this.removedAtCommit = commit;
    const graceMs = REMOVED_MEMBER_GRACE_ELECTIONS * this.options.electionMs;
    this.timer = this.options.clock.setTimer(graceMs, () => this.finish());
    this.maybeFinish();
  }

  /** Another member's applied member list lacks this member: the removal is committed and
   *  known elsewhere, whether or not this member ever learnt the commit. */
  removedElsewhere(): void {
    if (this.removedAtCommit === null) this.removedAtCommit = 0;
    this.finish();
  }

  private maybeFinish(): void {
    if (this.removedAtCommit !== null && this.commitSeenFromOthers >= this.removedAtCommit) {
      this.finish();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.timer?.cancel();
    this.options.stop();
  }

  cancel(): void {
    this.finished = true;
    this.timer?.cancel();
  }
}

/** The transport the raft loop uses, with every inbound message shown to `tap` first. */
export function tapInbound(
  transport: PeerTransport,
  tap: (message: Message) => void,
): PeerTransport {
  return {
    start: () => transport.start(),
    stop: () => transport.stop(),
    addPeer: (peer, urls) => transport.addPeer(peer, urls),
    updatePeer: (peer, urls) => transport.updatePeer(peer, urls),
    removePeer: (peer) => transport.removePeer(peer),
    send: (messages) => transport.send(messages),
    onMessage: (handler) =>
      transport.onMessage((message) => {
        tap(message);
        handler(message);
      }),
    onUnreachable: (handler) => transport.onUnreachable(handler),
    onSnapshotStatus: (handler) => transport.onSnapshotStatus(handler),
    setSnapshotStreams: (streams) => transport.setSnapshotStreams(streams),
    peerStats: (peer) => transport.peerStats(peer),
  };
}
