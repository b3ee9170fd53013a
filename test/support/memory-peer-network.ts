/**
 * An in-memory network of PeerTransports for member tests. Messages are delivered on a later
 * event-loop turn (never synchronously inside send, as the PeerTransport contract requires),
 * in order per pair; links can be cut per direction or a member isolated. A MsgSnap is
 * delivered whole and its sender told the outcome, as the contract promises.
 */
import type { MemberId } from '../../src/base/index.ts';
import type { Message } from '../../src/raft/index.ts';
import type {
  MessageHandler,
  PeerStats,
  PeerTransport,
  SnapshotStatusHandler,
  UnreachableHandler,
} from '../../src/transport/index.ts';

export class MemoryPeerNetwork {
  private readonly transports = new Map<MemberId, MemoryPeerTransport>();
  private readonly cut = new Set<string>();
  delivered = 0;
  dropped = 0;

  transport(id: MemberId): MemoryPeerTransport {
    const transport = new MemoryPeerTransport(id, this);
    this.transports.set(id, transport);
    return transport;
  }

  /** Cuts (or restores) the link from → to. */
  setLink(from: MemberId, to: MemberId, up: boolean): void {
    const key = `${from}->${to}`;
    if (up) this.cut.delete(key);
    else this.cut.add(key);
  }

  isolate(id: MemberId): void {
    for (const other of this.transports.keys()) {
      if (other === id) continue;
      this.setLink(id, other, false);
      this.setLink(other, id, false);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Called by a transport's send; delivery happens on a later turn. */
  route(message: Message): void {
    const from = message.from;
    setImmediate(() => {
      const sender = this.transports.get(from);
      const target = this.transports.get(message.to);
      const linkUp = !this.cut.has(`${from}->${message.to}`);
      const ok = target !== undefined && target.running && linkUp && sender?.running === true;
      if (message.type === 'MsgSnap') sender?.snapshotDone(message.to, ok);
      if (!ok) {
        this.dropped++;
        if (sender?.running === true) sender.unreachable(message.to);
        return;
      }
      this.delivered++;
      target.deliver(message);
    });
  }
}

export class MemoryPeerTransport implements PeerTransport {
  running = false;
  readonly peers = new Map<MemberId, readonly string[]>();
  private messageHandler: MessageHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private snapshotHandler: SnapshotStatusHandler | null = null;
  sent = 0;

  constructor(
    readonly id: MemberId,
    private readonly network: MemoryPeerNetwork,
  ) {}

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
      this.network.route(message);
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

  deliver(message: Message): void {
    if (this.running) this.messageHandler?.(message);
  }

  unreachable(peer: MemberId): void {
    this.unreachableHandler?.(peer);
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
