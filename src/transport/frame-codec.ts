/**
 * Length-prefixed, versioned frames on a byte stream. Header: u32 bodyLength | u8 version |
 * u8 kind, then the body. The stream decoder checks the header before buffering the body, so a
 * peer announcing a 4 GiB frame is rejected after six bytes instead of after an allocation.
 */
import { assert } from '../base/index.ts';
import type { ByteWriter } from './byte-cursor.ts';
import { FrameDecodeError } from './frame-decode-error.ts';
import { MESSAGE_BYTES_MAX } from './message-codec.ts';

/** 2: a snapshot's begin frame names no length; its data ends with an empty chunk frame. */
export const PROTOCOL_VERSION = 2;
export const FRAME_HEADER_BYTES = 6;
/** Largest frame body on an established connection. */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;
/** Until the handshake is done only a hello may arrive, and it is tiny. */
export const HANDSHAKE_FRAME_BYTES_MAX = 256;

// A single message must always fit in a frame with its record length prefix.
assert(MESSAGE_BYTES_MAX + 4 + 16 <= FRAME_BYTES_MAX, 'a maximal message must fit in a frame');
assert(HANDSHAKE_FRAME_BYTES_MAX < FRAME_BYTES_MAX, 'handshake frames are the small ones');

export const FrameKind = {
  /** Dialer → acceptor, first frame: who I am and which cluster I belong to. */
  hello: 1,
  /** Acceptor → dialer: the handshake verdict. */
  helloAck: 2,
  /** Dialer → acceptor: a batch of raft messages. */
  messages: 3,
  /** Dialer → acceptor: a MsgSnap whose data follows in chunk frames. */
  snapshotBegin: 4,
  snapshotChunk: 5,
  /** Acceptor → dialer: the streamed snapshot arrived whole (or was refused). */
  snapshotAck: 6,
  /** Dialer → acceptor, empty: proves the dialer alive and asks for a pong. */
  ping: 7,
  /** Acceptor → dialer, empty: proves the acceptor alive. */
  pong: 8,
  /** Instead of a hello, empty: a member about to join asks who is in the cluster. */
  clusterInfoRequest: 9,
  /** Acceptor → asker, the answer (opaque to the transport; see cluster-info-probe.ts). */
  clusterInfo: 10,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const KNOWN_KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

export interface Frame {
  readonly kind: FrameKind;
  readonly body: Uint8Array;
}

export function encodeFrameHeader(kind: FrameKind, bodyBytes: number): Uint8Array {
  assert(bodyBytes >= 0 && bodyBytes <= FRAME_BYTES_MAX, 'frame body size out of range');
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, bodyBytes);
  header[4] = PROTOCOL_VERSION;
  header[5] = kind;
  return header;
}

export function encodeFrame(kind: FrameKind, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  frame.set(encodeFrameHeader(kind, body.length));
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** Starts a frame inside `writer`; the body is written next and `endFrame` fixes the length. */
export function beginFrame(writer: ByteWriter, kind: FrameKind): number {
  const position = writer.size;
  writer.u32(0);
  writer.u8(PROTOCOL_VERSION);
  writer.u8(kind);
  return position;
}

export function endFrame(writer: ByteWriter, position: number): void {
  const bodyBytes = writer.size - position - FRAME_HEADER_BYTES;
  assert(bodyBytes >= 0 && bodyBytes <= FRAME_BYTES_MAX, 'frame body size out of range');
  writer.patchU32(position, bodyBytes);
}

/**
 * Turns arbitrarily split socket chunks into whole frames. After it throws, the stream is out of
 * sync for good and the connection must be closed.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  private bufferedBytes = 0;
  private header: { kind: FrameKind; bodyBytes: number } | null = null;
  private failed = false;

  constructor(private maxFrameBytes: number) {
    assert(maxFrameBytes > 0 && maxFrameBytes <= FRAME_BYTES_MAX, 'bad frame limit');
  }

  /** Raised once the peer has proven who it is. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    assert(maxFrameBytes > 0 && maxFrameBytes <= FRAME_BYTES_MAX, 'bad frame limit');
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as frames; bounded by header + one frame body. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  push(chunk: Uint8Array): Frame[] {
    assert(!this.failed, 'FrameDecoder used after a decode error');
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const frames: Frame[] = [];
    try {
      for (;;) {
        if (this.header === null) {
          if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
          this.header = this.parseHeader(this.take(FRAME_HEADER_BYTES));
        }
        if (this.bufferedBytes < this.header.bodyBytes) break;
        frames.push({ kind: this.header.kind, body: this.take(this.header.bodyBytes) });
        this.header = null;
      }
    } catch (error) {
      this.failed = true;
      throw error;
    }
    return frames;
  }

  private parseHeader(bytes: Uint8Array): { kind: FrameKind; bodyBytes: number } {
    const bodyBytes = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0);
    const version = bytes[4];
    const kind = bytes[5];
    if (version !== PROTOCOL_VERSION) {
      throw new FrameDecodeError(`unsupported protocol version ${version}`);
    }
    if (!KNOWN_KINDS.has(kind)) throw new FrameDecodeError(`unknown frame kind ${kind}`);
    if (bodyBytes > this.maxFrameBytes) {
      throw new FrameDecodeError(`frame of ${bodyBytes} bytes > ${this.maxFrameBytes}`);
    }
    return { kind: kind as FrameKind, bodyBytes };
  }

  /** Removes `length` buffered bytes; copies only when they span chunks. */
  private take(length: number): Uint8Array {
    assert(length <= this.bufferedBytes, 'take beyond buffered bytes');
    this.bufferedBytes -= length;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) {
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0];
      const used = Math.min(chunk.length, length - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
