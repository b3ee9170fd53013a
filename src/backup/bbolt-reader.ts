/**
 * Reads a bbolt database and refuses a damaged one. Opening checks both meta pages (magic,
 * version, FNV-1a checksum), picks the newer valid one, and checks that the file holds every
 * page the meta counts (a truncated copy fails here). Walking the trees checks each page it
 * visits: within bounds, its header naming itself, the expected kind, elements inside the page,
 * keys strictly ascending across the whole bucket and inside their parent branch's range, and
 * no page reached twice (which also stops cycles). Any violation throws BboltCorruptError naming
 * the page.
 *
 * Pages are read on demand from a `PageSource`, so a multi-gigabyte file is never held in
 * memory: a walk keeps one page per tree level.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { compareBytes } from '../base/index.ts';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE,
  BUCKET_ELEMENT,
  BUCKET_HEADER_BYTES,
  FREELIST_PAGE,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE,
  type Meta,
  NO_FREELIST,
  PAGE_HEADER_BYTES,
  PAGE_SIZE_MAX,
  PAGE_SIZE_MIN,
  readMeta,
  readPageHeader,
} from './bbolt-layout.ts';

export class BboltCorruptError extends Error {
  override readonly name = 'BboltCorruptError';
  readonly code = 'bbolt-corrupt';
}

/** Random access to the database bytes. */
export interface PageSource {
  readonly sizeBytes: number;
  /** `length` bytes from `offset`; never called beyond sizeBytes. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export class BytesPageSource implements PageSource {
  constructor(private readonly bytes: Uint8Array) {}
  get sizeBytes(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
  close(): void {}
}

/** A file read with positional reads; `limitBytes` hides a trailer (etcd's SHA-256). */
export class FilePageSource implements PageSource {
  private readonly fd: number;
  readonly sizeBytes: number;

  constructor(path: string, limitBytes?: number) {
    this.fd = openSync(path, 'r');
    const size = fstatSync(this.fd).size;
    this.sizeBytes = limitBytes === undefined ? size : Math.min(size, limitBytes);
  }

  read(offset: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const read = readSync(this.fd, bytes, done, length - done, offset + done);
      if (read === 0) throw new BboltCorruptError(`bbolt: file ends at byte ${offset + done}`);
      done += read;
    }
    return bytes;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A bucket to walk: a tree rooted at a page, or an inline leaf page held in its parent. */
export interface BucketRef {
  readonly rootPage: number;
  readonly sequence: bigint;
  readonly inline?: Uint8Array;
}

export interface BboltEntry {
  readonly key: Uint8Array;
  /** The stored value; for a nested bucket, its raw header (see `bucket`). */
  readonly value: Uint8Array;
  /** Set when the entry is a nested bucket. */
  readonly bucket?: BucketRef;
}

/** The last key handed out by a walk: every next key must be greater. */
interface Cursor {
  last: Uint8Array | undefined;
}

/** The key range a page's keys must fall in, from the branch keys above it. */
interface KeyBounds {
  readonly lower: Uint8Array | undefined;
  readonly upper: Uint8Array | undefined;
}

const NO_BOUNDS: KeyBounds = { lower: undefined, upper: undefined };

/** A node's bytes and where it came from, for error messages. */
interface Node {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly where: string;
}

const corrupt = (message: string): never => {
  throw new BboltCorruptError(`bbolt: ${message}`);
};

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.subarray(0, 32)).toString('hex');

export class BboltReader {
  private constructor(
    private readonly source: PageSource,
    readonly meta: Meta,
  ) {}

  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** The database's size as bbolt reports it (page count times page size). */
  get sizeBytes(): number {
    return Number(this.meta.pageCount) * this.meta.pageSize;
  }

  static open(source: PageSource): BboltReader {
    if (source.sizeBytes < 2 * PAGE_SIZE_MIN) {
      corrupt(`file of ${source.sizeBytes} bytes is too small to hold two meta pages`);
    }
    const first = source.read(0, Math.min(source.sizeBytes, PAGE_SIZE_MAX));
    const meta0 = readMeta(first, PAGE_HEADER_BYTES);
    const candidates: Meta[] = [];
    const problems: string[] = [];
    if ('meta' in meta0) candidates.push(meta0.meta);
    else problems.push(`meta page 0: ${meta0.problem}`);
    // Meta 1 sits one page in; without a valid meta 0 the page size is unknown, so try each.
    const sizes =
      'meta' in meta0 ? [meta0.meta.pageSize] : [1024, 2048, 4096, 8192, 16384, 32768, 65536];
    let meta1Problem = 'no valid meta page 1 at any page size';
    for (const size of sizes) {
      if (size + PAGE_HEADER_BYTES + 64 > source.sizeBytes) continue;
      const found = readMeta(source.read(size, PAGE_HEADER_BYTES + 64), PAGE_HEADER_BYTES);
      if ('meta' in found) {
        if (found.meta.pageSize === size) {
          candidates.push(found.meta);
          meta1Problem = '';
          break;
        }
        meta1Problem = 'page size disagrees with its position';
      } else if (sizes.length === 1) {
        meta1Problem = found.problem;
      }
    }
    if (meta1Problem !== '') problems.push(`meta page 1: ${meta1Problem}`);
    if (candidates.length === 0) corrupt(`not a valid bbolt database (${problems.join('; ')})`);
    const meta = candidates.reduce((a, b) => (b.txid > a.txid ? b : a));
    checkMeta(meta, source.sizeBytes);
    return new BboltReader(source, meta);
  }

