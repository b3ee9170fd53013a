/**
 * A fault-injecting TCP proxy in front of one member's peer port. Every member advertises its
 * proxy's address as its peer URL, so all raft traffic towards member `to` passes through its
 * proxy. The dialer's first frame is the transport's hello (src/transport/peer-protocol.ts:
 * frame header u32 length | u8 version | u8 kind=hello, body "SGKV" | u64 clusterId | u64 from |
 * u64 to), so the proxy learns the sending member of each connection and can cut any directed
 * link (from, to):
 *
 * - `blackhole`: bytes in both directions of the connection are swallowed, as a dropped network
 *   path does; the sender notices only through its own timeouts. When the link heals, swallowed
 *   connections are closed, because a stream that lost bytes mid-frame cannot be resumed.
 * - `reset`: the connection is closed at once, and new ones are closed after their hello, as a
 *   refusing firewall does.
 *
 * Connections that do not start with a hello (a joining member asking for the member list) are
 * carried but never cut: they name no sender.
 *
 * A transport connection carries raft messages one way only (the dialer sends, the acceptor
 * answers handshakes and pings), so cutting (from, to) stops exactly the messages from `from` to
 * `to`; the reverse direction travels on the connection `to` dials through `from`'s proxy.
 */
import net from 'node:net';
import { FrameKind, FRAME_HEADER_BYTES } from '../../src/transport/frame-codec.ts';
import { decodeHello } from '../../src/transport/peer-protocol.ts';

export type LinkFault = 'blackhole' | 'reset';

/** The directed links that are cut; shared by every proxy of a cluster. */
export class PeerLinkFaults {
  private readonly cut = new Map<string, LinkFault>();
  private readonly listeners = new Set<() => void>();

  private static key(from: number, to: number): string {
    return `${from}>${to}`;
  }

  faultOf(from: number, to: number): LinkFault | undefined {
    return this.cut.get(PeerLinkFaults.key(from, to));
  }

  cutLink(from: number, to: number, fault: LinkFault): void {
    if (from === to) return;
    this.cut.set(PeerLinkFaults.key(from, to), fault);
    this.changed();
  }

  /** Cuts every link between the two groups, both ways. */
  cutBetween(groupA: readonly number[], groupB: readonly number[], fault: LinkFault): void {
    for (const a of groupA) {
      for (const b of groupB) {
        if (a === b) continue;
        this.cut.set(PeerLinkFaults.key(a, b), fault);
        this.cut.set(PeerLinkFaults.key(b, a), fault);
      }
    }
    this.changed();
  }

  healAll(): void {
    this.cut.clear();
    this.changed();
  }

  describe(): string {
    return this.cut.size === 0
      ? 'none'
      : [...this.cut].map(([link, fault]) => `${link}:${fault}`).join(' ');
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

const HELLO_BODY_BYTES = 4 + 8 + 8 + 8;
const HELLO_FRAME_BYTES = FRAME_HEADER_BYTES + HELLO_BODY_BYTES;

interface ProxiedConnection {
  /** The sender's member id from its hello; undefined when the first frame was no hello. */
  readonly fromId: bigint | undefined;
  readonly dialer: net.Socket;
  readonly upstream: net.Socket;
  blackholed: boolean;
}

export interface PeerProxyOptions {
  /** The member index this proxy fronts. */
  readonly to: number;
  readonly listenPort: number;
  /** The member's real --listen-peer-urls port. */
  readonly targetPort: number;
  readonly faults: PeerLinkFaults;
  /** Maps a member id from a hello to its index; undefined for ids not (yet) known. */
  readonly memberIndexOf: (memberId: bigint) => number | undefined;
}

export class PeerProxy {
  private readonly server: net.Server;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly pending = new Set<net.Socket>();
  private readonly unsubscribe: () => void;
  /** Connections the proxy carried and cut, for the run's report. */
  readonly counters = { accepted: 0, reset: 0, blackholed: 0 };

  constructor(private readonly options: PeerProxyOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.unsubscribe = options.faults.onChange(() => this.applyFaults());
  }

  get port(): number {
    return this.options.listenPort;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.listenPort, '127.0.0.1', () => resolve());
    });
  }

  stop(): Promise<void> {
    this.unsubscribe();
    for (const socket of this.pending) socket.destroy();
    for (const connection of this.connections) this.close(connection);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(dialer: net.Socket): void {
    this.counters.accepted++;
    this.pending.add(dialer);
    dialer.setNoDelay(true);
    dialer.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < FRAME_HEADER_BYTES) return;
      // Only a hello names its sender; any other first frame (a joining member's cluster-info
      // request, say) is forwarded as it is, on a connection no fault applies to.
      const isHello = buffered[5] === FrameKind.hello;
      if (isHello && buffered.length < HELLO_FRAME_BYTES) return;
      dialer.off('data', onData);
      dialer.pause();
      this.pending.delete(dialer);
      this.connectUpstream(dialer, buffered, isHello ? senderOf(buffered) : undefined);
    };
    dialer.on('data', onData);
    dialer.once('close', () => this.pending.delete(dialer));
  }

  private connectUpstream(
    dialer: net.Socket,
    firstBytes: Buffer,
    fromId: bigint | undefined,
  ): void {
    const upstream = net.connect({ host: '127.0.0.1', port: this.options.targetPort });
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    const connection: ProxiedConnection = { fromId, dialer, upstream, blackholed: false };
    this.connections.add(connection);
    upstream.write(firstBytes);
    this.forward(connection, dialer, upstream);
    this.forward(connection, upstream, dialer);
    dialer.once('close', () => this.close(connection));
    upstream.once('close', () => this.close(connection));
    this.applyFault(connection);
    dialer.resume();
  }

  /** Copies source → sink with backpressure, dropping everything while blackholed. */
  private forward(connection: ProxiedConnection, source: net.Socket, sink: net.Socket): void {
    source.on('data', (chunk: Buffer) => {
      if (connection.blackholed) return;
      if (!sink.write(chunk)) source.pause();
    });
    sink.on('drain', () => source.resume());
  }

  private applyFaults(): void {
    for (const connection of [...this.connections]) this.applyFault(connection);
  }

  private applyFault(connection: ProxiedConnection): void {
    // Resolved now, not at accept: a member that just joined is known only once it answered.
    const from =
      connection.fromId === undefined ? undefined : this.options.memberIndexOf(connection.fromId);
    if (from === undefined) return;
    const fault = this.options.faults.faultOf(from, this.options.to);
    if (fault === 'reset') {
      this.counters.reset++;
      this.close(connection);
    } else if (fault === 'blackhole' && !connection.blackholed) {
      this.counters.blackholed++;
      connection.blackholed = true;
      // A swallowing path still accepts bytes: keep reading so the sender's writes succeed.
      connection.dialer.resume();
      connection.upstream.resume();
    } else if (fault === undefined && connection.blackholed) {
      this.close(connection);
    }
  }

  private close(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return;
    connection.dialer.destroy();
    connection.upstream.destroy();
  }
}

/** The sending member's id, or undefined when the first frame is not a valid hello. */
function senderOf(firstBytes: Buffer): bigint | undefined {
  const header = new DataView(firstBytes.buffer, firstBytes.byteOffset, FRAME_HEADER_BYTES);
  if (header.getUint32(0) !== HELLO_BODY_BYTES || firstBytes[5] !== FrameKind.hello) {
    return undefined;
  }
  try {
    return decodeHello(firstBytes.subarray(FRAME_HEADER_BYTES, HELLO_FRAME_BYTES)).from;
  } catch {
    return undefined;
  }
}
