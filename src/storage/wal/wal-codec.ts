/**
 * Encodes records into frames (see wal-record.ts for the layout) and decodes them back. Encoding
 * writes straight into a caller's Buffer so that a whole fsync batch becomes one allocation-free
 * buffer and one write.
 */
import { crc32c } from '@node-rs/crc32';
import { asLogIndex, asMemberId, asTerm, assert, assertNever } from '../../base/index.ts';
import type { EntryType } from '../../raft/types.ts';
import {
  WalRecordType,
  crcSeedBytes,
  entryFixedBytes,
  frameHeaderBytes,
  hardStateBytes,
  maxPayloadBytes,
  snapshotMarkerBytes,
  type WalRecord,
  type WalRecordTypeCode,
} from './wal-record.ts';

const twoTo32 = 2 ** 32;

export function payloadBytes(record: WalRecord): number {
  switch (record.kind) {
    case 'crc-seed':
      return crcSeedBytes;
    case 'metadata':
      return record.data.length;
    case 'entry':
      return entryFixedBytes + record.entry.data.length;
    case 'hard-state':
      return hardStateBytes;
    case 'snapshot':
      return snapshotMarkerBytes;
    default:
      return assertNever(record);
  }
}

export function frameBytes(record: WalRecord): number {
  return frameHeaderBytes + payloadBytes(record);
}

function writeU64(buffer: Buffer, value: number, offset: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'u64 out of range');
  buffer.writeUInt32LE(value >>> 0, offset);
  buffer.writeUInt32LE(Math.floor(value / twoTo32), offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * twoTo32;
}

function typeCode(record: WalRecord): WalRecordTypeCode {
  switch (record.kind) {
    case 'crc-seed':
      return WalRecordType.crcSeed;
    case 'metadata':
      return WalRecordType.metadata;
    case 'entry':
      return WalRecordType.entry;
    case 'hard-state':
      return WalRecordType.hardState;
    case 'snapshot':
      return WalRecordType.snapshot;
    default:
      return assertNever(record);
  }
}

function writePayload(record: WalRecord, buffer: Buffer, at: number): void {
  switch (record.kind) {
    case 'crc-seed':
      buffer.writeUInt32LE(record.previousCrc >>> 0, at);
      return;
    case 'metadata':
      buffer.set(record.data, at);
      return;
    case 'entry': {
      const entry = record.entry;
      writeU64(buffer, entry.index, at);
      writeU64(buffer, entry.term, at + 8);
      buffer[at + 16] = entry.type === 'normal' ? 0 : 1;
      buffer.set(entry.data, at + entryFixedBytes);
      return;
    }
    case 'hard-state':
      writeU64(buffer, record.hardState.term, at);
      buffer.writeBigUInt64LE(record.hardState.vote, at + 8);
      writeU64(buffer, record.hardState.commit, at + 16);
      return;
    case 'snapshot':
      writeU64(buffer, record.snapshot.index, at);
      writeU64(buffer, record.snapshot.term, at + 8);
      return;
    default:
      assertNever(record);
  }
}

/**
 * Writes one frame at `buffer[offset..]` chained on `previousCrc`; returns the frame's
 * payloadCrc, which the next record chains on. The caller has sized the buffer.
 */
export function encodeFrame(
  record: WalRecord,
  buffer: Buffer,
  offset: number,
  previousCrc: number,
): number {
  const length = payloadBytes(record);
  assert(length <= maxPayloadBytes, 'wal record too large');
  assert(offset + frameHeaderBytes + length <= buffer.length, 'encodeFrame: buffer too small');
  const payloadAt = offset + frameHeaderBytes;
  writePayload(record, buffer, payloadAt);
  const payload = buffer.subarray(payloadAt, payloadAt + length);
  const seed = record.kind === 'crc-seed' ? CRC_SEED_RECORD_SEED : previousCrc;
  const payloadCrc = crc32c(payload, seed);
  buffer.writeUInt32LE(payloadCrc, offset);
  buffer.writeUInt32LE(length, offset + 4);
  buffer.writeUInt32LE(typeCode(record), offset + 8);
  buffer.writeUInt32LE(crc32c(buffer.subarray(offset, offset + 12)), offset + 12);
  return payloadCrc;
}

