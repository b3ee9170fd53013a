/**
 * The long-lived outbound stream to one peer: dial, handshake, batch, back off, redial.
 *
 * Why plain TCP and not HTTP/2: raft traffic is one-way streams of small messages between a
 * handful of known peers. Our own 6-byte frames over TCP give batching and backpressure we
 * control (cork, writableNeedDrain), no per-message stream setup or header compression, and
 * no second flow-control window fighting ours. HTTP/2's benefits (multiplexing many
 * independent requests, proxies, TLS ALPN) do not apply between raft members.
 *
 * Snapshots share the connection: the data (read from the backend as it goes, see
 * snapshot-streams.ts) goes out in chunk frames with at most one chunk in flight, and queued
 * messages are written before each next chunk, so a heartbeat waits for at most one chunk
 * instead of the whole snapshot. The receiver acknowledges the whole snapshot;
 * only then is the snapshot reported as sent.
 */
import net from 'node:net';
import type { Message } from '../raft/types.ts';
import { assert, formatMemberId, type MemberId, type TimerHandle } from '../base/index.ts';
import type { Clock, Random } from '../base/index.ts';
import { FrameDecodeError } from './frame-decode-error.ts';
import { FrameDecoder, FrameKind } from './frame-codec.ts';
import { HANDSHAKE_FRAME_BYTES_MAX, type Frame } from './frame-codec.ts';
import { estimateMessageBytes } from './message-codec.ts';
import { decodeHelloAck, decodeSnapshotAck, encodeHello, PING_FRAME } from './peer-protocol.ts';
import { expectEmptyBody } from './peer-protocol.ts';
import { ConnectionLiveness } from './connection-liveness.ts';
import { encodeMessageBatch } from './peer-protocol.ts';
import { SnapshotSender } from './snapshot-sender.ts';
import type { SnapshotStreams } from './snapshot-streams.ts';
import type { PeerStats } from './peer-transport.ts';
import type { Logger } from './logger.ts';
import type { PeerAddress } from './peer-url.ts';
import { ReconnectBackoff } from './reconnect-backoff.ts';
import type { TransportLimits } from './transport-options.ts';

export interface OutboundPeerContext {
  readonly localId: MemberId;
  readonly clusterId: bigint;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly limits: TransportLimits;
  /** Called from socket and timer callbacks; the transport defers it to the handler. */
  reportUnreachable(peer: MemberId): void;
  reportSnapshotStatus(peer: MemberId, ok: boolean): void;
  /** Where a MsgSnap's data is read from when it is sent (see snapshot-streams.ts). */
  snapshotStreams(): SnapshotStreams;
}

