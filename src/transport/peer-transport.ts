/**
 * What the member sees of its peers. The member hands over the messages of each Ready and hears
 * back about arrivals, unreachable peers and snapshot outcomes; it never learns whether the
 * bytes went over TCP or through the simulator's in-memory network, which implements this same
 * interface.
 *
 * Contract for every implementation:
 * - `send` never blocks and never throws for network reasons. Raft tolerates loss, so a message
 *   that cannot go out is dropped and counted; only programmer errors (a local message type, a
 *   message not from this member) throw.
 * - Messages to one peer arrive in the order they were sent, or not at all; the one exception is
 *   a MsgSnap, which arrives when its (possibly large) data has arrived, so messages sent after
 *   it may overtake it. Raft does not send a follower appends while its snapshot is in flight.
 * - Handlers are never called synchronously from inside `send`, `addPeer`, `removePeer` or
 *   `updatePeer`, so the member can call those in the middle of handling a Ready without
 *   re-entering raft.
 * - Handlers must not throw: they run inside socket callbacks, where a throw is a bug that
 *   stops the member loudly. The message handler should only enqueue for the raft loop.
 * - Every MsgSnap passed to `send` gets exactly one `snapshotStatus` for its recipient (unless
 *   the peer is removed or the transport stopped first), so raft's progress for that follower
 *   never stays stuck in the snapshot state.
 */
import type { MemberId } from '../base/index.ts';
import type { Message } from '../raft/types.ts';
import type { SnapshotStreams } from './snapshot-streams.ts';

export type MessageHandler = (message: Message) => void;
export type UnreachableHandler = (peer: MemberId) => void;
export type SnapshotStatusHandler = (peer: MemberId, ok: boolean) => void;

export interface PeerStats {
  /** Whether an outbound connection is established and past the handshake. */
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly sentMessages: number;
  /** Writes those messages took; sentMessages / sentBatches is the batching factor. */
  readonly sentBatches: number;
  /** Messages dropped because the queue was full (raft will retransmit). */
  readonly droppedMessages: number;
  readonly sentBytes: number;
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
}

export interface PeerTransport {
  /** Starts accepting peers' connections; resolves once listening. */
  start(): Promise<void>;
  /** Closes every connection and the listener; queued messages are dropped. */
  stop(): Promise<void>;

  /** Adds a peer reachable at `urls` (etcd-style peer URLs such as `http://10.0.0.2:2380`). */
  addPeer(peer: MemberId, urls: readonly string[]): void;
  /** Changes the peer's URLs; the next (re)connection uses them. */
  updatePeer(peer: MemberId, urls: readonly string[]): void;
  /** Forgets the peer: its queue is dropped and its connections closed, inbound ones too. */
  removePeer(peer: MemberId): void;

  /** Queues messages for their recipients (`message.to`); see the contract above. */
  send(messages: readonly Message[]): void;

  /** Registers the one handler for inbound messages, already checked to be addressed to us. */
  onMessage(handler: MessageHandler): void;
  /** Registers the handler told when a peer cannot be reached (rate-limited per peer). */
  onUnreachable(handler: UnreachableHandler): void;
  /** Registers the handler told whether a streamed snapshot reached its recipient. */
  onSnapshotStatus(handler: SnapshotStatusHandler): void;
  /** Registers where MsgSnap data is read from when sent and spooled to when received, before
   *  the MsgSnap is delivered (default: the message's own snapshot.data; snapshot-streams.ts). */
  setSnapshotStreams(streams: SnapshotStreams): void;

  /** Counters for metrics and tests; undefined for an unknown peer. */
  peerStats(peer: MemberId): PeerStats | undefined;
}