export interface FrameHeader {
  readonly payloadCrc: number;
  readonly payloadLength: number;
  readonly type: number;
}

/** The header at `offset`, or null if its own checksum does not match. */
export function decodeHeader(buffer: Buffer, offset: number): FrameHeader | null {
  assert(offset + frameHeaderBytes <= buffer.length, 'decodeHeader: past the end');
  const headerCrc = buffer.readUInt32LE(offset + 12);
  if (crc32c(buffer.subarray(offset, offset + 12)) !== headerCrc) return null;
  return {
    payloadCrc: buffer.readUInt32LE(offset),
    payloadLength: buffer.readUInt32LE(offset + 4),
    type: buffer.readUInt32LE(offset + 8),
  };
}

/**
 * The fixed seed of a crc-seed record's own checksum. It must not be the record's content: for
 * CRC32C, crc32c(v, seed = v) over the 4 bytes of v is one constant for every v (the register
 * starts at ~v and v is xored in, always leaving all ones), so such a checksum verified nothing
 * and a flipped bit in the oldest segment's seed passed recovery silently (found by the
 * simulator's WAL disk, seed 555 of --seeds 2000). Seeded with a constant, the checksum covers
 * the value and the chain value after it depends on the previous segment's last crc.
 */
const CRC_SEED_RECORD_SEED = 0;

/** Whether `payload` matches the header's payloadCrc when chained on `previousCrc` (a crc-seed
 *  record starts a chain of its own: see CRC_SEED_RECORD_SEED). */
export function payloadMatches(header: FrameHeader, payload: Buffer, previousCrc: number): boolean {
  const seed = header.type === WalRecordType.crcSeed ? CRC_SEED_RECORD_SEED : previousCrc;
  return crc32c(payload, seed) === header.payloadCrc;
}

const fixedPayloadBytes: Partial<Record<number, number>> = {
  [WalRecordType.crcSeed]: crcSeedBytes,
  [WalRecordType.hardState]: hardStateBytes,
  [WalRecordType.snapshot]: snapshotMarkerBytes,
};

/** Whether a header's type and length could describe a record; false means corruption. */
export function headerIsPlausible(header: FrameHeader): boolean {
  if (header.type < WalRecordType.crcSeed || header.type > WalRecordType.snapshot) return false;
  if (header.payloadLength > maxPayloadBytes) return false;
  const fixed = fixedPayloadBytes[header.type];
  if (fixed !== undefined) return header.payloadLength === fixed;
  if (header.type === WalRecordType.entry) return header.payloadLength >= entryFixedBytes;
  return true;
}

/** Decodes a payload whose header is plausible and whose checksum matched. Byte arrays are
 *  copied, so the records do not pin the segment's (large) read buffer. */
export function decodePayload(type: number, payload: Buffer): WalRecord {
  switch (type) {
    case WalRecordType.crcSeed:
      return { kind: 'crc-seed', previousCrc: payload.readUInt32LE(0) };
    case WalRecordType.metadata:
      return { kind: 'metadata', data: new Uint8Array(payload) };
    case WalRecordType.entry: {
      const entryType: EntryType = payload[16] === 0 ? 'normal' : 'conf-change';
      const entry = {
        index: asLogIndex(readU64(payload, 0)),
        term: asTerm(readU64(payload, 8)),
        type: entryType,
        data: new Uint8Array(payload.subarray(entryFixedBytes)),
      };
      return { kind: 'entry', entry };
    }
    case WalRecordType.hardState: {
      const hardState = {
        term: asTerm(readU64(payload, 0)),
        vote: asMemberId(payload.readBigUInt64LE(8)),
        commit: asLogIndex(readU64(payload, 16)),
      };
      return { kind: 'hard-state', hardState };
    }
    case WalRecordType.snapshot: {
      const snapshot = {
        index: asLogIndex(readU64(payload, 0)),
        term: asTerm(readU64(payload, 8)),
      };
      return { kind: 'snapshot', snapshot };
    }
    default:
      throw new Error(`decodePayload: unknown record type ${type}`);
  }
}