type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export class OutboundPeer {
  private addresses: readonly PeerAddress[];
  private addressCursor = 0;
  private state: ConnectionState = 'idle';
  private socket: net.Socket | null = null;
  private handshakeTimer: TimerHandle | null = null;
  private backoffTimer: TimerHandle | null = null;
  private readonly backoff: ReconnectBackoff;
  private queue: Message[] = [];
  private queuedBytes = 0;
  private flushImmediate: NodeJS.Immediate | null = null;
  /** flushQueued() wrote in this event-loop turn; later messages wait for the turn's end. */
  private flushedEarly = false;
  private snapshot: SnapshotSender | null = null;
  private liveness: ConnectionLiveness | null = null;
  private lastUnreachableReportMs = -Infinity;
  private lastDropWarningMs = -Infinity;
  private readonly counters = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    sentBytes: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
  };

  constructor(
    readonly id: MemberId,
    addresses: readonly PeerAddress[],
    private readonly context: OutboundPeerContext,
  ) {
    assert(addresses.length > 0, 'a peer needs an address');
    assert(id !== context.localId, 'a member is not its own peer');
    this.addresses = addresses;
    const { backoffInitialMs, backoffMaxMs } = context.limits;
    this.backoff = new ReconnectBackoff(
      { initialDelayMs: backoffInitialMs, maxDelayMs: backoffMaxMs },
      context.random,
    );
  }

  start(): void {
    assert(this.state === 'idle', `start in state ${this.state}`);
    this.dial();
  }

  /** The current connection (if any) stays; the next dial uses the new addresses. */
  updateAddresses(addresses: readonly PeerAddress[]): void {
    assert(addresses.length > 0, 'a peer needs an address');
    this.addresses = addresses;
    this.addressCursor = 0;
  }

  enqueue(message: Message): void {
    assert(this.state !== 'closed', 'enqueue on a closed peer');
    assert(message.to === this.id, 'message for another peer');
    if (message.type === 'MsgSnap') {
      this.enqueueSnapshot(message);
      return;
    }
    const bytes = estimateMessageBytes(message);
    const { queuedMessagesMax, queuedBytesMax } = this.context.limits;
    if (this.queue.length >= queuedMessagesMax || this.queuedBytes + bytes > queuedBytesMax) {
      this.counters.droppedMessages++;
      this.warnDropped();
      // As etcd does: raft learns the peer missed messages and probes it again, instead of
      // waiting with a full inflight window for acknowledgements that will never come.
      this.reportUnreachable();
    } else {
      this.queue.push(message);
      this.queuedBytes += bytes;
    }
    if (this.state === 'connected') this.scheduleFlush();
    // While a dial is in progress we do not know yet; a failed dial reports on close.
    else if (this.state !== 'connecting') this.reportUnreachable();
  }

  close(): void {
    this.state = 'closed';
    this.handshakeTimer?.cancel();
    this.backoffTimer?.cancel();
    this.liveness?.stop();
    this.liveness = null;
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    this.flushedEarly = false;
    this.snapshot?.finish();
    this.snapshot = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.socket?.destroy();
    this.socket = null;
  }

  stats(): PeerStats {
    return {
      connected: this.state === 'connected',
      queuedMessages: this.queue.length,
      ...this.counters,
    };
  }

  private enqueueSnapshot(message: Message): void {
    assert(message.snapshot !== null, 'MsgSnap without a snapshot');
    if (this.snapshot !== null) {
      // Raft sends one snapshot per follower at a time; a second one means the first is stale.
      this.failSnapshotEarly('another snapshot is still streaming');
    } else if (this.state !== 'connected') {
      this.failSnapshotEarly('no connection');
      this.reportUnreachable();
    } else {
      const { snapshotChunkBytes, snapshotStallTimeoutMs } = this.context.limits;
      const options = { chunkBytes: snapshotChunkBytes, stallTimeoutMs: snapshotStallTimeoutMs };
      const source = this.context.snapshotStreams().outgoing(message);
      // Either way the receiver holds a half-built snapshot; only a fresh connection resets it.
      this.snapshot = new SnapshotSender(message, source, this.context.clock, options, {
        stalled: () => {
          this.finishSnapshot(false, 'stalled');
          this.socket?.destroy();
        },
        sourceFailed: (error) => {
          const reason = `reading the snapshot failed: ${error instanceof Error ? error.message : String(error)}`;
          this.finishSnapshot(false, reason);
          this.socket?.destroy();
        },
      });
      this.scheduleFlush();
    }
  }

  private failSnapshotEarly(reason: string): void {
    this.counters.snapshotsFailed++;
    this.context.logger.warn({ peer: formatMemberId(this.id), reason }, 'snapshot not sent');
    this.context.reportSnapshotStatus(this.id, false);
  }

  private dial(): void {
    assert(this.state === 'idle' || this.state === 'backoff', `dial in state ${this.state}`);
    assert(this.socket === null, 'dial with a live socket');
    const address = this.addresses[this.addressCursor++ % this.addresses.length];
    const socket = net.connect({ host: address.host, port: address.port });
    this.socket = socket;
    this.state = 'connecting';
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
    this.handshakeTimer = this.context.clock.setTimer(
      this.context.limits.handshakeTimeoutMs,
      () => {
        if (this.socket !== socket || this.state !== 'connecting') return;
        this.context.logger.debug({ peer: formatMemberId(this.id), ...address }, 'dial timed out');
        socket.destroy();
      },
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const hello = { clusterId: this.context.clusterId, from: this.context.localId, to: this.id };
    socket.write(encodeHello(hello));
    socket.on('data', (chunk: Buffer) => this.onData(socket, decoder, chunk));
    socket.on('drain', () => this.scheduleFlush());
    socket.on('error', (error) => {
      const fields = { peer: formatMemberId(this.id), ...address, error: error.message };
      this.context.logger.debug(fields, 'peer connection error');
    });
    socket.on('close', () => this.onSocketClosed(socket));
  }

  private onData(socket: net.Socket, decoder: FrameDecoder, chunk: Uint8Array): void {
    if (this.socket !== socket) return;
    try {
      for (const frame of decoder.push(chunk)) this.onFrame(socket, frame);
    } catch (error) {
      if (!(error instanceof FrameDecodeError)) throw error;
      this.context.logger.warn(
        { peer: formatMemberId(this.id), error: error.message },
        'peer sent a malformed frame; closing',
      );
      socket.destroy();
    }
  }

  private onFrame(socket: net.Socket, frame: Frame): void {
    if (this.socket !== socket) return;
    this.liveness?.heard();
    if (this.state === 'connecting' && frame.kind === FrameKind.helloAck) {
      this.onHelloAck(socket, decodeHelloAck(frame.body));
    } else if (this.state === 'connected' && frame.kind === FrameKind.snapshotAck) {
      this.onSnapshotAck(decodeSnapshotAck(frame.body));
    } else if (this.state === 'connected' && frame.kind === FrameKind.pong) {
      expectEmptyBody(frame.body, 'pong');
    } else {
      throw new FrameDecodeError(`unexpected frame kind ${frame.kind} in state ${this.state}`);
    }
  }

  private onHelloAck(socket: net.Socket, ack: { status: string; clusterId: bigint }): void {
    const peer = formatMemberId(this.id);
    if (ack.status !== 'ok') {
      const fields = {
        peer,
        status: ack.status,
        localClusterId: this.context.clusterId.toString(16),
        remoteClusterId: ack.clusterId.toString(16),
      };
      // Another cluster's member is a misconfiguration an operator must see; the other
      // verdicts can be transient during membership changes.
      const level = ack.status === 'cluster-mismatch' ? 'error' : 'warn';
      this.context.logger[level](fields, 'peer rejected our handshake');
      socket.destroy();
      return;
    }
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.state = 'connected';
    this.backoff.reset();
    this.context.logger.info({ peer }, 'peer stream connected');
    const { pingIntervalMs, peerIdleTimeoutMs } = this.context.limits;
    this.liveness = new ConnectionLiveness(
      this.context.clock,
      { intervalMs: pingIntervalMs, idleTimeoutMs: peerIdleTimeoutMs },
      () => socket.write(PING_FRAME),
      (silentMs) => {
        this.context.logger.warn({ peer, silentMs }, 'peer stream silent; reconnecting');
        socket.destroy();
      },
    );
    this.scheduleFlush();
  }

  private onSocketClosed(socket: net.Socket): void {
    if (this.socket !== socket) return;
    const wasConnected = this.state === 'connected';
    this.socket = null;
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.liveness?.stop();
    this.liveness = null;
    if (this.snapshot !== null) this.finishSnapshot(false, 'connection closed');
    if (this.state === 'closed') return;
    if (wasConnected) {
      this.context.logger.warn({ peer: formatMemberId(this.id) }, 'peer stream lost');
    }
    // Losing an established stream starts a new outage, which raft always hears of at once (a
    // follower that loses its leader's stream campaigns early); the rate limit is for repeats.
    if (wasConnected) this.reportUnreachable(true);
    else if (this.queue.length > 0) this.reportUnreachable();
    assert(this.handshakeTimer === null && this.liveness === null, 'timers outlived the socket');
    this.state = 'backoff';
    const delayMs = this.backoff.nextDelayMs();
    this.backoffTimer = this.context.clock.setTimer(delayMs, () => {
      this.backoffTimer = null;
      if (this.state === 'backoff') this.dial();
    });
  }

  /**
   * Writes the queue now, once per event-loop turn (H2, write path): the transport calls it at
   * the end of each send(), which carries all of one Ready's messages. Waiting for the turn's end
   * put everything else the raft loop does in that turn (the WAL write and its fsync's hand-off,
   * the apply of committed entries) in front of every replication round trip. What is queued
   * later in the same turn still goes out together in the scheduled flush.
   */
  flushQueued(): void {
    if (this.flushedEarly || this.state !== 'connected') return;
    this.flushedEarly = true;
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushImmediate !== null || this.state !== 'connected') return;
    // Everything queued during this event-loop turn goes out in one write.
    this.flushImmediate = setImmediate(() => {
      this.flushImmediate = null;
      this.flushedEarly = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (this.state !== 'connected' || socket === null) return;
    // Backpressure: while the kernel is not taking our bytes, messages wait in the bounded
    // queue (and overflow is dropped) instead of piling up in the socket's unbounded buffer.
    if (socket.writableNeedDrain) return;
    socket.cork();
    this.writeQueuedMessages(socket);
    if (this.snapshot !== null) {
      this.counters.sentBytes += this.snapshot.writeNext(socket, () => this.scheduleFlush());
    }
    socket.uncork();
  }

  private writeQueuedMessages(socket: net.Socket): void {
    if (this.queue.length === 0) return;
    const messages = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    let next = 0;
    while (next < messages.length) {
      const batch = encodeMessageBatch(messages, next);
      assert(batch.next > next, 'a batch must make progress');
      socket.write(batch.frame);
      this.counters.sentBatches++;
      this.counters.sentBytes += batch.frame.length;
      next = batch.next;
    }
    this.counters.sentMessages += messages.length;
  }

  private onSnapshotAck(ok: boolean): void {
    if (this.snapshot === null || !this.snapshot.awaitingAck) {
      throw new FrameDecodeError('snapshot ack without a snapshot awaiting one');
    }
    this.finishSnapshot(ok, ok ? 'acknowledged' : 'refused by the peer');
  }

  private finishSnapshot(ok: boolean, reason: string): void {
    const stream = this.snapshot;
    assert(stream !== null, 'finishing a snapshot that is not streaming');
    stream.finish();
    this.snapshot = null;
    if (ok) this.counters.snapshotsSent++;
    else this.counters.snapshotsFailed++;
    const fields = {
      peer: formatMemberId(this.id),
      index: stream.message.snapshot?.metadata.index,
      bytes: stream.sentBytes,
      reason,
    };
    if (ok) this.context.logger.info(fields, 'snapshot sent');
    else this.context.logger.warn(fields, 'snapshot failed');
    this.context.reportSnapshotStatus(this.id, ok);
  }

  private reportUnreachable(newOutage = false): void {
    const nowMs = this.context.clock.nowMs();
    const sinceLastMs = nowMs - this.lastUnreachableReportMs;
    if (!newOutage && sinceLastMs < this.context.limits.unreachableReportIntervalMs) return;
    this.lastUnreachableReportMs = nowMs;
    this.context.reportUnreachable(this.id);
  }

  private warnDropped(): void {
    const nowMs = this.context.clock.nowMs();
    if (nowMs - this.lastDropWarningMs < this.context.limits.unreachableReportIntervalMs) return;
    this.lastDropWarningMs = nowMs;
    const fields = { peer: formatMemberId(this.id), dropped: this.counters.droppedMessages };
    this.context.logger.warn(fields, 'peer queue full; dropping messages');
  }
}
