/**
 * What the WAL stores, and the byte layout of one record (a frame).
 *
 * Frame layout (little-endian), 16-byte header then the payload, no padding:
 *
 *   offset  size  field
 *   0       4     payloadCrc  crc32c(payload, seed = payloadCrc of the previous record)
 *   4       4     payloadLength in bytes
 *   8       1     type (WalRecordType; 0 never occurs, so a zeroed header means "no record")
 *   9       3     reserved, zero
 *   12      4     headerCrc   crc32c(bytes 0..12 of this header)
 *   16      n     payload
 *
 * Why two checksums: the chained payloadCrc catches corrupted, torn, reordered or foreign
 * records; the headerCrc makes the length trustworthy before we use it, so a flipped length bit
 * is reported as corruption instead of looking like a record that runs past the written data
 * (which recovery would take for a torn tail and silently cut).
 *
 * Payloads (integers are u64 as two u32 halves, low first; member ids as u64):
 *   crc-seed   u32 payloadCrc of the last record of the previous segment (0 for the first); its
 *              own payloadCrc is crc32c(payload, seed 0), so it depends on that value and the
 *              chain runs across segments (recovery also compares it with the previous
 *              segment's last crc).
 *   metadata   opaque bytes (member id / cluster id, chosen by the server)
 *   entry      u64 index, u64 term, u8 type (0 normal, 1 conf-change), then the data bytes
 *   hard-state u64 term, u64 vote, u64 commit
 *   snapshot   u64 index, u64 term: a snapshot at this point is durable (for release/recovery)
 */
import type { Entry, HardState } from '../../raft/types.ts';
import type { LogIndex, Term } from '../../base/index.ts';

export const frameHeaderBytes = 16;
/** Upper bound on one record's payload; a raft entry is far smaller (etcd caps requests at
 *  1.5 MiB), so anything larger in a header is corruption, not data. */
export const maxPayloadBytes = 64 * 1024 * 1024;

export const WalRecordType = {
  crcSeed: 1,
  metadata: 2,
  entry: 3,
  hardState: 4,
  snapshot: 5,
} as const;
export type WalRecordTypeCode = (typeof WalRecordType)[keyof typeof WalRecordType];

export interface WalSnapshotMarker {
  readonly index: LogIndex;
  readonly term: Term;
}

export type WalRecord =
  | { readonly kind: 'crc-seed'; readonly previousCrc: number }
  | { readonly kind: 'metadata'; readonly data: Uint8Array }
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: WalSnapshotMarker };

export const entryFixedBytes = 17;
export const hardStateBytes = 24;
export const snapshotMarkerBytes = 16;
export const crcSeedBytes = 4;
