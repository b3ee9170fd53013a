/**
 * Header blocks of a client connection, reassembled from HEADERS and CONTINUATION frames
 * (RFC 9113 §6.10): nothing but CONTINUATION frames of the same stream may come in between.
 */
import {
  FrameFlag,
  FrameType,
  H2ConnectionError,
  H2ErrorCode,
  headersFragment,
  type Frame,
} from './h2-frames.ts';

/** Far above any real request's headers; a block beyond it is an attack or a broken client. */
export const HEADER_BLOCK_BYTES_MAX = 1024 * 1024;

export interface HeaderBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly block: Buffer;
}

interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  bytes: number;
}

/** Follows the frames of one connection, in order, and hands out each complete block. */
export class HeaderBlockAssembler {
  private open: OpenBlock | null = null;

  /** Whether the next frame must be a CONTINUATION of an incomplete block. */
  get inBlock(): boolean {
    return this.open !== null;
  }

  /** Takes a HEADERS or CONTINUATION frame; null while the block is incomplete. */
  accept(frame: Frame): HeaderBlock | null {
    if (this.open !== null) {
      if (frame.type !== FrameType.continuation || frame.streamId !== this.open.streamId) {
        throw new H2ConnectionError(H2ErrorCode.protocol, 'a header block was interrupted');
      }
      return this.add(frame.payload, frame.flags);
    }
    if (frame.type !== FrameType.headers) {
      throw new H2ConnectionError(H2ErrorCode.protocol, 'CONTINUATION outside a header block');
    }
    this.open = {
      streamId: frame.streamId,
      endStream: (frame.flags & FrameFlag.endStream) !== 0,
      fragments: [],
      bytes: 0,
    };
    return this.add(headersFragment(frame), frame.flags);
  }

  private add(fragment: Buffer, flags: number): HeaderBlock | null {
    const open = this.open!;
    open.fragments.push(fragment);
    open.bytes += fragment.length;
    if (open.bytes > HEADER_BLOCK_BYTES_MAX) {
      throw new H2ConnectionError(H2ErrorCode.protocol, 'header block too large');
    }
    if ((flags & FrameFlag.endHeaders) === 0) return null;
    this.open = null;
    return {
      streamId: open.streamId,
      endStream: open.endStream,
      block: open.fragments.length === 1 ? open.fragments[0] : Buffer.concat(open.fragments),
    };
  }
}