  close(): void {
    this.source.close();
  }

  /** The root bucket (which holds only buckets). */
  root(): BucketRef {
    return { rootPage: Number(this.meta.rootPage), sequence: this.meta.rootSequence };
  }

  /** Page ids the stored freelist names (empty when the freelist is not stored). */
  freePages(): number[] {
    if (this.meta.freelistPage === NO_FREELIST) return [];
    const id = Number(this.meta.freelistPage);
    const node = this.node(id, FREELIST_PAGE);
    let count = readPageHeader(node.view, 0).count;
    let start = PAGE_HEADER_BYTES;
    if (count === 0xffff) {
      // bbolt stores larger counts in the first slot.
      count = Number(node.view.getBigUint64(start, true));
      start += 8;
    }
    if (start + count * 8 > node.bytes.length) corrupt(`${node.where}: freelist overruns its page`);
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const free = Number(node.view.getBigUint64(start + i * 8, true));
      if (free < 2 || free >= Number(this.meta.pageCount)) {
        corrupt(`${node.where}: free page ${free} out of bounds`);
      }
      ids.push(free);
    }
    return ids;
  }

  /**
   * The entries of a bucket in key order. Pass one `visited` set to several walks to check
   * that no page is shared between them.
   */
  *entries(bucket: BucketRef, visited: Set<number> = new Set()): Generator<BboltEntry> {
    const cursor: Cursor = { last: undefined };
    if (bucket.inline !== undefined) {
      const bytes = bucket.inline;
      const node = {
        bytes,
        view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        where: 'inline bucket',
      };
      const header = readPageHeader(node.view, 0);
      if (header.flags !== LEAF_PAGE) corrupt('inline bucket is not a leaf page');
      yield* this.leafEntries(node, header.count, cursor, NO_BOUNDS);
      return;
    }
    yield* this.walk(bucket.rootPage, visited, cursor, NO_BOUNDS, true);
  }

  private *walk(
    id: number,
    visited: Set<number>,
    cursor: Cursor,
    bounds: KeyBounds,
    isRoot: boolean,
  ): Generator<BboltEntry> {
    if (visited.has(id)) corrupt(`page ${id} is reached twice`);
    visited.add(id);
    const node = this.node(id, BRANCH_PAGE | LEAF_PAGE);
    const header = readPageHeader(node.view, 0);
    if (header.flags === LEAF_PAGE) {
      if (header.count === 0 && !isRoot) corrupt(`${node.where}: empty leaf below a branch`);
      yield* this.leafEntries(node, header.count, cursor, bounds);
      return;
    }
    if (header.count === 0) corrupt(`${node.where}: empty branch page`);
    const children: { key: Uint8Array; child: number }[] = [];
    for (let i = 0; i < header.count; i++) {
      const at = PAGE_HEADER_BYTES + i * BRANCH_ELEMENT_BYTES;
      if (at + BRANCH_ELEMENT_BYTES > node.bytes.length) corrupt(`${node.where}: elements overrun`);
      const pos = node.view.getUint32(at, true);
      const key = slice(node, at + pos, node.view.getUint32(at + 4, true));
      const previous = children[children.length - 1];
      if (previous !== undefined && compareBytes(previous.key, key) >= 0) {
        corrupt(`${node.where}: branch keys out of order at ${hex(key)}`);
      }
      checkBounds(node, key, bounds);
      children.push({ key, child: Number(node.view.getBigUint64(at + 8, true)) });
    }
    for (let i = 0; i < children.length; i++) {
      // Every key under child i lies in [its branch key, the next branch key).
      const childBounds = { lower: children[i].key, upper: children[i + 1]?.key ?? bounds.upper };
      yield* this.walk(children[i].child, visited, cursor, childBounds, false);
    }
  }

