/**
 * Writes a bbolt database in one pass from sorted bucket contents: a bulk load. Each bucket is
 * built bottom-up by a `BucketBuilder` — leaf pages are filled completely and written as soon as
 * the next entry would not fit, and every written page hands its first key and page id to the
 * level above, which fills and writes branch pages the same way. Memory stays at one page per
 * tree level, whatever the database size.
 *
 * Pages are numbered in the order they are written, so a `PageSink` receives them sequentially;
 * only the two meta pages (0 and 1), which must name the root bucket's page and the final page
 * count, are written last. Builders are independent: a bucket is finished into a value that
 * any parent (or the root) then stores under its name, so nested buckets may be built in any
 * order and placed into a parent whose keys arrive sorted. Small buckets without sub-buckets are
 * stored inline in their parent, as bbolt does.
 */
import { compareBytes } from '../base/index.ts';
import {
  BRANCH_ELEMENT_BYTES,
  BRANCH_PAGE,
  BUCKET_ELEMENT,
  BUCKET_HEADER_BYTES,
  DEFAULT_PAGE_SIZE,
  FREELIST_PAGE,
  KEY_BYTES_MAX,
  LEAF_ELEMENT_BYTES,
  LEAF_PAGE,
  META_PAGE,
  NO_FREELIST,
  PAGE_HEADER_BYTES,
  pagesFor,
  VALUE_BYTES_MAX,
  writeMeta,
  writePageHeader,
} from './bbolt-layout.ts';

/** Where written pages go. Writes arrive in ascending page order, except the two metas. */
export interface PageSink {
  /** Stores `bytes` (a whole number of pages) starting at page `pageId`. */
  write(pageId: number, bytes: Uint8Array): void;
}

export interface BboltWriterOptions {
  readonly pageSize?: number;
  /**
   * Store an (empty) freelist page. etcd runs bbolt without a stored freelist, which readers
   * rebuild by scanning; both are valid. Default false, as etcd.
   */
  readonly storeFreelist?: boolean;
}

/** A finished bucket: the value its parent stores under the bucket's name. */
export interface FinishedBucket {
  readonly bytes: Uint8Array;
}

export interface WrittenDatabase {
  readonly pageCount: number;
  readonly sizeBytes: number;
}

interface PendingElement {
  readonly flags: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** For branch elements: the child's page. */
  readonly child: number;
}

/** One level of a tree under construction: the page being filled. */
class Level {
  elements: PendingElement[] = [];
  contentBytes = PAGE_HEADER_BYTES;
  pagesWritten = 0;
}

export class BboltWriter {
  readonly pageSize: number;
  private readonly storeFreelist: boolean;
  private nextPage = 2;
  private finished = false;

  constructor(
    private readonly sink: PageSink,
    options: BboltWriterOptions = {},
  ) {
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.storeFreelist = options.storeFreelist ?? false;
    if (!(Number.isInteger(Math.log2(this.pageSize)) && this.pageSize >= 1024)) {
      throw new RangeError(`bbolt page size must be a power of two >= 1024: ${this.pageSize}`);
    }
  }

  /** A new, empty bucket to fill in ascending key order. */
  bucket(): BucketBuilder {
    return new BucketBuilder(this);
  }

  /** Writes the root bucket and the meta pages; the database is complete afterwards. */
  finish(root: BucketBuilder, rootSequence = 0n): WrittenDatabase {
    if (this.finished) throw new Error('bbolt writer already finished');
    const rootPage = root.finishTree();
    let freelistPage = NO_FREELIST;
    if (this.storeFreelist) {
      const page = new Uint8Array(this.pageSize);
      const id = this.allocate(1);
      writePageHeader(new DataView(page.buffer), 0, {
        id: BigInt(id),
        flags: FREELIST_PAGE,
        count: 0,
        overflow: 0,
      });
      this.sink.write(id, page);
      freelistPage = BigInt(id);
    }
    const pageCount = this.nextPage;
    const metas = new Uint8Array(2 * this.pageSize);
    for (const id of [0, 1]) {
      const offset = id * this.pageSize;
      const view = new DataView(metas.buffer, offset, this.pageSize);
      writePageHeader(view, 0, { id: BigInt(id), flags: META_PAGE, count: 0, overflow: 0 });
      writeMeta(metas, offset + PAGE_HEADER_BYTES, {
        pageSize: this.pageSize,
        flags: 0,
        rootPage: BigInt(rootPage),
        rootSequence,
        freelistPage,
        pageCount: BigInt(pageCount),
        // As a fresh bbolt file: the next write transaction overwrites meta 0.
        txid: BigInt(id),
      });
    }
    this.sink.write(0, metas);
    this.finished = true;
    return { pageCount, sizeBytes: pageCount * this.pageSize };
  }

  /** @internal Reserves `count` consecutive pages. */
  allocate(count: number): number {
    if (this.finished) throw new Error('bbolt writer already finished');
    const id = this.nextPage;
    this.nextPage += count;
    return id;
  }

  /** @internal Writes one node (leaf or branch) to fresh pages and returns its page id. */
  writeNode(flags: number, elements: readonly PendingElement[], contentBytes: number): number {
    const pages = pagesFor(contentBytes, this.pageSize);
    const id = this.allocate(pages);
    const bytes = new Uint8Array(pages * this.pageSize);
    encodeNode(bytes, BigInt(id), flags, elements, pages - 1);
    this.sink.write(id, bytes);
    return id;
  }
}

