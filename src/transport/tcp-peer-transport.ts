/**
 * The production PeerTransport: one outbound TCP stream per peer (outbound-peer.ts) and a
 * listener for the peers' streams to us (inbound-connection.ts). This class owns the peer table
 * and the handlers, and guarantees that handlers run outside of the member's calls.
 */
import net from 'node:net';
import type { Message } from '../raft/types.ts';
import {
  assert,
  BugError,
  formatMemberId,
  type Clock,
  type MemberId,
  type Random,
} from '../base/index.ts';
import { InboundConnection, type InboundContext } from './inbound-connection.ts';
import { estimateMessageBytes, isLocalMessageType, MESSAGE_BYTES_MAX } from './message-codec.ts';
import type { Logger } from './logger.ts';
import { OutboundPeer, type OutboundPeerContext } from './outbound-peer.ts';
import type {
  MessageHandler,
  PeerStats,
  PeerTransport,
  SnapshotStatusHandler,
  UnreachableHandler,
} from './peer-transport.ts';
import { parsePeerUrls } from './peer-url.ts';
import { inlineSnapshotStreams, type SnapshotStreams } from './snapshot-streams.ts';
import {
  DEFAULT_TRANSPORT_LIMITS,
  validateTransportLimits,
  type TransportLimits,
} from './transport-options.ts';

export interface TcpPeerTransportOptions {
  readonly localId: MemberId;
  readonly clusterId: bigint;
  /** Address to accept peers on; port 0 picks a free one (see `listeningPort`). */
  readonly listenHost: string;
  readonly listenPort: number;
  readonly clock: Clock;
  /** Only for reconnect jitter. */
  readonly random: Random;
  readonly logger: Logger;
  readonly limits?: Partial<TransportLimits>;
  /** What a joining member's cluster-info request is answered with (default: nothing). */
  readonly clusterInfo?: () => Uint8Array;
}

type TransportState = 'new' | 'starting' | 'running' | 'stopped';

export class TcpPeerTransport implements PeerTransport {
  private readonly limits: TransportLimits;
  private readonly server: net.Server;
  private readonly peers = new Map<MemberId, OutboundPeer>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly inboundByPeer = new Map<MemberId, InboundConnection>();
  private state: TransportState = 'new';
  private messageHandler: MessageHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private snapshotStatusHandler: SnapshotStatusHandler | null = null;
  private snapshotStreams: SnapshotStreams = inlineSnapshotStreams;
  private droppedToUnknownPeers = 0;
  private readonly outboundContext: OutboundPeerContext;
  private readonly inboundContext: InboundContext;

