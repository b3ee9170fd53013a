/**
 * The PeerTransport members get in the member world: every message is encoded with the real
 * message codec and decoded on arrival (so the member never shares objects with its peers, as
 * over TCP), and travels over the simulator's SimNetwork (per-message delay, loss, duplication,
 * late delivery that reorders, cut links). The transport contract's callbacks are honoured:
 * handlers never run inside `send`, every MsgSnap gets exactly one snapshot status, and a
 * partitioned peer is reported unreachable. A MsgSnap's data is the sender's backend, read when
 * it is sent, and the receiver spools it through the member's own sink (a file on its faulty
 * disk) before delivery, as TcpPeerTransport does.
 *
 * Deliberately harsher than TCP: messages on one link may be reordered and duplicated. Raft must
 * tolerate both, and the glue must not rely on the transport's in-order promise for safety.
 */
import { asMemberId, type MemberId } from '../../../src/base/index.ts';
import type { Message } from '../../../src/raft/index.ts';
import { decodeMessage, encodeMessage } from '../../../src/transport/index.ts';
import { InMemoryPeerTransport } from '../../support/in-memory-peer-transport.ts';
import type { SimNetwork } from '../sim-network.ts';
import type { World } from '../world.ts';

/** Routes messages between the transports of the members' current processes. */
export class SimPeerNetwork {
  private readonly current = new Map<bigint, SimPeerTransport>();
  delivered = 0;

  constructor(
    readonly world: World,
    readonly network: SimNetwork,
    /** Members are network endpoints by a small number; member ids are large. */
    private readonly endpointOf: (id: bigint) => number,
  ) {}

  /** A transport for a new process of member `id`; it replaces the dead process's one. */
  transport(id: bigint): SimPeerTransport {
    const transport = new SimPeerTransport(asMemberId(id), this);
    this.current.set(id, transport);
    return transport;
  }

  route(sender: SimPeerTransport, message: Message): void {
    if (message.type !== 'MsgSnap') {
      this.travel(sender, message, null);
      return;
    }
    // As over TCP: the data is read from the sender's backend when the snapshot leaves (newer
    // than the snapshot's index if entries were applied since), and the receiver spools it to
    // its disk before raft sees the MsgSnap. The backend's stream is in memory, so the read
    // finishes within this step.
    void sender.readSnapshot(message).then(
      (chunks) => this.travel(sender, message, chunks),
      () => this.travel(sender, message, null),
    );
  }

  private travel(sender: SimPeerTransport, message: Message, chunks: Uint8Array[] | null): void {
    const bytes = encodeMessage(message);
    const isSnapshot = message.type === 'MsgSnap';
    const to = message.to;
    const report = (ok: boolean, partitioned: boolean): void => {
      // Feedback comes later, never inside send (the contract), and only to a live process.
      this.world.schedule(0, () => {
        if (!sender.running) return;
        if (partitioned) sender.unreachable(to);
        if (isSnapshot) sender.snapshotDone(to, ok);
      });
    };
    this.network.send(
      this.endpointOf(message.from),
      this.endpointOf(to),
      () => {
        const target = this.current.get(to);
        if (target === undefined || !target.running) {
          if (isSnapshot) report(false, false);
          return;
        }
        this.delivered++;
        const copy = decodeMessage(bytes.slice(), true);
        this.world.trace.record(this.world.nowMs, describeDelivery(copy));
        if (!isSnapshot) {
          target.deliver(copy);
          return;
        }
        if (chunks === null) {
          report(false, false);
          return;
        }
        void target.receiveSnapshot(copy, chunks).then(
          (ok) => report(ok, false),
          () => report(false, false),
        );
      },
      (reason) => report(false, reason === 'partition'),
    );
  }
}

export class SimPeerTransport extends InMemoryPeerTransport {
  constructor(
    id: MemberId,
    private readonly network: SimPeerNetwork,
  ) {
    super(id);
  }

  /** The process died: nothing more goes out or comes in. */
  kill(): void {
    this.running = false;
  }

  protected forward(message: Message): void {
    // A member that no longer lists the peer (it was removed) sends it nothing.
    if (this.peers.has(message.to)) this.network.route(this, message);
  }
}

function describeDelivery(message: Message): string {
  return (
    `deliver ${message.type} ${message.from.toString(16)}->${message.to.toString(16)} ` +
    `t${message.term} i${message.index}/${message.logTerm} c${message.commit} ` +
    `n${message.entries.length}${message.reject ? ' reject' : ''}` +
    `${message.snapshot === null ? '' : ` snap${message.snapshot.metadata.index}`}`
  );
}
