/**
 * The bodies of the frames two members exchange (see frame-codec.ts for the framing).
 *
 *   hello          magic "SGKV" | u64 clusterId | u64 from | u64 to
 *   helloAck       u8 status | u64 clusterId of the acceptor
 *   messages       repeated (u32 length | message)
 *   snapshotBegin  MsgSnap encoded without its data (the data's length is not known upfront:
 *                  it is read from the backend while it streams, see snapshot-streams.ts)
 *   snapshotChunk  the next 1..n bytes of snapshot data; an empty one ends the data
 *   snapshotAck    u8 ok
 *   ping, pong     empty (see connection-liveness.ts)
 *
 * A connection is one-way for raft traffic: the dialer sends, the acceptor only answers
 * handshakes and snapshot acks. Each member dials each peer, so two members share two
 * connections, one per direction, and neither has to arbitrate whose connection wins.
 */
import type { Message } from '../raft/types.ts';
import { asMemberId, assert, type MemberId } from '../base/index.ts';
import { ByteReader, ByteWriter } from './byte-cursor.ts';
import { FrameDecodeError } from './frame-decode-error.ts';
import { beginFrame, encodeFrame, endFrame, FrameKind, FRAME_BYTES_MAX } from './frame-codec.ts';
import { decodeMessage, estimateMessageBytes, writeMessage } from './message-codec.ts';

const MAGIC = Uint8Array.of(0x53, 0x47, 0x4b, 0x56); // "SGKV"
/** Upper bound on one streamed snapshot; a Uint8Array cannot be much larger anyway. */
export const SNAPSHOT_DATA_BYTES_MAX = 2 * 1024 * 1024 * 1024;

export interface Hello {
  readonly clusterId: bigint;
  readonly from: MemberId;
  readonly to: MemberId;
}

export type HelloStatus = 'ok' | 'cluster-mismatch' | 'wrong-recipient' | 'unknown-sender';
const HELLO_STATUSES: readonly HelloStatus[] = [
  'ok',
  'cluster-mismatch',
  'wrong-recipient',
  'unknown-sender',
];

export interface HelloAck {
  readonly status: HelloStatus;
  readonly clusterId: bigint;
}

export function encodeHello(hello: Hello): Uint8Array {
  const writer = new ByteWriter(32);
  writer.raw(MAGIC);
  writer.u64(hello.clusterId);
  writer.u64(hello.from);
  writer.u64(hello.to);
  return encodeFrame(FrameKind.hello, writer.finish());
}

export function decodeHello(body: Uint8Array): Hello {
  const reader = new ByteReader(body);
  const magic = reader.subarray(MAGIC.length, 'magic');
  if (!magic.every((byte, i) => byte === MAGIC[i])) throw new FrameDecodeError('bad magic');
  const clusterId = reader.u64('cluster id');
  const from = asMemberId(reader.u64('from'));
  const to = asMemberId(reader.u64('to'));
  reader.expectEnd('hello');
  return { clusterId, from, to };
}

export function encodeHelloAck(ack: HelloAck): Uint8Array {
  const writer = new ByteWriter(16);
  writer.u8(HELLO_STATUSES.indexOf(ack.status));
  writer.u64(ack.clusterId);
  return encodeFrame(FrameKind.helloAck, writer.finish());
}

export function decodeHelloAck(body: Uint8Array): HelloAck {
  const reader = new ByteReader(body);
  const code = reader.u8('hello status');
  const status = HELLO_STATUSES[code];
  if (status === undefined) throw new FrameDecodeError(`unknown hello status ${code}`);
  const clusterId = reader.u64('cluster id');
  reader.expectEnd('hello ack');
  return { status, clusterId };
}

/**
 * Encodes as many of `messages` (from `start`) as fit in one frame and returns the frame plus
 * the index of the first message left out. Always takes at least one message.
 */
export function encodeMessageBatch(
  messages: readonly Message[],
  start: number,
): { frame: Uint8Array; next: number } {
  assert(start < messages.length, 'empty batch');
  let estimate = 16;
  for (let i = start; i < messages.length && estimate < 1 << 20; i++) {
    estimate += 4 + estimateMessageBytes(messages[i]);
  }
  const writer = new ByteWriter(estimate);
  const framePosition = beginFrame(writer, FrameKind.messages);
  let next = start;
  while (next < messages.length) {
    const recordPosition = writer.size;
    writer.u32(0);
    writeMessage(writer, messages[next]);
    const recordBytes = writer.size - recordPosition - 4;
    writer.patchU32(recordPosition, recordBytes);
    next++;
    // Stop well before the limit: the next message may be as large as MESSAGE_BYTES_MAX.
    if (writer.size >= FRAME_BYTES_MAX / 4) break;
  }
  endFrame(writer, framePosition);
  return { frame: writer.finish(), next };
}

/** The messages share one private copy of `body`, never the caller's (socket's) memory. */
export function decodeMessageBatch(body: Uint8Array): Message[] {
  const owned = new Uint8Array(body.length);
  owned.set(body);
  const reader = new ByteReader(owned);
  const messages: Message[] = [];
  while (reader.remaining > 0) {
    const length = reader.u32('record length');
    messages.push(decodeMessage(reader.subarray(length, 'record'), true));
  }
  if (messages.length === 0) throw new FrameDecodeError('empty message batch');
  return messages;
}

export function encodeSnapshotBegin(message: Message): Uint8Array {
  assert(message.type === 'MsgSnap' && message.snapshot !== null, 'snapshotBegin needs MsgSnap');
  const writer = new ByteWriter(estimateMessageBytes(message) - message.snapshot.data.length);
  const position = beginFrame(writer, FrameKind.snapshotBegin);
  writeMessage(writer, message, { omitSnapshotData: true });
  endFrame(writer, position);
  return writer.finish();
}

/** The MsgSnap whose snapshot data follows in chunk frames. */
export function decodeSnapshotBegin(body: Uint8Array): Message {
  const message = decodeMessage(body);
  if (message.type !== 'MsgSnap' || message.snapshot === null) {
    throw new FrameDecodeError(`snapshotBegin carries ${message.type}, not MsgSnap`);
  }
  if (message.snapshot.data.length !== 0) {
    throw new FrameDecodeError('snapshotBegin carries inline snapshot data');
  }
  return message;
}

export function encodeSnapshotAck(ok: boolean): Uint8Array {
  return encodeFrame(FrameKind.snapshotAck, Uint8Array.of(ok ? 1 : 0));
}

export function decodeSnapshotAck(body: Uint8Array): boolean {
  const reader = new ByteReader(body);
  const value = reader.u8('snapshot ack');
  reader.expectEnd('snapshot ack');
  if (value > 1) throw new FrameDecodeError(`bad snapshot ack ${value}`);
  return value === 1;
}

export const PING_FRAME = encodeFrame(FrameKind.ping, new Uint8Array(0));
export const PONG_FRAME = encodeFrame(FrameKind.pong, new Uint8Array(0));

export function expectEmptyBody(body: Uint8Array, what: string): void {
  if (body.length !== 0)
    throw new FrameDecodeError(`${what} frame with a ${body.length}-byte body`);
}
