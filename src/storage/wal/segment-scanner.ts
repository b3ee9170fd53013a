/**
 * Reads the records of one segment file and decides where its valid data ends.
 *
 * Segments are preallocated with zeros, so the written data is followed by zeros. Scanning
 * stops at the first frame that is not a valid record:
 *   - an all-zero header: the end of the written data (the rest must be zeros too);
 *   - anything else (a header or payload checksum mismatch, a frame running past the file):
 *     in the LAST segment, if only zeros follow the bad frame, it is the torn tail of a write
 *     that was never acknowledged (its fsync never returned), and recovery cuts it off;
 *     otherwise, or in any earlier segment, it is corruption and recovery stops.
 * A record's acknowledgement always follows the fsync of every byte before it, so acknowledged
 * data is a prefix of each file, and a gap of zeros can only come after it.
 * Known limit (shared with etcd): a bit flip in the very last record of the log looks exactly
 * like a torn write, so that one record is cut instead of reported.
 */
import { assert } from '../../base/index.ts';
import {
  decodeHeader,
  decodePayload,
  headerIsPlausible,
  payloadMatches,
  type FrameHeader,
} from './wal-codec.ts';
import { WalCorruptError } from './wal-errors.ts';
import { WalRecordType, frameHeaderBytes, type WalRecord } from './wal-record.ts';

export interface ScannedSegment {
  readonly records: WalRecord[];
  /** Where the valid data ends (the next record goes here). */
  readonly validEndOffset: number;
  /** The payloadCrc of the last valid record (the chain value the next record seeds on). */
  readonly lastCrc: number;
  /** Whether non-zero bytes after validEndOffset were a torn tail that must be cut. */
  readonly torn: boolean;
}

const zeros = Buffer.alloc(64 * 1024);

export function isAllZero(bytes: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += zeros.length) {
    const end = Math.min(to, at + zeros.length);
    if (!bytes.subarray(at, end).equals(zeros.subarray(0, end - at))) return false;
  }
  return true;
}

interface ScanContext {
  readonly bytes: Buffer;
  readonly file: string;
  readonly isLast: boolean;
}

/** Where the bad frame at `offset` ends: after its payload if its header can be trusted. */
function badFrameEnd(context: ScanContext, offset: number, header: FrameHeader | null): number {
  const headerEnd = Math.min(context.bytes.length, offset + frameHeaderBytes);
  if (header === null || !headerIsPlausible(header)) return headerEnd;
  return Math.min(context.bytes.length, headerEnd + header.payloadLength);
}

/** Classifies the bad frame at `offset`: a torn tail (returns) or corruption (throws). */
function endAtBadFrame(context: ScanContext, offset: number, end: number, reason: string): void {
  const onlyZerosFollow = isAllZero(context.bytes, end, context.bytes.length);
  if (context.isLast && onlyZerosFollow) return;
  throw new WalCorruptError(context.file, offset, reason);
}

export function scanSegment(
  bytes: Buffer,
  file: string,
  isLast: boolean,
  previousCrc: number | null,
): ScannedSegment {
  const context: ScanContext = { bytes, file, isLast };
  const records: WalRecord[] = [];
  let crc = previousCrc ?? 0;
  let offset = 0;
  const done = (torn: boolean): ScannedSegment => ({
    records,
    validEndOffset: offset,
    lastCrc: crc,
    torn,
  });
  while (offset < bytes.length) {
    const headerFits = offset + frameHeaderBytes <= bytes.length;
    if (!headerFits || isAllZero(bytes, offset, offset + frameHeaderBytes)) {
      // The end of the written data: clean if only zeros follow, else a hole before later
      // writes, which (see above) can only be unacknowledged data in the last segment.
      if (isAllZero(bytes, offset, bytes.length)) return done(false);
      const reason = headerFits ? 'data after a zeroed frame header' : 'partial frame header';
      if (!isLast) throw new WalCorruptError(file, offset, reason);
      return done(true);
    }
    const header = decodeHeader(bytes, offset);
    const reason = frameProblem(context, offset, header, crc, records.length === 0, previousCrc);
    if (reason !== null) {
      endAtBadFrame(context, offset, badFrameEnd(context, offset, header), reason);
      return done(true);
    }
    assert(header !== null, 'a frame without problems has a header');
    const payloadAt = offset + frameHeaderBytes;
    const payload = bytes.subarray(payloadAt, payloadAt + header.payloadLength);
    records.push(decodePayload(header.type, payload));
    crc = header.payloadCrc;
    const next = payloadAt + header.payloadLength;
    assert(next > offset && next <= bytes.length, 'the scan moves forward within the file');
    offset = next;
  }
  return done(false);
}

/** Why the frame at `offset` is not a valid next record, or null if it is. */
function frameProblem(
  context: ScanContext,
  offset: number,
  header: FrameHeader | null,
  crc: number,
  first: boolean,
  previousCrc: number | null,
): string | null {
  if (header === null) return 'frame header checksum mismatch';
  if (!headerIsPlausible(header)) return `implausible frame header (type ${header.type})`;
  const payloadAt = offset + frameHeaderBytes;
  if (payloadAt + header.payloadLength > context.bytes.length) {
    return 'frame runs past the end of the file';
  }
  const payload = context.bytes.subarray(payloadAt, payloadAt + header.payloadLength);
  const isSeed = header.type === WalRecordType.crcSeed;
  if (first !== isSeed) return first ? 'segment does not start with a crc seed' : 'stray crc seed';
  if (isSeed && previousCrc !== null && payload.readUInt32LE(0) !== previousCrc) {
    return 'crc chain broken between segments';
  }
  if (!payloadMatches(header, payload, crc)) return 'payload checksum mismatch';
  return null;
}
