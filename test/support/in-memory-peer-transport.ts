/**
 * The part of an in-process PeerTransport that every test network shares: the peer table, the
 * handlers, the running flag and the counters. A network subclasses it and decides only how a
 * message travels (`forward`), so the PeerTransport contract lives in one place.
 */
import type { MemberId } from '../../src/base/index.ts';
import type { Message } from '../../src/raft/index.ts';
import {
  inlineSnapshotStreams,
  type MessageHandler,
  type PeerStats,
  type PeerTransport,
  type SnapshotStatusHandler,
  type SnapshotStreams,
  type UnreachableHandler,
} from '../../src/transport/index.ts';

export abstract class InMemoryPeerTransport implements PeerTransport {
  running = false;
  readonly peers = new Map<MemberId, readonly string[]>();
  private messageHandler: MessageHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private snapshotHandler: SnapshotStatusHandler | null = null;
  private snapshotStreams: SnapshotStreams = inlineSnapshotStreams;
  sent = 0;

  constructor(readonly id: MemberId) {}

  /** Hands one message to the network; never delivers it synchronously (the contract). */
  protected abstract forward(message: Message): void;

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
  }

  addPeer(peer: MemberId, urls: readonly string[]): void {
    this.peers.set(peer, urls);
  }

  updatePeer(peer: MemberId, urls: readonly string[]): void {
    this.peers.set(peer, urls);
  }

  removePeer(peer: MemberId): void {
    this.peers.delete(peer);
  }

  send(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.from !== this.id) throw new Error("a transport sends only its member's messages");
      if (!this.running) continue;
      this.sent++;
      this.forward(message);
    }
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = handler;
  }

  onSnapshotStatus(handler: SnapshotStatusHandler): void {
    this.snapshotHandler = handler;
  }

  setSnapshotStreams(streams: SnapshotStreams): void {
    this.snapshotStreams = streams;
  }

  /** Reads an outgoing MsgSnap's data, as the TCP transport does when it starts streaming it. */
  async readSnapshot(message: Message): Promise<Uint8Array[]> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.snapshotStreams.outgoing(message)) chunks.push(chunk.slice());
    return chunks;
  }

  /** Spools a MsgSnap's data through this member's sink, then delivers the MsgSnap, as the TCP
   *  transport's receiver does; resolves whether it was delivered. */
  async receiveSnapshot(message: Message, chunks: readonly Uint8Array[]): Promise<boolean> {
    const snapshot = message.snapshot;
    if (!this.running || snapshot === null) return false;
    const sink = await this.snapshotStreams.incoming(message);
    try {
      for (const chunk of chunks) await sink.write(chunk);
      const data = await sink.commit();
      if (!this.running) return false;
      this.deliver({ ...message, snapshot: { ...snapshot, data } });
      return true;
    } catch {
      await sink.abort().catch(() => undefined);
      return false;
    }
  }

  deliver(message: Message): void {
    if (this.running) this.messageHandler?.(message);
  }

  unreachable(peer: MemberId): void {
    if (this.running) this.unreachableHandler?.(peer);
  }

  snapshotDone(peer: MemberId, ok: boolean): void {
    if (this.running) this.snapshotHandler?.(peer, ok);
  }

  peerStats(peer: MemberId): PeerStats | undefined {
    if (!this.peers.has(peer)) return undefined;
    return {
      connected: this.running,
      queuedMessages: 0,
      sentMessages: this.sent,
      sentBatches: this.sent,
      droppedMessages: 0,
      sentBytes: 0,
      snapshotsSent: 0,
      snapshotsFailed: 0,
    };
  }
}