  constructor(private readonly options: TcpPeerTransportOptions) {
    assert(options.localId !== 0n, 'member id 0 is reserved for "no member"');
    assert(options.clusterId >= 0n && options.clusterId < 1n << 64n, 'cluster id is a u64');
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    validateTransportLimits(this.limits);
    const { localId, clusterId, clock, random, logger } = options;
    this.outboundContext = {
      localId,
      clusterId,
      clock,
      random,
      logger,
      limits: this.limits,
      reportUnreachable: (peer) => this.defer(() => this.unreachableHandler?.(peer)),
      reportSnapshotStatus: (peer, ok) => this.defer(() => this.snapshotStatusHandler?.(peer, ok)),
      snapshotStreams: () => this.snapshotStreams,
    };
    this.inboundContext = {
      localId,
      clusterId,
      clock,
      logger,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      pingIntervalMs: this.limits.pingIntervalMs,
      peerIdleTimeoutMs: this.limits.peerIdleTimeoutMs,
      isKnownPeer: (peer) => this.peers.has(peer),
      clusterInfo: () => options.clusterInfo?.() ?? new Uint8Array(0),
      onEstablished: (connection) => this.onInboundEstablished(connection),
      onClosed: (connection) => this.onInboundClosed(connection),
      deliver: (message) => this.messageHandler?.(message),
      snapshotStreams: () => this.snapshotStreams,
    };
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  async start(): Promise<void> {
    assert(this.state === 'new', `start in state ${this.state}`);
    this.state = 'starting';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      // URL.hostname keeps IPv6 literals bracketed; listen() wants them bare.
      const host = this.options.listenHost.replace(/^\[(.*)\]$/, '$1');
      this.server.listen({ host, port: this.options.listenPort }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) => {
      this.options.logger.error({ error: error.message }, 'peer listener error');
    });
    this.state = 'running';
    for (const peer of this.peers.values()) peer.start();
    this.options.logger.info(
      { member: formatMemberId(this.options.localId), port: this.listeningPort() },
      'peer transport listening',
    );
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasListening = this.state === 'running';
    this.state = 'stopped';
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const connection of [...this.inbound]) connection.close('transport stopping');
    if (wasListening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The port actually bound, useful when `listenPort` was 0. */
  listeningPort(): number {
    const address = this.server.address();
    assert(address !== null && typeof address === 'object', 'transport is not listening');
    return address.port;
  }

  addPeer(peer: MemberId, urls: readonly string[]): void {
    assert(this.state !== 'stopped', 'addPeer after stop');
    assert(!this.peers.has(peer), `peer ${formatMemberId(peer)} added twice`);
    const outbound = new OutboundPeer(peer, parsePeerUrls(urls), this.outboundContext);
    this.peers.set(peer, outbound);
    if (this.state === 'running') outbound.start();
  }

  updatePeer(peer: MemberId, urls: readonly string[]): void {
    const outbound = this.peers.get(peer);
    assert(outbound !== undefined, `update of unknown peer ${formatMemberId(peer)}`);
    outbound.updateAddresses(parsePeerUrls(urls));
  }

  removePeer(peer: MemberId): void {
    const outbound = this.peers.get(peer);
    if (outbound === undefined) return;
    outbound.close();
    this.peers.delete(peer);
    this.inboundByPeer.get(peer)?.close('peer removed');
  }

  send(messages: readonly Message[]): void {
    const touched = new Set<OutboundPeer>();
    for (const message of messages) {
      assert(message.from === this.options.localId, 'sending a message not from this member');
      assert(!isLocalMessageType(message.type), 'a local message given to send');
      // The member's limits (max request bytes, raft's max message size) must keep every
      // message below the codec's; failing here names the culprit instead of a later flush.
      // Snapshot data is streamed, so it does not count.
      const dataBytes = message.snapshot?.data.length ?? 0;
      if (estimateMessageBytes(message) - dataBytes > MESSAGE_BYTES_MAX) {
        const to = formatMemberId(message.to);
        throw new BugError(`${message.type} to ${to} exceeds ${MESSAGE_BYTES_MAX} bytes`);
      }
      if (this.state === 'stopped') return;
      const peer = this.peers.get(message.to);
      if (peer === undefined) {
        this.dropForUnknownPeer(message);
        continue;
      }
      peer.enqueue(message);
      touched.add(peer);
    }
    // One write per peer for this call's messages now, not at the end of the event-loop turn.
    for (const peer of touched) peer.flushQueued();
  }

  onMessage(handler: MessageHandler): void {
    assert(this.messageHandler === null, 'onMessage registered twice');
    this.messageHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    assert(this.unreachableHandler === null, 'onUnreachable registered twice');
    this.unreachableHandler = handler;
  }

  onSnapshotStatus(handler: SnapshotStatusHandler): void {
    assert(this.snapshotStatusHandler === null, 'onSnapshotStatus registered twice');
    this.snapshotStatusHandler = handler;
  }

  setSnapshotStreams(streams: SnapshotStreams): void {
    this.snapshotStreams = streams;
  }

  peerStats(peer: MemberId): PeerStats | undefined {
    return this.peers.get(peer)?.stats();
  }

  /** Messages addressed to members this transport does not know, for metrics. */
  get droppedForUnknownPeers(): number {
    return this.droppedToUnknownPeers;
  }

  private dropForUnknownPeer(message: Message): void {
    this.droppedToUnknownPeers++;
    this.options.logger.debug(
      { to: formatMemberId(message.to), type: message.type },
      'message for an unknown peer dropped',
    );
    if (message.type === 'MsgSnap') this.outboundContext.reportSnapshotStatus(message.to, false);
  }

  private onConnection(socket: net.Socket): void {
    if (this.state !== 'running' || this.inbound.size >= this.limits.inboundConnectionsMax) {
      this.options.logger.warn(
        { remote: socket.remoteAddress, inbound: this.inbound.size },
        'refusing inbound peer connection',
      );
      socket.destroy();
      return;
    }
    this.inbound.add(new InboundConnection(socket, this.inboundContext));
  }

  private onInboundEstablished(connection: InboundConnection): void {
    const peer = connection.remoteId;
    assert(peer !== null, 'established without a peer id');
    // A peer that redialled before we saw its old connection die: the newest one is live.
    const previous = this.inboundByPeer.get(peer);
    this.inboundByPeer.set(peer, connection);
    previous?.close('replaced by a newer connection from the same peer');
  }

  private onInboundClosed(connection: InboundConnection): void {
    this.inbound.delete(connection);
    const peer = connection.remoteId;
    if (peer !== null && this.inboundByPeer.get(peer) === connection)
      this.inboundByPeer.delete(peer);
  }

  /** Handlers never run inside the member's own call into the transport (see the contract). */
  private defer(callback: () => void): void {
    setImmediate(() => {
      if (this.state !== 'stopped') callback();
    });
  }
}
