/**
 * One accepted connection: check the dialer's hello, then decode its message batches and
 * reassemble its streamed snapshots. Anything malformed or out of protocol closes the
 * connection with a log line; it never throws out of a socket callback, so a confused or
 * hostile peer cannot take the member down.
 */
import type net from 'node:net';
import type { Message } from '../raft/types.ts';
import { assert, formatMemberId, type MemberId, type TimerHandle } from '../base/index.ts';
import type { Clock } from '../base/index.ts';
import { FrameDecodeError } from './frame-decode-error.ts';
import {
  encodeFrame,
  FRAME_BYTES_MAX,
  FrameDecoder,
  FrameKind,
  HANDSHAKE_FRAME_BYTES_MAX,
} from './frame-codec.ts';
import type { Frame } from './frame-codec.ts';
import { decodeHello, decodeMessageBatch, decodeSnapshotBegin } from './peer-protocol.ts';
import { SNAPSHOT_DATA_BYTES_MAX } from './peer-protocol.ts';
import type { SnapshotSink, SnapshotStreams } from './snapshot-streams.ts';
import {
  encodeHelloAck,
  encodeSnapshotAck,
  type Hello,
  type HelloStatus,
} from './peer-protocol.ts';
import { expectEmptyBody, PONG_FRAME } from './peer-protocol.ts';
import { ConnectionLiveness } from './connection-liveness.ts';
import type { Logger } from './logger.ts';

export interface InboundContext {
  readonly localId: MemberId;
  readonly clusterId: bigint;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly handshakeTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly peerIdleTimeoutMs: number;
  isKnownPeer(peer: MemberId): boolean;
  /** The answer to a joining member's cluster-info request (see cluster-info-probe.ts). */
  clusterInfo(): Uint8Array;
  /** The handshake succeeded; the transport closes any older connection from the same peer. */
  onEstablished(connection: InboundConnection): void;
  onClosed(connection: InboundConnection): void;
  deliver(message: Message): void;
  /** Where an incoming MsgSnap's data is spooled before raft sees it (snapshot-streams.ts). */
  snapshotStreams(): SnapshotStreams;
}

interface SnapshotAssembly {
  readonly message: Message;
  readonly sink: Promise<SnapshotSink>;
  /** The sink's writes, in order: each chunk is written after the one before. */
  chain: Promise<void>;
  receivedBytes: number;
  /** Received and not yet written; the socket is paused while this is above the limit. */
  unwrittenBytes: number;
}

/** Received snapshot bytes waiting for the sink beyond this pause the socket. */
const SNAPSHOT_UNWRITTEN_BYTES_MAX = 4 * 1024 * 1024;

