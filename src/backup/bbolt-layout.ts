/**
 * The on-disk layout of a bbolt database (the file format etcd keeps its backend in and ships as
 * a snapshot), as facts: every page starts with a 16-byte header; pages 0 and 1 are meta pages
 * (the newer valid one wins); the other pages are branch or leaf nodes of B+trees, one tree per
 * bucket, or the freelist. All integers are little-endian. A page whose content does not fit
 * spans `overflow` further pages, contiguous on disk.
 *
 *   page header: id u64 | flags u16 | count u16 | overflow u32
 *   leaf element:   flags u32 | pos u32 | key size u32 | value size u32   (pos from the element)
 *   branch element: pos u32 | key size u32 | child page id u64             (pos from the element)
 *   meta (after the header): magic u32 | version u32 | page size u32 | flags u32 |
 *        root bucket {root page u64, sequence u64} | freelist page u64 | page count u64 |
 *        txid u64 | checksum u64 (FNV-1a 64 of the 56 bytes before it)
 *   bucket value (in its parent's leaf, element flag 1): root page u64 | sequence u64, and for an
 *        inline bucket (root page 0) a whole leaf page follows, header included.
 */

export const PAGE_HEADER_BYTES = 16;
export const LEAF_ELEMENT_BYTES = 16;
export const BRANCH_ELEMENT_BYTES = 16;
export const BUCKET_HEADER_BYTES = 16;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;

/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_ELEMENT = 0x01;

export const BBOLT_MAGIC = 0xed0cdaed;
export const BBOLT_VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;
/** The meta's freelist page when the freelist is not stored (etcd runs bbolt that way). */
export const NO_FREELIST = 0xffff_ffff_ffff_ffffn;

/** Offsets inside a meta page (after the page header). */
export const META_BYTES = 64;
export const META_CHECKSUM_OFFSET = 56;

/** bbolt's limits on keys and values (its MaxKeySize and MaxValueSize). */
export const KEY_BYTES_MAX = 32_768;
export const VALUE_BYTES_MAX = 2 ** 31 - 2;

/** Smallest and largest page size a reader accepts (bbolt uses the OS page size). */
export const PAGE_SIZE_MIN = 1024;
export const PAGE_SIZE_MAX = 65_536;

export interface PageHeader {
  readonly id: bigint;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
}

export function readPageHeader(view: DataView, offset: number): PageHeader {
  return {
    id: view.getBigUint64(offset, true),
    flags: view.getUint16(offset + 8, true),
    count: view.getUint16(offset + 10, true),
    overflow: view.getUint32(offset + 12, true),
  };
}

export function writePageHeader(view: DataView, offset: number, header: PageHeader): void {
  view.setBigUint64(offset, header.id, true);
  view.setUint16(offset + 8, header.flags, true);
  view.setUint16(offset + 10, header.count, true);
  view.setUint32(offset + 12, header.overflow, true);
}

export interface Meta {
  readonly pageSize: number;
  readonly flags: number;
  readonly rootPage: bigint;
  readonly rootSequence: bigint;
  readonly freelistPage: bigint;
  /** Pages in use: the file's high-water mark (the database is pageCount * pageSize bytes). */
  readonly pageCount: bigint;
  readonly txid: bigint;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits: bbolt's meta checksum. Only ever run over 56 bytes, so bigint is fine. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let hash = FNV_OFFSET;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & U64;
  return hash;
}

/** Writes a meta page's body at `offset` (just after its page header), checksum included. */
export function writeMeta(page: Uint8Array, offset: number, meta: Meta): void {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  view.setUint32(offset, BBOLT_MAGIC, true);
  view.setUint32(offset + 4, BBOLT_VERSION, true);
  view.setUint32(offset + 8, meta.pageSize, true);
  view.setUint32(offset + 12, meta.flags, true);
  view.setBigUint64(offset + 16, meta.rootPage, true);
  view.setBigUint64(offset + 24, meta.rootSequence, true);
  view.setBigUint64(offset + 32, meta.freelistPage, true);
  view.setBigUint64(offset + 40, meta.pageCount, true);
  view.setBigUint64(offset + 48, meta.txid, true);
  const checksum = fnv1a64(page.subarray(offset, offset + META_CHECKSUM_OFFSET));
  view.setBigUint64(offset + META_CHECKSUM_OFFSET, checksum, true);
}

/** Why a meta page is unusable, or its contents. */
export function readMeta(
  page: Uint8Array,
  offset: number,
): { readonly meta: Meta } | { readonly problem: string } {
  if (page.length < offset + META_BYTES) return { problem: 'meta page cut short' };
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  if (view.getUint32(offset, true) !== BBOLT_MAGIC) return { problem: 'bad magic number' };
  const version = view.getUint32(offset + 4, true);
  if (version !== BBOLT_VERSION) return { problem: `unsupported version ${version}` };
  const stored = view.getBigUint64(offset + META_CHECKSUM_OFFSET, true);
  const computed = fnv1a64(page.subarray(offset, offset + META_CHECKSUM_OFFSET));
  if (stored !== computed) return { problem: 'checksum mismatch' };
  return {
    meta: {
      pageSize: view.getUint32(offset + 8, true),
      flags: view.getUint32(offset + 12, true),
      rootPage: view.getBigUint64(offset + 16, true),
      rootSequence: view.getBigUint64(offset + 24, true),
      freelistPage: view.getBigUint64(offset + 32, true),
      pageCount: view.getBigUint64(offset + 40, true),
      txid: view.getBigUint64(offset + 48, true),
    },
  };
}

/** Pages a node of `contentBytes` (header included) occupies. */
export const pagesFor = (contentBytes: number, pageSize: number): number =>
  Math.max(1, Math.ceil(contentBytes / pageSize));
