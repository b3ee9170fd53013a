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
}

interface SnapshotAssembly {
  readonly message: Message;
  readonly dataBytes: number;
  readonly chunks: Uint8Array[];
  receivedBytes: number;
}

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
    this.assembly = null;
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
    const { dataBytes, message } = decodeSnapshotBegin(body);
    this.assembly = { message, dataBytes, chunks: [], receivedBytes: 0 };
    if (dataBytes === 0) this.completeSnapshot(this.assembly);
  }

  private onSnapshotChunk(body: Uint8Array): void {
    const assembly = this.assembly;
    if (assembly === null) throw new FrameDecodeError('snapshot chunk without a snapshot');
    if (body.length === 0) throw new FrameDecodeError('empty snapshot chunk');
    if (assembly.receivedBytes + body.length > assembly.dataBytes) {
      throw new FrameDecodeError('snapshot chunks exceed the announced length');
    }
    // Memory grows with bytes actually received, never with the announced length.
    assembly.chunks.push(body);
    assembly.receivedBytes += body.length;
    if (assembly.receivedBytes === assembly.dataBytes) this.completeSnapshot(assembly);
  }

  private completeSnapshot(assembly: SnapshotAssembly): void {
    assert(assembly.receivedBytes === assembly.dataBytes, 'snapshot incomplete');
    const snapshot = assembly.message.snapshot;
    assert(snapshot !== null, 'assembled MsgSnap lost its snapshot');
    const data = new Uint8Array(assembly.dataBytes);
    let offset = 0;
    for (const chunk of assembly.chunks) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    assert(offset === data.length, 'snapshot chunks do not add up');
    this.assembly = null;
    const message: Message = { ...assembly.message, snapshot: { ...snapshot, data } };
    this.checkAddressing(message);
    this.context.deliver(message);
    this.socket.write(encodeSnapshotAck(true));
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    const remote = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
    const peer = this.peer === null ? undefined : formatMemberId(this.peer);
    return { local: formatMemberId(this.context.localId), peer, remote, ...extra };
  }
}