export class InboundConnection {
  private peer: MemberId | null = null;
  private readonly decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  private handshakeTimer: TimerHandle | null;
  private assembly: SnapshotAssembly | null = null;
  private liveness: ConnectionLiveness | null = null;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly context: InboundContext,
  ) {
    socket.setNoDelay(true);
    this.handshakeTimer = context.clock.setTimer(context.handshakeTimeoutMs, () => {
      this.handshakeTimer = null;
      if (this.peer === null) this.close('no hello within the handshake timeout', 'warn');
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      this.context.logger.debug(this.fields({ error: error.message }), 'inbound connection error');
    });
    socket.on('close', () => this.onSocketClosed());
  }

  /** The authenticated sender, once the handshake is done. */
  get remoteId(): MemberId | null {
    return this.peer;
  }

  close(reason: string, level: 'debug' | 'warn' | 'error' = 'debug'): void {
    if (this.closed) return;
    this.context.logger[level](this.fields({ reason }), 'closing inbound connection');
    this.socket.destroy();
    this.onSocketClosed();
  }

  private onSocketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.liveness?.stop();
    this.liveness = null;
    const assembly = this.assembly;
    this.assembly = null;
    if (assembly !== null) this.abandonSnapshot(assembly);
    this.context.onClosed(this);
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (this.closed) return;
        this.onFrame(frame);
      }
    } catch (error) {
      if (!(error instanceof FrameDecodeError)) throw error;
      this.close(`malformed input: ${error.message}`, 'warn');
    }
  }

  private onFrame(frame: Frame): void {
    if (this.peer === null) {
      if (frame.kind === FrameKind.clusterInfoRequest) {
        this.socket.end(encodeFrame(FrameKind.clusterInfo, this.context.clusterInfo()));
        return;
      }
      if (frame.kind !== FrameKind.hello) throw new FrameDecodeError('expected a hello frame');
      this.onHello(decodeHello(frame.body));
      return;
    }
    this.liveness?.heard();
    switch (frame.kind) {
      case FrameKind.messages: {
        // Check the whole batch first: a stream caught lying delivers nothing of that frame.
        const messages = decodeMessageBatch(frame.body);
        for (const message of messages) this.checkAddressing(message);
        for (const message of messages) this.context.deliver(message);
        return;
      }
      case FrameKind.snapshotBegin:
        this.onSnapshotBegin(frame.body);
        return;
      case FrameKind.snapshotChunk:
        this.onSnapshotChunk(frame.body);
        return;
      case FrameKind.ping:
        expectEmptyBody(frame.body, 'ping');
        this.socket.write(PONG_FRAME);
        return;
      default:
        throw new FrameDecodeError(`unexpected frame kind ${frame.kind} from a dialer`);
    }
  }

  private onHello(hello: Hello): void {
    const status = this.judgeHello(hello);
    this.socket.write(encodeHelloAck({ status, clusterId: this.context.clusterId }));
    if (status !== 'ok') {
      const fields = {
        status,
        remoteId: formatMemberId(hello.from),
        remoteClusterId: hello.clusterId.toString(16),
        localClusterId: this.context.clusterId.toString(16),
      };
      this.context.logger.error(this.fields(fields), 'rejected a peer handshake');
      // Ending (not destroying) lets the verdict reach the dialer so it can log why; the
      // destroy after the flush keeps a dialer that never closes from holding the socket.
      this.socket.end(() => this.socket.destroy());
      this.closed = true;
      this.handshakeTimer?.cancel();
      this.context.onClosed(this);
      return;
    }
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.peer = hello.from;
    this.decoder.setMaxFrameBytes(FRAME_BYTES_MAX);
    this.liveness = new ConnectionLiveness(
      this.context.clock,
      { intervalMs: this.context.pingIntervalMs, idleTimeoutMs: this.context.peerIdleTimeoutMs },
      () => {},
      (silentMs) => this.close(`silent for ${Math.round(silentMs)} ms`, 'warn'),
    );
    this.context.onEstablished(this);
  }

  private judgeHello(hello: Hello): HelloStatus {
    if (hello.clusterId !== this.context.clusterId) return 'cluster-mismatch';
    if (hello.to !== this.context.localId) return 'wrong-recipient';
    if (!this.context.isKnownPeer(hello.from)) return 'unknown-sender';
    return 'ok';
  }

  /** The handshake named the sender; every message must agree, or the stream is not honest. */
  private checkAddressing(message: Message): void {
    if (message.from !== this.peer) {
      throw new FrameDecodeError(`message from ${formatMemberId(message.from)} on this stream`);
    }
    if (message.to !== this.context.localId) {
      throw new FrameDecodeError(`message for ${formatMemberId(message.to)} delivered here`);
    }
  }

  private onSnapshotBegin(body: Uint8Array): void {
    if (this.assembly !== null) throw new FrameDecodeError('snapshot begins inside another');
    const message = decodeSnapshotBegin(body);
    // Checked before anything is spooled: a stream caught lying stores nothing.
    this.checkAddressing(message);
    const sink = this.context.snapshotStreams().incoming(message);
    this.assembly = {
      message,
      sink,
      chain: sink.then(() => undefined),
      receivedBytes: 0,
      unwrittenBytes: 0,
    };
  }

  private onSnapshotChunk(body: Uint8Array): void {
    const assembly = this.assembly;
    if (assembly === null) throw new FrameDecodeError('snapshot chunk without a snapshot');
    if (body.length === 0) {
      this.assembly = null;
      this.completeSnapshot(assembly);
      return;
    }
    if (assembly.receivedBytes + body.length > SNAPSHOT_DATA_BYTES_MAX) {
      throw new FrameDecodeError(`snapshot data above ${SNAPSHOT_DATA_BYTES_MAX} bytes`);
    }
    assembly.receivedBytes += body.length;
    assembly.unwrittenBytes += body.length;
    // Memory is bounded by pausing the socket while the sink (a file) falls behind.
    if (assembly.unwrittenBytes > SNAPSHOT_UNWRITTEN_BYTES_MAX) this.socket.pause();
    assembly.chain = assembly.chain
      .then(async () => await (await assembly.sink).write(body))
      .finally(() => {
        // Also after a failed write: the rest of the stream is read (and dropped) to its end.
        assembly.unwrittenBytes -= body.length;
        if (assembly.unwrittenBytes <= SNAPSHOT_UNWRITTEN_BYTES_MAX && !this.closed) {
          this.socket.resume();
        }
      });
  }

  /** The data is complete: the sink makes it durable, then raft gets the MsgSnap. */
  private completeSnapshot(assembly: SnapshotAssembly): void {
    const snapshot = assembly.message.snapshot;
    assert(snapshot !== null, 'assembled MsgSnap lost its snapshot');
    assembly.chain
      .then(async () => await (await assembly.sink).commit())
      .then(
        (data) => {
          if (this.closed) return;
          this.context.deliver({ ...assembly.message, snapshot: { ...snapshot, data } });
          this.socket.write(encodeSnapshotAck(true));
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error.message : String(error);
          this.context.logger.error(this.fields({ error: reason }), 'spooling a snapshot failed');
          this.abandonSnapshot(assembly);
          if (!this.closed) this.socket.write(encodeSnapshotAck(false));
        },
      );
  }

  /** Drops a snapshot whose data will not be delivered (never throws). */
  private abandonSnapshot(assembly: SnapshotAssembly): void {
    void assembly.chain
      .catch(() => undefined)
      .then(async () => await (await assembly.sink).abort())
      .catch(() => undefined);
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    const remote = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
    const peer = this.peer === null ? undefined : formatMemberId(this.peer);
    return { local: formatMemberId(this.context.localId), peer, remote, ...extra };
  }
}
