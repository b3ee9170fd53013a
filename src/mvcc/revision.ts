/**
 * Revisions as etcd pairs them: `main` (one per write transaction) and `sub` (the n-th change
 * inside it). In memory a pair is packed into one number (main * 2^16 + sub) so the key index
 * holds plain number arrays; on disk it is 16 big-endian bytes, so byte order is revision order,
 * plus a trailing 't' for a tombstone (as etcd marks deletions in its key bucket).
 */
import { assert } from '../base/index.ts';

export const SUB_REVISIONS_MAX = 2 ** 16;
export const MAIN_REVISION_MAX = 2 ** 37 - 1;
const TOMBSTONE_MARK = 0x74; // 't'
export const REVISION_KEY_BYTES = 16;

export type PackedRevision = number;

export function packRevision(main: number, sub: number): PackedRevision {
  // The messages are built only on failure: a template argument would format the number on
  // every call, and this runs several times per put and per read.
  if (!(Number.isInteger(main) && main >= 0 && main <= MAIN_REVISION_MAX)) {
    assert(false, `bad main rev ${main}`);
  }
  if (!(Number.isInteger(sub) && sub >= 0 && sub < SUB_REVISIONS_MAX)) {
    assert(false, `bad sub rev ${sub}`);
  }
  return main * SUB_REVISIONS_MAX + sub;
}

export const mainOf = (packed: PackedRevision): number => Math.floor(packed / SUB_REVISIONS_MAX);
export const subOf = (packed: PackedRevision): number => packed % SUB_REVISIONS_MAX;

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

export function encodeRevisionKey(packed: PackedRevision, tombstone: boolean): Uint8Array {
  return writeRevisionKey(new Uint8Array(REVISION_KEY_BYTES + 1), packed, tombstone);
}

/**
 * Writes the revision key into `target` (at least 17 bytes) and returns the view of it. The hot
 * paths pass a reused scratch buffer: backends copy keys they keep.
 */
export function writeRevisionKey(
  target: Uint8Array,
  packed: PackedRevision,
  tombstone: boolean,
): Uint8Array {
  const main = mainOf(packed);
  writeUint32(target, 0, Math.floor(main / 2 ** 32));
  writeUint32(target, 4, main >>> 0);
  writeUint32(target, 8, 0);
  writeUint32(target, 12, subOf(packed));
  const length = REVISION_KEY_BYTES + (tombstone ? 1 : 0);
  assert(target.length >= length, 'revision key target too small');
  if (tombstone) target[REVISION_KEY_BYTES] = TOMBSTONE_MARK;
  // A target of exactly the right size is returned itself, so a backend sees the same object
  // every time and can cache its own view of it.
  return target.length === length ? target : target.subarray(0, length);
}

/** The first key of revision `main` (sub 0), a bound for scans by main revision. */
export const revisionKeyLowerBound = (main: number): Uint8Array =>
  encodeRevisionKey(packRevision(main, 0), false);

export interface DecodedRevisionKey {
  readonly packed: PackedRevision;
  readonly tombstone: boolean;
}

export function decodeRevisionKey(bytes: Uint8Array): DecodedRevisionKey {
  assert(
    bytes.length === REVISION_KEY_BYTES || bytes.length === REVISION_KEY_BYTES + 1,
    'a revision key has 16 or 17 bytes',
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const main = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  assert(view.getUint32(8) === 0, 'sub revision above 2^32');
  const tombstone = bytes.length === REVISION_KEY_BYTES + 1;
  if (tombstone) assert(bytes[REVISION_KEY_BYTES] === TOMBSTONE_MARK, 'bad tombstone mark');
  return { packed: packRevision(main, view.getUint32(12)), tombstone };
}
