/**
 * An ordered map from keys to entries, as a list of sorted chunks (a one-level B-tree): lookups
 * are two binary searches, inserts move at most CHUNK_ENTRIES_MAX references, and ranges walk
 * chunks in order. etcd keeps its key index in a B-tree for the same reasons.
 *
 * Keys are byte strings held as JS strings of char codes 0-255 (see keyString): the engine
 * compares those by code unit, which is exactly unsigned byte order, natively and without
 * a typed array per key.
 */
import { assert } from '../base/index.ts';

const CHUNK_ENTRIES_MAX = 512;

export interface Keyed {
  readonly key: string;
}

export class SortedKeyMap<Entry extends Keyed> {
  private chunks: Entry[][] = [];
  /** The last key of each chunk, so the chunk search reads one flat array of strings instead of
   *  three dependent (and mostly cold) loads per probe. */
  private lastKeys: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last key is >= `key` (chunks.length if none). */
  private chunkFor(key: string): number {
    const lastKeys = this.lastKeys;
    let low = 0;
    let high = lastKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (lastKeys[middle] < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private static lowerBound<E extends Keyed>(chunk: E[], key: string): number {
    let low = 0;
    let high = chunk.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (chunk[middle].key < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  get(key: string): Entry | undefined {
    const chunkIndex = this.chunkFor(key);
    const chunk = this.chunks[chunkIndex];
    if (chunk === undefined) return undefined;
    const entry = chunk[SortedKeyMap.lowerBound(chunk, key)];
    return entry !== undefined && entry.key === key ? entry : undefined;
  }

  /** Inserts an entry whose key is not in the map. */
  insert(entry: Entry): void {
    const last = this.chunks.length - 1;
    if (last < 0 || this.lastKeys[last] < entry.key) {
      // Beyond every key, the common case for growing key spaces: no binary search, push
      // (splice is several times slower), and a full last chunk starts a new one instead of
      // being halved, so chunks fill up.
      this.count++;
      if (last >= 0 && this.chunks[last].length < CHUNK_ENTRIES_MAX) {
        this.chunks[last].push(entry);
        this.lastKeys[last] = entry.key;
      } else {
        this.chunks.push([entry]);
        this.lastKeys.push(entry.key);
      }
      return;
    }
    // Some chunk's last key is >= the new key, so chunkFor finds one.
    const chunkIndex = this.chunkFor(entry.key);
    const chunk = this.chunks[chunkIndex];
    const position = SortedKeyMap.lowerBound(chunk, entry.key);
    assert(
      position === chunk.length || chunk[position].key !== entry.key,
      'SortedKeyMap.insert of a present key',
    );
    this.count++;
    chunk.splice(position, 0, entry);
    if (chunk.length > CHUNK_ENTRIES_MAX) {
      // The new entry was not beyond the chunk's last key, so that key stays the upper half's.
      const upper = chunk.splice(chunk.length >>> 1);
      this.chunks.splice(chunkIndex + 1, 0, upper);
      this.lastKeys.splice(chunkIndex, 0, chunk[chunk.length - 1].key);
    }
  }

  delete(key: string): boolean {
    const chunkIndex = this.chunkFor(key);
    const chunk = this.chunks[chunkIndex];
    if (chunk === undefined) return false;
    const position = SortedKeyMap.lowerBound(chunk, key);
    if (position === chunk.length || chunk[position].key !== key) return false;
    chunk.splice(position, 1);
    this.count--;
    if (chunk.length === 0) {
      this.chunks.splice(chunkIndex, 1);
      this.lastKeys.splice(chunkIndex, 1);
    } else if (position === chunk.length) {
      this.lastKeys[chunkIndex] = chunk[position - 1].key;
    }
    return true;
  }

  /**
   * Calls `visit` for entries with start <= key < end (end undefined: no upper bound) in key
   * order until it returns false.
   */
  forEachInRange(start: string, end: string | undefined, visit: (entry: Entry) => boolean): void {
    let chunkIndex = this.chunkFor(start);
    if (chunkIndex === this.chunks.length) return;
    let position = SortedKeyMap.lowerBound(this.chunks[chunkIndex], start);
    for (; chunkIndex < this.chunks.length; chunkIndex++, position = 0) {
      const chunk = this.chunks[chunkIndex];
      for (; position < chunk.length; position++) {
        const entry = chunk[position];
        if (end !== undefined && entry.key >= end) return;
        if (!visit(entry)) return;
      }
    }
  }

  *values(): IterableIterator<Entry> {
    for (const chunk of this.chunks) yield* chunk;
  }
}
