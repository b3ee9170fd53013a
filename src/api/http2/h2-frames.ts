/**
 * Just enough HTTP/2 framing (RFC 9113 §4, §6) to follow a client's side of a connection:
 * split bytes into frames, find header blocks (HEADERS + CONTINUATION) and write frames.
 */

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** The smallest SETTINGS_MAX_FRAME_SIZE there is: frames we write never exceed it. */
export const FRAME_PAYLOAD_SAFE_BYTES = 16_384;

export const FrameType = {
  data: 0x0,
  headers: 0x1,
  settings: 0x4,
  ping: 0x6,
  continuation: 0x9,
} as const;

export const FrameFlag = {
  ack: 0x1,
  endStream: 0x1,
  endHeaders: 0x4,
  padded: 0x8,
  priority: 0x20,
} as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
  /** The whole frame, header included, as received. */
  readonly bytes: Buffer;
}

/** Frames out of a byte stream that arrives in arbitrary chunks. */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  /** Removes and returns `length` raw bytes (the connection preface) once they are there. */
  takeRaw(length: number): Buffer | null {
    if (this.pending.length < length) return null;
    const raw = this.pending.subarray(0, length);
    this.pending = this.pending.subarray(length);
    return raw;
  }

  /** The next complete frame, or null until more bytes arrive. */
  next(): Frame | null {
    if (this.pending.length < FRAME_HEADER_BYTES) return null;
    const length = this.pending.readUIntBE(0, 3);
    if (this.pending.length < FRAME_HEADER_BYTES + length) return null;
    const bytes = this.pending.subarray(0, FRAME_HEADER_BYTES + length);
    this.pending = this.pending.subarray(bytes.length);
    return {
      type: bytes[3],
      flags: bytes[4],
      streamId: bytes.readUInt32BE(5) & 0x7fff_ffff,
      payload: bytes.subarray(FRAME_HEADER_BYTES),
      bytes,
    };
  }

  /** Whatever is buffered, handed back when the splitter steps aside. */
  drain(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array,
): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUIntBE(payload.length, 0, 3);
  frame[3] = type;
  frame[4] = flags;
  frame.writeUInt32BE(streamId & 0x7fff_ffff, 5);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** The parts of a HEADERS frame's payload (RFC 9113 §6.2); null when it is malformed. */
export function splitHeadersPayload(
  frame: Frame,
): { readonly priority: Buffer | null; readonly fragment: Buffer } | null {
  let start = 0;
  let end = frame.payload.length;
  if ((frame.flags & FrameFlag.padded) !== 0) {
    if (end < 1) return null;
    const padding = frame.payload[0];
    start = 1;
    end -= padding;
  }
  let priority: Buffer | null = null;
  if ((frame.flags & FrameFlag.priority) !== 0) {
    priority = frame.payload.subarray(start, start + 5);
    start += 5;
  }
  if (end < start) return null;
  return { priority, fragment: frame.payload.subarray(start, end) };
}

/**
 * A header block as HEADERS plus as many CONTINUATION frames as it needs, no padding.
 * `endStream` and `priority` carry over from the frame the block came in.
 */
export function encodeHeaderFrames(
  streamId: number,
  block: Uint8Array,
  endStream: boolean,
  priority: Buffer | null,
): Buffer[] {
  const frames: Buffer[] = [];
  const firstRoom = FRAME_PAYLOAD_SAFE_BYTES - (priority === null ? 0 : priority.length);
  const first = block.subarray(0, firstRoom);
  let offset = first.length;
  const flags =
    (endStream ? FrameFlag.endStream : 0) |
    (priority === null ? 0 : FrameFlag.priority) |
    (offset >= block.length ? FrameFlag.endHeaders : 0);
  const payload = priority === null ? first : Buffer.concat([priority, first]);
  frames.push(encodeFrame(FrameType.headers, flags, streamId, payload));
  while (offset < block.length) {
    const part = block.subarray(offset, offset + FRAME_PAYLOAD_SAFE_BYTES);
    offset += part.length;
    const last = offset >= block.length ? FrameFlag.endHeaders : 0;
    frames.push(encodeFrame(FrameType.continuation, last, streamId, part));
  }
  return frames;
}
