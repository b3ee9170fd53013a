/**
 * One MsgSnap on its way out: a begin frame, then the data in chunk frames pulled from an async
 * source (the backend, read when the snapshot is sent; see snapshot-streams.ts) with at most
 * one chunk handed to the socket at a time, then an empty chunk frame that ends the data, then
 * a wait for the receiver's ack. The owner (OutboundPeer) writes its queued messages before
 * asking for each next chunk, which is what keeps heartbeats from waiting behind the snapshot.
 * The source is closed when the stream ends either way, which releases its read transaction.
 */
import type net from 'node:net';
import type { Message } from '../raft/types.ts';
import { assert, type Clock, type TimerHandle } from '../base/index.ts';
import { encodeFrameHeader, FRAME_HEADER_BYTES, FrameKind } from './frame-codec.ts';
import { encodeSnapshotBegin, SNAPSHOT_DATA_BYTES_MAX } from './peer-protocol.ts';

export interface SnapshotSenderOptions {
  readonly chunkBytes: number;
  /** No chunk written (or no ack after the last) for this long means the stream is stuck. */
  readonly stallTimeoutMs: number;
}

export interface SnapshotSenderEvents {
  /** Nothing moved for stallTimeoutMs. */
  readonly stalled: () => void;
  /** The source failed (or ran past SNAPSHOT_DATA_BYTES_MAX): the snapshot cannot be sent. */
  readonly sourceFailed: (error: unknown) => void;
}

export class SnapshotSender {
  private readonly iterator: AsyncIterator<Uint8Array>;
  /** Data taken from the source and not yet written. */
  private pending: Uint8Array | null = null;
  private fetching = false;
  private sourceDone = false;
  private sentBytesValue = 0;
  private begun = false;
  private chunkInFlight = false;
  private waitingForAck = false;
  private stallTimer: TimerHandle | null = null;
  private finished = false;

  constructor(
    readonly message: Message,
    source: AsyncIterable<Uint8Array>,
    private readonly clock: Clock,
    private readonly options: SnapshotSenderOptions,
    private readonly events: SnapshotSenderEvents,
  ) {
    assert(message.type === 'MsgSnap' && message.snapshot !== null, 'not a MsgSnap');
    assert(options.chunkBytes >= 1, 'chunk size must be positive');
    this.iterator = source[Symbol.asyncIterator]();
    this.armStallTimer();
  }

  get awaitingAck(): boolean {
    return this.waitingForAck;
  }

  /** Data bytes written so far. */
  get sentBytes(): number {
    return this.sentBytesValue;
  }

  /**
   * Writes the begin frame and the next chunk unless one is still in flight or the source has
   * not produced it yet; calls `progress` once the owner should call again (a chunk has left
   * for the kernel, or the source produced data). Returns the bytes written.
   */
  writeNext(socket: net.Socket, progress: () => void): number {
    assert(!this.finished, 'writing a finished snapshot');
    if (this.chunkInFlight || this.waitingForAck) return 0;
    let written = 0;
    if (!this.begun) {
      const begin = encodeSnapshotBegin(this.message);
      socket.write(begin);
      written += begin.length;
      this.begun = true;
    }
    if (this.pending === null) {
      if (!this.sourceDone) {
        if (!this.fetching) this.fetch(progress);
        return written;
      }
      // The data's end: an empty chunk frame; then the receiver's verdict.
      socket.write(encodeFrameHeader(FrameKind.snapshotChunk, 0));
      this.waitingForAck = true;
      this.armStallTimer();
      return written + FRAME_HEADER_BYTES;
    }
    const chunk = this.pending.subarray(0, this.options.chunkBytes);
    this.pending =
      chunk.length === this.pending.length ? null : this.pending.subarray(chunk.length);
    socket.write(encodeFrameHeader(FrameKind.snapshotChunk, chunk.length));
    this.chunkInFlight = true;
    socket.write(chunk, (error) => {
      if (this.finished) return;
      this.chunkInFlight = false;
      // A failed write closes the socket, and the owner fails the snapshot on close.
      if (error) return;
      this.armStallTimer();
      progress();
    });
    this.sentBytesValue += chunk.length;
    return written + FRAME_HEADER_BYTES + chunk.length;
  }

  /** Stops the stall timer and closes the source; the owner reports the outcome. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stallTimer?.cancel();
    this.stallTimer = null;
    void this.iterator.return?.()?.catch(() => undefined);
  }

  private fetch(progress: () => void): void {
    this.fetching = true;
    this.iterator.next().then(
      (result) => {
        this.fetching = false;
        if (this.finished) return;
        if (result.done === true) {
          this.sourceDone = true;
        } else if (result.value.length > 0) {
          if (this.sentBytesValue + result.value.length > SNAPSHOT_DATA_BYTES_MAX) {
            this.events.sourceFailed(new Error(`snapshot above ${SNAPSHOT_DATA_BYTES_MAX} bytes`));
            return;
          }
          this.pending = result.value;
        }
        this.armStallTimer();
        progress();
      },
      (error: unknown) => {
        this.fetching = false;
        if (!this.finished) this.events.sourceFailed(error);
      },
    );
  }

  private armStallTimer(): void {
    this.stallTimer?.cancel();
    this.stallTimer = this.clock.setTimer(this.options.stallTimeoutMs, () => {
      this.stallTimer = null;
      if (!this.finished) this.events.stalled();
    });
  }
}