  private *leafEntries(
    node: Node,
    count: number,
    cursor: Cursor,
    bounds: KeyBounds,
  ): Generator<BboltEntry> {
    const entries: BboltEntry[] = [];
    for (let i = 0; i < count; i++) {
      const at = PAGE_HEADER_BYTES + i * LEAF_ELEMENT_BYTES;
      if (at + LEAF_ELEMENT_BYTES > node.bytes.length) corrupt(`${node.where}: elements overrun`);
      const flags = node.view.getUint32(at, true);
      const pos = node.view.getUint32(at + 4, true);
      const keySize = node.view.getUint32(at + 8, true);
      const valueSize = node.view.getUint32(at + 12, true);
      const key = slice(node, at + pos, keySize);
      const value = slice(node, at + pos + keySize, valueSize);
      if (key.length === 0) corrupt(`${node.where}: empty key`);
      if (cursor.last !== undefined && compareBytes(cursor.last, key) >= 0) {
        corrupt(`${node.where}: key ${hex(key)} out of order`);
      }
      checkBounds(node, key, bounds);
      cursor.last = key;
      const isBucket = (flags & BUCKET_ELEMENT) !== 0;
      entries.push(isBucket ? { key, value, bucket: this.bucketRef(node, value) } : { key, value });
    }
    // The page is fully checked before any of it is handed out.
    yield* entries;
  }

  private bucketRef(node: Node, value: Uint8Array): BucketRef {
    if (value.length < BUCKET_HEADER_BYTES) corrupt(`${node.where}: bucket header cut short`);
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const rootPage = Number(view.getBigUint64(0, true));
    const sequence = view.getBigUint64(8, true);
    if (rootPage !== 0) {
      if (value.length !== BUCKET_HEADER_BYTES) corrupt(`${node.where}: bucket header with a tail`);
      return { rootPage, sequence };
    }
    const inline = value.subarray(BUCKET_HEADER_BYTES);
    if (inline.length < PAGE_HEADER_BYTES) corrupt(`${node.where}: inline bucket cut short`);
    return { rootPage, sequence, inline };
  }

  /** Reads page `id` with its overflow pages and checks its header. */
  private node(id: number, kinds: number): Node {
    const pageCount = Number(this.meta.pageCount);
    if (!Number.isSafeInteger(id) || id < 2 || id >= pageCount) {
      corrupt(`page ${id} out of bounds (the database has ${pageCount} pages)`);
    }
    const size = this.pageSize;
    const first = this.source.read(id * size, size);
    const header = readPageHeader(new DataView(first.buffer, first.byteOffset, size), 0);
    const where = `page ${id}`;
    if (header.id !== BigInt(id)) corrupt(`${where}: header names page ${header.id}`);
    if (
      (header.flags & kinds) === 0 ||
      ![BRANCH_PAGE, LEAF_PAGE, FREELIST_PAGE].includes(header.flags)
    ) {
      corrupt(`${where}: unexpected page type 0x${header.flags.toString(16)}`);
    }
    if (id + header.overflow >= pageCount) corrupt(`${where}: overflow runs past the last page`);
    const bytes =
      header.overflow === 0 ? first : this.source.read(id * size, (header.overflow + 1) * size);
    return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), where };
  }
}

function slice(node: Node, start: number, length: number): Uint8Array {
  if (start + length > node.bytes.length) corrupt(`${node.where}: element data overruns the page`);
  return node.bytes.subarray(start, start + length);
}

function checkBounds(node: Node, key: Uint8Array, bounds: KeyBounds): void {
  if (bounds.lower !== undefined && compareBytes(key, bounds.lower) < 0) {
    corrupt(`${node.where}: key ${hex(key)} below its branch key`);
  }
  if (bounds.upper !== undefined && compareBytes(key, bounds.upper) >= 0) {
    corrupt(`${node.where}: key ${hex(key)} beyond its parent's range`);
  }
}

function checkMeta(meta: Meta, fileBytes: number): void {
  const { pageSize } = meta;
  if (!(
    Number.isInteger(Math.log2(pageSize)) &&
    pageSize >= PAGE_SIZE_MIN &&
    pageSize <= PAGE_SIZE_MAX
  )) {
    corrupt(`meta names an invalid page size ${pageSize}`);
  }
  const pageCount = Number(meta.pageCount);
  if (pageCount < 3) corrupt(`meta counts only ${pageCount} pages`);
  const needed = pageCount * pageSize;
  if (fileBytes < needed) {
    corrupt(`truncated: the database needs ${needed} bytes but the file holds ${fileBytes}`);
  }
  if (meta.rootPage < 2n || meta.rootPage >= meta.pageCount) {
    corrupt(`meta names root page ${meta.rootPage} outside the database`);
  }
}
