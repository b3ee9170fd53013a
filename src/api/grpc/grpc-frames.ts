/**
 * gRPC's message framing on an HTTP/2 stream: a 1-byte compressed flag, a 4-byte big-endian
 * length, then the message. The reader checks the length as soon as the 5-byte prefix is in,
 * so an oversized message is refused before its body is buffered.
 */
import { API_ERRORS, ApiError, GrpcCode } from '../etcd-errors.ts';

const PREFIX_BYTES = 5;

export class GrpcFrameReader {
  private readonly maxMessageBytes: number;
  /** Chunks of an incomplete frame, and how many bytes the frame needs before parsing. */
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private neededBytes = PREFIX_BYTES;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Whether a partial frame is buffered (the stream ending now would truncate it). */
  get hasPartialFrame(): boolean {
    return this.bufferedBytes > 0;
  }

  /** Feeds a DATA chunk; calls `onMessage` for each complete message. Throws ApiError. */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    if (this.bufferedBytes === 0) {
      // The common case, whole messages per chunk, is parsed without copying.
      this.parse(chunk, onMessage);
      return;
    }
    // A large message arrives in many chunks: join them once, when the frame is complete.
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes < this.neededBytes) return;
    const data = Buffer.concat(this.chunks, this.bufferedBytes);
    this.chunks = [];
    this.bufferedBytes = 0;
    this.parse(data, onMessage);
  }

  private parse(input: Buffer, onMessage: (message: Buffer) => void): void {
    let data = input;
    this.neededBytes = PREFIX_BYTES;
    while (data.length >= PREFIX_BYTES) {
      const flag = data[0];
      const length = data.readUInt32BE(1);
      if (flag === 1) throw API_ERRORS.compressed();
      if (flag !== 0) {
        throw new ApiError(GrpcCode.INTERNAL, `grpc: invalid message flag ${flag}`);
      }
      if (length > this.maxMessageBytes) {
        throw API_ERRORS.messageTooLarge(length, this.maxMessageBytes);
      }
      if (data.length < PREFIX_BYTES + length) {
        this.neededBytes = PREFIX_BYTES + length;
        break;
      }
      onMessage(data.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
      data = data.subarray(PREFIX_BYTES + length);
    }
    if (data.length > 0) {
      this.chunks = [data];
      this.bufferedBytes = data.length;
    }
  }
}

/** One length-prefixed, uncompressed frame around an encoded message. */
export function frameMessage(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
  frame[0] = 0;
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, PREFIX_BYTES);
  return frame;
}

/** grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const TIMEOUT_UNITS_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/** grpc-timeout (`<1-8 digits><unit>`) in milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * TIMEOUT_UNITS_MS[match[2]];
}
