/**
 * Header blocks of a client connection: reassembled from HEADERS and CONTINUATION frames, and
 * the `:authority` repair they may need.
 *
 * Why the repair: etcdctl 3.4 (grpc-go of its day) sends the endpoint as given, scheme and all,
 * as the HTTP/2 authority (`:authority: http://127.0.0.1:2379`) for `--endpoints=http://…` and
 * for the client URLs `--cluster` discovers. nghttp2, inside node's http2 server, checks the
 * authority against RFC 3986's characters and resets such a stream with PROTOCOL_ERROR before
 * any of our code sees it, and node has no option to relax the check. etcd (grpc-go's server)
 * does not check, so those commands work against etcd.
 */
import { FrameFlag, FrameType, splitHeadersPayload, type Frame } from './h2-frames.ts';
import type { HeaderField } from './hpack.ts';

/** Far above any real request's headers; a block beyond it is an attack or a broken client. */
export const HEADER_BLOCK_BYTES_MAX = 1024 * 1024;

/** The client broke HTTP/2 in a way that ends the connection. */
export class ClientProtocolError extends Error {
  override readonly name = 'ClientProtocolError';
}

export interface HeaderBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority: Buffer | null;
  readonly block: Buffer;
}

interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority: Buffer | null;
  readonly fragments: Buffer[];
  bytes: number;
}

/** Follows the frames of one connection, in order, and hands out each complete block. */
export class HeaderBlockAssembler {
  private open: OpenBlock | null = null;

  /** 'other' for a frame outside any header block, 'partial' while a block is incomplete. */
  accept(frame: Frame): HeaderBlock | 'partial' | 'other' {
    if (this.open !== null) {
      if (frame.type !== FrameType.continuation || frame.streamId !== this.open.streamId) {
        throw new ClientProtocolError('a header block was interrupted by another frame');
      }
      return this.add(frame.payload, frame.flags);
    }
    if (frame.type === FrameType.continuation) {
      throw new ClientProtocolError('CONTINUATION outside a header block');
    }
    if (frame.type !== FrameType.headers) return 'other';
    const parts = splitHeadersPayload(frame);
    if (parts === null) throw new ClientProtocolError('malformed HEADERS frame');
    this.open = {
      streamId: frame.streamId,
      endStream: (frame.flags & FrameFlag.endStream) !== 0,
      priority: parts.priority,
      fragments: [],
      bytes: 0,
    };
    return this.add(parts.fragment, frame.flags);
  }

  private add(fragment: Buffer, flags: number): HeaderBlock | 'partial' {
    const open = this.open!;
    open.fragments.push(fragment);
    open.bytes += fragment.length;
    if (open.bytes > HEADER_BLOCK_BYTES_MAX)
      throw new ClientProtocolError('header block too large');
    if ((flags & FrameFlag.endHeaders) === 0) return 'partial';
    this.open = null;
    return {
      streamId: open.streamId,
      endStream: open.endStream,
      priority: open.priority,
      block: Buffer.concat(open.fragments),
    };
  }
}

/** The characters nghttp2 accepts in an authority (RFC 3986 host, port and userinfo). */
const AUTHORITY_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

export const isAcceptedAuthority = (value: string): boolean => AUTHORITY_CHARACTERS.test(value);

/** `scheme://host:port/anything` → `host:port`; null when nothing acceptable remains. */
export function repairAuthority(value: string): string | null {
  const withoutScheme = value.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '');
  const host = withoutScheme.split(/[/?#]/, 1)[0];
  return host !== '' && isAcceptedAuthority(host) ? host : null;
}

/** Whether a block's fields hold an authority nghttp2 would refuse. */
export const needsAuthorityRepair = (fields: readonly HeaderField[]): boolean =>
  fields.some((field) => field.name === ':authority' && !isAcceptedAuthority(field.value));

/** The fields with a refused authority repaired, or left out when it cannot be (HTTP/2 lets a
 *  request go without one; gRPC does not read it). */
export function withRepairedAuthority(fields: readonly HeaderField[]): HeaderField[] {
  const out: HeaderField[] = [];
  for (const field of fields) {
    if (field.name !== ':authority' || isAcceptedAuthority(field.value)) {
      out.push(field);
      continue;
    }
    const repaired = repairAuthority(field.value);
    if (repaired !== null) out.push({ ...field, value: repaired });
  }
  return out;
}
