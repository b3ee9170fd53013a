/**
 * Binary encoding of one raft Message. Layout (all integers big-endian, varints LEB128):
 *
 *   u8 type | u64 to | u64 from | varint term, logTerm, index, commit, rejectHint | u8 flags
 *   varint entryCount, entries[] (varint term, varint index, u8 type, varint len, data)
 *   varint contextLength, context | if flags.hasSnapshot: snapshot
 *   snapshot = varint index, varint term, varint voterCount, u64[], varint learnerCount, u64[],
 *              varint dataLength, data
 *
 * Type codes follow etcd's raftpb.MessageType numbers so traces read alike. Messages that only
 * exist inside a member (MsgHup, MsgBeat, ...) have no business on the wire: encoding one is a
 * bug and decoding one is a FrameDecodeError. The version lives in the frame header
 * (frame-codec.ts); a layout change bumps it.
 */
import type { Entry, EntryType, Message, MessageType, Snapshot } from '../raft/types.ts';
import {
  asLogIndex,
  asMemberId,
  asTerm,
  assert,
  type LogIndex,
  type MemberId,
} from '../base/index.ts';
import { ByteReader, ByteWriter } from './byte-cursor.ts';
import { FrameDecodeError } from './frame-decode-error.ts';

export { FrameDecodeError };

/** Largest encoded message the codec accepts, snapshot data excluded when streamed. */
export const MESSAGE_BYTES_MAX = 16 * 1024 * 1024;
/** Raft contexts are ReadIndex ids and transfer markers: a few bytes. */
export const CONTEXT_BYTES_MAX = 64 * 1024;
export const MEMBERS_PER_CONF_STATE_MAX = 10_000;

/** The smallest possible encoded entry: 1-byte term, index, type and data length. */
const ENTRY_BYTES_MIN = 4;
const FLAG_REJECT = 0x01;
const FLAG_SNAPSHOT = 0x02;
const FLAGS_KNOWN = FLAG_REJECT | FLAG_SNAPSHOT;

const MESSAGE_TYPE_CODES: ReadonlyMap<MessageType, number> = new Map<MessageType, number>([
  ['MsgHup', 0],
  ['MsgBeat', 1],
  ['MsgProp', 2],
  ['MsgApp', 3],
  ['MsgAppResp', 4],
  ['MsgVote', 5],
  ['MsgVoteResp', 6],
  ['MsgSnap', 7],
  ['MsgHeartbeat', 8],
  ['MsgHeartbeatResp', 9],
  ['MsgUnreachable', 10],
  ['MsgSnapStatus', 11],
  ['MsgCheckQuorum', 12],
  ['MsgTransferLeader', 13],
  ['MsgTimeoutNow', 14],
  ['MsgReadIndex', 15],
  ['MsgReadIndexResp', 16],
  ['MsgPreVote', 17],
  ['MsgPreVoteResp', 18],
]);
const MESSAGE_TYPES_BY_CODE: ReadonlyMap<number, MessageType> = new Map(
  [...MESSAGE_TYPE_CODES].map(([type, code]) => [code, type]),
);

const LOCAL_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgHup',
  'MsgBeat',
  'MsgUnreachable',
  'MsgSnapStatus',
  'MsgCheckQuorum',
]);

/** Messages a member produces for itself; a transport must never carry them. */
export const isLocalMessageType = (type: MessageType): boolean => LOCAL_MESSAGE_TYPES.has(type);

const ENTRY_TYPE_CODES: Readonly<Record<EntryType, number>> = { normal: 0, 'conf-change': 1 };
const ENTRY_TYPES_BY_CODE: readonly EntryType[] = ['normal', 'conf-change'];

export interface EncodeOptions {
  /** Leave snapshot.data out (streamed separately by the transport); encodes length 0. */
  readonly omitSnapshotData?: boolean;
}

/** Appends one message to `writer`. */
export function writeMessage(writer: ByteWriter, message: Message, options?: EncodeOptions): void {
  const code = MESSAGE_TYPE_CODES.get(message.type);
  assert(code !== undefined, 'unknown message type');
  assert(!isLocalMessageType(message.type), 'a local message sent to a peer');
  const start = writer.size;
  writer.u8(code);
  writer.u64(message.to);
  writer.u64(message.from);
  writer.varuint(message.term);
  writer.varuint(message.logTerm);
  writer.varuint(message.index);
  writer.varuint(message.commit);
  writer.varuint(message.rejectHint);
  writer.u8((message.reject ? FLAG_REJECT : 0) | (message.snapshot ? FLAG_SNAPSHOT : 0));
  writer.varuint(message.entries.length);
  for (const entry of message.entries) writeEntry(writer, entry);
  assert(message.context.length <= CONTEXT_BYTES_MAX, 'context too large');
  writer.lengthPrefixed(message.context);
  if (message.snapshot) writeSnapshot(writer, message.snapshot, options?.omitSnapshotData === true);
  // Paired with the decoder's check: a message we cannot decode must never leave.
  assert(writer.size - start <= MESSAGE_BYTES_MAX, 'message larger than the codec accepts');
}

export function encodeMessage(message: Message, options?: EncodeOptions): Uint8Array {
  const writer = new ByteWriter(estimateMessageBytes(message));
  writeMessage(writer, message, options);
  return writer.finish();
}

