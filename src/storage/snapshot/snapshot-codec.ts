/**
 * The byte layout of a snapshot file (little-endian):
 *
 *   0    u32  magic 0x4e534753 ("SGSN")
 *   4    u32  format version (1)
 *   8    u64  index        (as two u32 halves, low first)
 *   16   u64  term
 *   24   u32  voter count v
 *   28   u32  learner count l
 *   32   u64  × v voter ids, then u64 × l learner ids
 *   ..   u64  data length n, then n bytes of state-machine data
 *   end  u32  crc32c of every byte before it
 *
 * The trailing checksum covers the whole file, so a torn or rotted file never loads.
 */
import { crc32c } from '@node-rs/crc32';
import { assert, asLogIndex, asMemberId, asTerm, type MemberId } from '../../base/index.ts';
import type { Snapshot } from '../../raft/types.ts';

const magic = 0x4e534753;
const formatVersion = 1;
const fixedBytes = 32;
const twoTo32 = 2 ** 32;

function writeU64(buffer: Buffer, value: number, offset: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'u64 out of range');
  buffer.writeUInt32LE(value >>> 0, offset);
  buffer.writeUInt32LE(Math.floor(value / twoTo32), offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * twoTo32;
}

export function encodeSnapshotFile(snapshot: Snapshot): Buffer {
  const { voters, learners } = snapshot.metadata.confState;
  const membersBytes = 8 * (voters.length + learners.length);
  const total = fixedBytes + membersBytes + 8 + snapshot.data.length + 4;
  const buffer = Buffer.alloc(total);
  buffer.writeUInt32LE(magic, 0);
  buffer.writeUInt32LE(formatVersion, 4);
  writeU64(buffer, snapshot.metadata.index, 8);
  writeU64(buffer, snapshot.metadata.term, 16);
  buffer.writeUInt32LE(voters.length, 24);
  buffer.writeUInt32LE(learners.length, 28);
  let at = fixedBytes;
  for (const id of [...voters, ...learners]) {
    buffer.writeBigUInt64LE(id, at);
    at += 8;
  }
  writeU64(buffer, snapshot.data.length, at);
  buffer.set(snapshot.data, at + 8);
  at += 8 + snapshot.data.length;
  assert(at === total - 4, 'snapshot encoded to its computed size');
  buffer.writeUInt32LE(crc32c(buffer.subarray(0, at)), at);
  return buffer;
}

/** The snapshot in `bytes`, or a reason why they are not a valid snapshot file. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot | string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < fixedBytes + 12) return `file too short (${buffer.length} bytes)`;
  const end = buffer.length - 4;
  if (crc32c(buffer.subarray(0, end)) !== buffer.readUInt32LE(end)) return 'checksum mismatch';
  if (buffer.readUInt32LE(0) !== magic) return 'bad magic number';
  if (buffer.readUInt32LE(4) !== formatVersion) return 'unknown format version';
  const voterCount = buffer.readUInt32LE(24);
  const learnerCount = buffer.readUInt32LE(28);
  const dataAt = fixedBytes + 8 * (voterCount + learnerCount) + 8;
  if (dataAt > end) return 'member list runs past the end';
  const readIds = (from: number, count: number): MemberId[] => {
    const ids: MemberId[] = [];
    for (let i = 0; i < count; i++) ids.push(asMemberId(buffer.readBigUInt64LE(from + 8 * i)));
    return ids;
  };
  const dataLength = readU64(buffer, dataAt - 8);
  if (dataAt + dataLength !== end) return 'data length does not match the file size';
  return {
    metadata: {
      index: asLogIndex(readU64(buffer, 8)),
      term: asTerm(readU64(buffer, 16)),
      confState: {
        voters: readIds(fixedBytes, voterCount),
        learners: readIds(fixedBytes + 8 * voterCount, learnerCount),
      },
    },
    data: new Uint8Array(buffer.subarray(dataAt, end)),
  };
}