/** Lays out a node: header, element table, then keys and values in element order. */
function encodeNode(
  target: Uint8Array,
  id: bigint,
  flags: number,
  elements: readonly PendingElement[],
  overflow: number,
): void {
  if (elements.length > 0xffff) throw new RangeError('too many elements for one bbolt page');
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  writePageHeader(view, 0, { id, flags, count: elements.length, overflow });
  const leaf = flags === LEAF_PAGE;
  const elementBytes = leaf ? LEAF_ELEMENT_BYTES : BRANCH_ELEMENT_BYTES;
  let data = PAGE_HEADER_BYTES + elements.length * elementBytes;
  elements.forEach((element, index) => {
    const at = PAGE_HEADER_BYTES + index * elementBytes;
    if (leaf) {
      view.setUint32(at, element.flags, true);
      view.setUint32(at + 4, data - at, true);
      view.setUint32(at + 8, element.key.length, true);
      view.setUint32(at + 12, element.value.length, true);
    } else {
      view.setUint32(at, data - at, true);
      view.setUint32(at + 4, element.key.length, true);
      view.setBigUint64(at + 8, BigInt(element.child), true);
    }
    target.set(element.key, data);
    data += element.key.length;
    if (leaf) {
      target.set(element.value, data);
      data += element.value.length;
    }
  });
}

/**
 * One bucket being built. Keys must arrive strictly ascending (unsigned byte order); the arrays
 * passed in are kept until their page is written, so callers must not modify them.
 */
export class BucketBuilder {
  private readonly levels: Level[] = [new Level()];
  private lastKey: Uint8Array | undefined;
  private hasSubBuckets = false;
  private done = false;

  constructor(private readonly db: BboltWriter) {}

  put(key: Uint8Array, value: Uint8Array): void {
    if (value.length > VALUE_BYTES_MAX) throw new RangeError('bbolt value too large');
    this.add(0, key, value);
  }

  /** Stores a finished bucket under `key`. */
  putBucket(key: Uint8Array, bucket: FinishedBucket): void {
    this.hasSubBuckets = true;
    this.add(BUCKET_ELEMENT, key, bucket.bytes);
  }

  /** Ends the bucket; the result goes into a parent with putBucket(). */
  finish(sequence = 0n): FinishedBucket {
    const leaf = this.levels[0];
    const inlineable =
      this.levels.length === 1 &&
      leaf.pagesWritten === 0 &&
      !this.hasSubBuckets &&
      leaf.contentBytes <= this.db.pageSize / 4;
    const header = new Uint8Array(BUCKET_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setBigUint64(8, sequence, true);
    if (!inlineable) {
      view.setBigUint64(0, BigInt(this.finishTree()), true);
      return { bytes: header };
    }
    this.close();
    const bytes = new Uint8Array(BUCKET_HEADER_BYTES + leaf.contentBytes);
    bytes.set(header);
    // An inline page carries page id 0; its positions are relative like any other page's.
    encodeNode(bytes.subarray(BUCKET_HEADER_BYTES), 0n, LEAF_PAGE, leaf.elements, 0);
    return { bytes };
  }

  /** @internal Writes whatever is pending and returns the tree's root page. */
  finishTree(): number {
    this.close();
    for (let depth = 0; ; depth++) {
      const level = this.levels[depth];
      if (level.pagesWritten === 0) {
        // Everything at this depth fits one node: the root (an empty bucket's root is an
        // empty leaf).
        return this.db.writeNode(
          depth === 0 ? LEAF_PAGE : BRANCH_PAGE,
          level.elements,
          level.contentBytes,
        );
      }
      this.flush(depth);
    }
  }

  private close(): void {
    if (this.done) throw new Error('bucket already finished');
    this.done = true;
  }

  private add(flags: number, key: Uint8Array, value: Uint8Array): void {
    if (this.done) throw new Error('bucket already finished');
    if (key.length === 0) throw new RangeError('bbolt keys must not be empty');
    if (key.length > KEY_BYTES_MAX) throw new RangeError('bbolt key too large');
    if (this.lastKey !== undefined && compareBytes(this.lastKey, key) >= 0) {
      throw new RangeError('bbolt keys must be added in strictly ascending order');
    }
    this.lastKey = key;
    this.push(0, { flags, key, value, child: 0 });
  }

  private push(depth: number, element: PendingElement): void {
    if (this.levels.length === depth) this.levels.push(new Level());
    const level = this.levels[depth];
    const size =
      (depth === 0 ? LEAF_ELEMENT_BYTES + element.value.length : BRANCH_ELEMENT_BYTES) +
      element.key.length;
    if (level.elements.length > 0 && level.contentBytes + size > this.db.pageSize) {
      this.flush(depth);
    }
    level.elements.push(element);
    level.contentBytes += size;
  }

  /** Writes the node pending at `depth` and hands its first key to the level above. */
  private flush(depth: number): void {
    const level = this.levels[depth];
    const flags = depth === 0 ? LEAF_PAGE : BRANCH_PAGE;
    const id = this.db.writeNode(flags, level.elements, level.contentBytes);
    const first = level.elements[0].key;
    level.elements = [];
    level.contentBytes = PAGE_HEADER_BYTES;
    level.pagesWritten++;
    this.push(depth + 1, { flags: 0, key: first, value: new Uint8Array(0), child: id });
  }
}
