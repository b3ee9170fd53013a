/**
 * One MsgSnap on its way out: a begin frame, then the data in chunk frames with at most one
 * chunk handed to the socket at a time, then a wait for the receiver's ack. The owner
 * (OutboundPeer) writes its queued messages before asking for each next chunk, which is what
 * keeps heartbeats from waiting behind the whole snapshot.
 */
import type net from 'node:net';
import type { Message } from '../raft/types.ts';
import { assert, type Clock, type TimerHandle } from '../base/index.ts';
import { encodeFrameHeader, FRAME_HEADER_BYTES, FrameKind } from './frame-codec.ts';
import { encodeSnapshotBegin } from './peer-protocol.ts';

export interface SnapshotSenderOptions {
  readonly chunkBytes: number;
  /** No chunk written (or no ack after the last) for this long means the stream is stuck. */
  readonly stallTimeoutMs: number;
}

export class SnapshotSender {
  readonly data: Uint8Array;
  private sentBytes = 0;
  private begun = false;
  private chunkInFlight = false;
  private waitingForAck = false;
  private stallTimer: TimerHandle | null = null;
  private finished = false;

  constructor(
    readonly message: Message,
    private readonly clock: Clock,
    private readonly options: SnapshotSenderOptions,
    private readonly onStall: () => void,
  ) {
    assert(message.type === 'MsgSnap' && message.snapshot !== null, 'not a MsgSnap');
    assert(options.chunkBytes >= 1, 'chunk size must be positive');
    this.data = message.snapshot.data;
    this.armStallTimer();
  }

  get awaitingAck(): boolean {
    return this.waitingForAck;
  }

  /**
   * Writes the begin frame and the next chunk unless one is still in flight; calls
   * `chunkWritten` once that chunk has left for the kernel. Returns the bytes written.
   */
  writeNext(socket: net.Socket, chunkWritten: () => void): number {
    assert(!this.finished, 'writing a finished snapshot');
    if (this.chunkInFlight || this.waitingForAck) return 0;
    let written = 0;
    if (!this.begun) {
      const begin = encodeSnapshotBegin(this.message);
      socket.write(begin);
      written += begin.length;
      this.begun = true;
    }
    if (this.sentBytes === this.data.length) {
      this.waitingForAck = true;
      this.armStallTimer();
      return written;
    }
    const end = Math.min(this.data.length, this.sentBytes + this.options.chunkBytes);
    const chunk = this.data.subarray(this.sentBytes, end);
    socket.write(encodeFrameHeader(FrameKind.snapshotChunk, chunk.length));
    this.chunkInFlight = true;
    socket.write(chunk, (error) => {
      if (this.finished) return;
      this.chunkInFlight = false;
      // A failed write closes the socket, and the owner fails the snapshot on close.
      if (error) return;
      this.armStallTimer();
      chunkWritten();
    });
    this.sentBytes = end;
    assert(this.sentBytes <= this.data.length, 'sent beyond the snapshot');
    return written + FRAME_HEADER_BYTES + chunk.length;
  }

  /** Stops the stall timer; the owner reports the outcome. */
  finish(): void {
    this.finished = true;
    this.stallTimer?.cancel();
    this.stallTimer = null;
  }

  private armStallTimer(): void {
    this.stallTimer?.cancel();
    this.stallTimer = this.clock.setTimer(this.options.stallTimeoutMs, () => {
      this.stallTimer = null;
      if (!this.finished) this.onStall();
    });
  }
}
