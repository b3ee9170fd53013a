/**
 * HTTP/2 framing (RFC 9113 §4, §6): the frame and flag numbers, the error codes, splitting a
 * byte stream into frames and writing frames.
 */

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** The smallest SETTINGS_MAX_FRAME_SIZE there is (and the default): the frames we accept and
 *  write by default never exceed it. */
export const FRAME_PAYLOAD_SAFE_BYTES = 16_384;
/** Flow-control windows start here (§6.9.2) and may not grow past WINDOW_BYTES_MAX. */
export const DEFAULT_WINDOW_BYTES = 65_535;
export const WINDOW_BYTES_MAX = 2 ** 31 - 1;

export const FrameType = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

export const FrameFlag = {
  ack: 0x1,
  endStream: 0x1,
  endHeaders: 0x4,
  padded: 0x8,
  priority: 0x20,
} as const;

export const Setting = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
  maxHeaderListSize: 0x6,
} as const;

/** RFC 9113 §7. */
export const H2ErrorCode = {
  noError: 0x0,
  protocol: 0x1,
  internal: 0x2,
  flowControl: 0x3,
  streamClosed: 0x5,
  frameSize: 0x6,
  refusedStream: 0x7,
  cancel: 0x8,
  compression: 0x9,
} as const;

/** The peer broke HTTP/2 in a way that ends the whole connection (a GOAWAY with `code`). */
export class H2ConnectionError extends Error {
  override readonly name = 'H2ConnectionError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

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

  /** `maxPayloadBytes`: a longer frame is refused as soon as its header is in, before its
   *  payload is buffered (our SETTINGS_MAX_FRAME_SIZE; a client reads what the server chose). */
  constructor(private readonly maxPayloadBytes = Number.POSITIVE_INFINITY) {}

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

  /** The next complete frame, or null until more bytes arrive. Throws H2ConnectionError. */
  next(): Frame | null {
    if (this.pending.length < FRAME_HEADER_BYTES) return null;
    const length = this.pending.readUIntBE(0, 3);
    if (length > this.maxPayloadBytes) {
      throw new H2ConnectionError(H2ErrorCode.frameSize, `a frame of ${length} bytes`);
    }
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
}

/** A frame's 9-byte header alone, for a payload written separately. */
export function encodeFrameHeader(
  length: number,
  type: number,
  flags: number,
  streamId: number,
): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fff_ffff, 5);
  return header;
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

/** A DATA or HEADERS payload without its padding (§6.1, §6.2). Throws H2ConnectionError. */
export function unpadded(frame: Frame): Buffer {
  if ((frame.flags & FrameFlag.padded) === 0) return frame.payload;
  const padding = frame.payload.length === 0 ? 0 : frame.payload[0];
  if (frame.payload.length === 0 || padding >= frame.payload.length) {
    throw new H2ConnectionError(H2ErrorCode.protocol, 'padding longer than the frame');
  }
  return frame.payload.subarray(1, frame.payload.length - padding);
}

/** A HEADERS frame's block fragment: padding and priority fields removed. */
export function headersFragment(frame: Frame): Buffer {
  const payload = unpadded(frame);
  if ((frame.flags & FrameFlag.priority) === 0) return payload;
  if (payload.length < 5) throw new H2ConnectionError(H2ErrorCode.frameSize, 'short HEADERS');
  return payload.subarray(5);
}

/**
 * A header block as HEADERS plus as many CONTINUATION frames as it needs, no padding, each
 * payload at most `maxPayloadBytes` (the peer's SETTINGS_MAX_FRAME_SIZE).
 */
export function encodeHeaderFrames(
  streamId: number,
  block: Uint8Array,
  endStream: boolean,
  maxPayloadBytes = FRAME_PAYLOAD_SAFE_BYTES,
): Buffer[] {
  const frames: Buffer[] = [];
  const first = block.subarray(0, maxPayloadBytes);
  let offset = first.length;
  const flags =
    (endStream ? FrameFlag.endStream : 0) | (offset >= block.length ? FrameFlag.endHeaders : 0);
  frames.push(encodeFrame(FrameType.headers, flags, streamId, first));
  while (offset < block.length) {
    const part = block.subarray(offset, offset + maxPayloadBytes);
    offset += part.length;
    const last = offset >= block.length ? FrameFlag.endHeaders : 0;
    frames.push(encodeFrame(FrameType.continuation, last, streamId, part));
  }
  return frames;
}
