/**
 * An in-memory network of PeerTransports for member tests. Messages are delivered on a later
 * event-loop turn (never synchronously inside send, as the PeerTransport contract requires),
 * in order per pair; links can be cut per direction or a member isolated. A MsgSnap is
 * delivered whole and its sender told the outcome, as the contract promises.
 */
import type { MemberId } from '../../src/base/index.ts';
import type { Message } from '../../src/raft/index.ts';
import { InMemoryPeerTransport } from './in-memory-peer-transport.ts';

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
    if (message.type === 'MsgSnap') {
      void this.routeSnapshot(message);
      return;
    }
    const from = message.from;
    setImmediate(() => {
      const sender = this.transports.get(from);
      const target = this.transports.get(message.to);
      const linkUp = !this.cut.has(`${from}->${message.to}`);
      const ok = target !== undefined && target.running && linkUp && sender?.running === true;
      if (!ok) {
        this.dropped++;
        if (sender?.running === true) sender.unreachable(message.to);
        return;
      }
      this.delivered++;
      target.deliver(message);
    });
  }

  /** The data is read when the snapshot is sent and spooled by the receiver before delivery. */
  private async routeSnapshot(message: Message): Promise<void> {
    const from = message.from;
    const sender = this.transports.get(from);
    const chunks = (await sender?.readSnapshot(message).catch(() => null)) ?? null;
    await new Promise<void>((resolve) => setImmediate(resolve));
    const target = this.transports.get(message.to);
    const linkUp = !this.cut.has(`${from}->${message.to}`);
    const ok =
      chunks !== null &&
      target !== undefined &&
      linkUp &&
      sender?.running === true &&
      (await target.receiveSnapshot(message, chunks));
    sender?.snapshotDone(message.to, ok);
    if (ok) this.delivered++;
    else {
      this.dropped++;
      if (sender?.running === true) sender.unreachable(message.to);
    }
  }
}

export class MemoryPeerTransport extends InMemoryPeerTransport {
  constructor(
    id: MemberId,
    private readonly network: MemoryPeerNetwork,
  ) {
    super(id);
  }

  protected forward(message: Message): void {
    this.network.route(message);
  }
}