/**
 * Decodes exactly one message; trailing bytes are an error. Throws only FrameDecodeError. The
 * result shares no memory with `bytes` unless `bytesAreOwned` says `bytes` is a private copy
 * that the message may keep (see ByteReader).
 */
export function decodeMessage(bytes: Uint8Array, bytesAreOwned = false): Message {
  if (bytes.length > MESSAGE_BYTES_MAX) {
    throw new FrameDecodeError(`message of ${bytes.length} bytes > ${MESSAGE_BYTES_MAX}`);
  }
  const reader = new ByteReader(bytes, bytesAreOwned);
  const message = readMessage(reader);
  reader.expectEnd('message');
  return message;
}

/**
 * An upper bound on the encoded size (every varint counted at its 8-byte maximum), cheap
 * enough to check on every send and to size the encoder's buffer.
 */
export function estimateMessageBytes(message: Message): number {
  let bytes = 1 + 16 + 5 * 8 + 1 + 8 + 8 + message.context.length;
  for (const entry of message.entries) bytes += 8 + 8 + 1 + 8 + entry.data.length;
  if (message.snapshot) {
    const { voters, learners } = message.snapshot.metadata.confState;
    bytes += 8 + 8 + 8 + 8 + 8 * (voters.length + learners.length) + 8;
    bytes += message.snapshot.data.length;
  }
  return bytes;
}

function writeEntry(writer: ByteWriter, entry: Entry): void {
  writer.varuint(entry.term);
  writer.varuint(entry.index);
  writer.u8(ENTRY_TYPE_CODES[entry.type]);
  writer.lengthPrefixed(entry.data);
}

function writeSnapshot(writer: ByteWriter, snapshot: Snapshot, omitData: boolean): void {
  const { metadata } = snapshot;
  writer.varuint(metadata.index);
  writer.varuint(metadata.term);
  writeMembers(writer, metadata.confState.voters);
  writeMembers(writer, metadata.confState.learners);
  writer.lengthPrefixed(omitData ? new Uint8Array(0) : snapshot.data);
}

function writeMembers(writer: ByteWriter, members: readonly MemberId[]): void {
  assert(members.length <= MEMBERS_PER_CONF_STATE_MAX, 'too many members');
  writer.varuint(members.length);
  for (const member of members) writer.u64(member);
}

function readMessage(reader: ByteReader): Message {
  const code = reader.u8('message type');
  const type = MESSAGE_TYPES_BY_CODE.get(code);
  if (type === undefined) throw new FrameDecodeError(`unknown message type ${code}`);
  if (isLocalMessageType(type)) throw new FrameDecodeError(`local message ${type} on the wire`);
  const to = asMemberId(reader.u64('to'));
  const from = asMemberId(reader.u64('from'));
  const term = asTerm(reader.varuint('term'));
  const logTerm = asTerm(reader.varuint('logTerm'));
  const index = asLogIndex(reader.varuint('index'));
  const commit = asLogIndex(reader.varuint('commit'));
  const rejectHint = asLogIndex(reader.varuint('rejectHint'));
  const flags = reader.u8('flags');
  if ((flags & ~FLAGS_KNOWN) !== 0) throw new FrameDecodeError(`unknown flags ${flags}`);
  const entries = readEntries(reader);
  const context = reader.lengthPrefixed('context', CONTEXT_BYTES_MAX);
  const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshot(reader) : null;
  const reject = (flags & FLAG_REJECT) !== 0;
  return {
    type,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    snapshot,
    reject,
    rejectHint,
    context,
  };
}

function readEntries(reader: ByteReader): Entry[] {
  const count = reader.varuint('entry count');
  // Bound the count by the bytes actually present before allocating anything for it.
  if (count > reader.remaining / ENTRY_BYTES_MIN) {
    throw new FrameDecodeError(`entry count ${count} exceeds the ${reader.remaining} bytes left`);
  }
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const term = asTerm(reader.varuint('entry term'));
    const index: LogIndex = asLogIndex(reader.varuint('entry index'));
    const typeCode = reader.u8('entry type');
    const type = ENTRY_TYPES_BY_CODE[typeCode];
    if (type === undefined) throw new FrameDecodeError(`unknown entry type ${typeCode}`);
    const data = reader.lengthPrefixed('entry data', MESSAGE_BYTES_MAX);
    entries.push({ term, index, type, data });
  }
  return entries;
}

function readSnapshot(reader: ByteReader): Snapshot {
  const index = asLogIndex(reader.varuint('snapshot index'));
  const term = asTerm(reader.varuint('snapshot term'));
  const voters = readMembers(reader, 'voters');
  const learners = readMembers(reader, 'learners');
  const data = reader.lengthPrefixed('snapshot data', MESSAGE_BYTES_MAX);
  return { metadata: { index, term, confState: { voters, learners } }, data };
}

function readMembers(reader: ByteReader, what: string): MemberId[] {
  const count = reader.varuint(`${what} count`);
  if (count > MEMBERS_PER_CONF_STATE_MAX || count * 8 > reader.remaining) {
    throw new FrameDecodeError(`${what} count ${count} impossible with ${reader.remaining} bytes`);
  }
  const members: MemberId[] = [];
  for (let i = 0; i < count; i++) members.push(asMemberId(reader.u64(what)));
  return members;
}
