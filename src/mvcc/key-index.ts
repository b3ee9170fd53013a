/**
 * The in-memory key index, as etcd's keyIndex/treeIndex: per key the generations of its
 * revisions. A generation runs from a creation to a deletion (the tombstone is its last
 * revision); a deleted key has an empty generation at the end until it is created again.
 * The index answers "which revision of key K is visible at revision R" without touching disk,
 * and compaction decides from it which revisions to keep.
 */
import { assert } from '../base/index.ts';
import { mainOf, type PackedRevision, packRevision } from './revision.ts';
import { hashBytes, KeyHashMap } from './key-hash-map.ts';
import { SortedKeyMap } from './sorted-key-map.ts';
import type { KeyValue } from './types.ts';

interface Generation {
  /** Number of revisions ever put in this generation, including compacted ones. */
  version: number;
  created: PackedRevision;
  revs: PackedRevision[];
}

export interface IndexedRevision {
  readonly modified: PackedRevision;
  readonly created: PackedRevision;
  readonly version: number;
}

/** The revisions of a generation not yet begun; never pushed to (put() replaces it). */
const NO_REVISIONS: PackedRevision[] = [];

/**
 * One key's revisions. The newest generation (the live one, or the empty one after a deletion)
 * is held in the KeyIndex's own fields, so a key that was never deleted, which is nearly every
 * key, costs one object and one array; earlier generations, each ending with its tombstone, are
 * in `older`.
 */
export class KeyIndex implements Generation {
  /** The key as keyString() gives it. */
  readonly key: string;
  version = 0;
  created: PackedRevision = 0;
  revs: PackedRevision[] = NO_REVISIONS;
  /** Generations before the newest, oldest first; undefined while there are none. */
  older: Generation[] | undefined = undefined;
  /**
   * Owned by ValueCache (value-cache.ts): a decoded KeyValue and the revision it is of;
   * undefined rather than -1 when uncached, so an uncached key holds no boxed number.
   */
  cachedRevision: PackedRevision | undefined = undefined;
  cachedKeyValue: KeyValue | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }

  private get generationCount(): number {
    return this.older === undefined ? 1 : this.older.length + 1;
  }

  /** Generation `index` in order, the newest (this object's own fields) last. */
  private generation(index: number): Generation {
    return this.older === undefined || index === this.older.length ? this : this.older[index];
  }

  /** The newest revision of the key (live or tombstone). */
  modified(): PackedRevision {
    if (this.revs.length > 0) return this.revs[this.revs.length - 1];
    if (this.older === undefined || this.older.length === 0) return 0;
    const revs = this.older[this.older.length - 1].revs;
    return revs[revs.length - 1];
  }

  put(rev: PackedRevision): void {
    assert(rev > this.modified(), 'key index: revision must increase');
    if (this.revs.length === 0) {
      // A literal allocates exactly one slot; push() on an empty array reserves 17.
      this.created = rev;
      this.revs = [rev];
    } else {
      this.revs.push(rev);
    }
    this.version++;
  }

  tombstone(rev: PackedRevision): void {
    assert(this.revs.length > 0, 'key index: tombstone of a deleted key');
    this.put(rev);
    this.closeGeneration();
  }

  /** Moves the newest generation to `older` and starts an empty one. */
  private closeGeneration(): void {
    const closed: Generation = { version: this.version, created: this.created, revs: this.revs };
    if (this.older === undefined) this.older = [closed];
    else this.older.push(closed);
    this.version = 0;
    this.created = 0;
    this.revs = NO_REVISIONS;
  }

  /**
   * Rebuild-time put, as etcd's keyIndex.restore: when `rev` opens the newest generation, the
   * generation's creation and version come from the stored record, not from counting: a
   * compaction may have removed the revisions before `rev`, and a rebuilt index that restarted
   * the version at 1 would stamp later puts differently than members that never restarted.
   */
  restorePut(rev: PackedRevision, createMain: number, version: number): void {
    if (this.revs.length > 0) {
      this.put(rev);
      return;
    }
    assert(rev > this.modified(), 'key index: revision must increase');
    assert(createMain <= mainOf(rev) && version >= 1, 'key index: inconsistent stored record');
    this.created = packRevision(createMain, 0);
    this.revs = [rev];
    this.version = version;
  }

  /**
   * Rebuild-time tombstone: a compaction interrupted by a crash may have deleted a key's put but
   * not yet its tombstone; the tombstone then starts a generation of its own, which the resumed
   * compaction removes.
   */
  restoreTombstone(rev: PackedRevision): void {
    if (this.revs.length > 0) {
      this.tombstone(rev);
      return;
    }
    this.version = 1;
    this.created = rev;
    this.revs = [rev];
    this.closeGeneration();
  }

  /** The generation visible at main revision `atMain`, or undefined if none (deleted/absent). */
  private findGeneration(atMain: number): Generation | undefined {
    // `packed < bound` is `main <= atMain` without a division per comparison.
    const bound = packRevision(atMain + 1, 0);
    const lastIndex = this.generationCount - 1;
    for (let index = lastIndex; index >= 0; index--) {
      const generation = this.generation(index);
      if (generation.revs.length === 0) continue;
      if (index !== lastIndex && generation.revs[generation.revs.length - 1] < bound) {
        return undefined; // Its tombstone is at or before atMain: deleted then.
      }
      if (generation.revs[0] < bound) return generation;
    }
    return undefined;
  }

  get(atMain: number): IndexedRevision | undefined {
    const bound = packRevision(atMain + 1, 0);
    // Fast path, a live key read at or after its newest revision: the newest generation is the
    // live one (a tombstone always opens an empty generation after it).
    const newestCount = this.revs.length;
    if (newestCount === 0 && this.older === undefined) return undefined; // A new key.
    if (newestCount > 0 && this.revs[newestCount - 1] < bound) {
      return { modified: this.revs[newestCount - 1], created: this.created, version: this.version };
    }
    const generation = this.findGeneration(atMain);
    if (generation === undefined) return undefined;
    for (let n = generation.revs.length - 1; n >= 0; n--) {
      if (generation.revs[n] < bound) {
        const version = generation.version - (generation.revs.length - n - 1);
        return { modified: generation.revs[n], created: generation.created, version };
      }
    }
    return undefined;
  }

  /**
   * Which generation and position survive a compaction at `atMain` (etcd's doCompact): skip
   * generations whose tombstone is at or before it, then keep the newest revision <= atMain.
   */
  private compactPoint(atMain: number): { generationIndex: number; revIndex: number } {
    let generationIndex = 0;
    while (generationIndex < this.generationCount - 1) {
      const revs = this.generation(generationIndex).revs;
      if (mainOf(revs[revs.length - 1]) > atMain) break;
      generationIndex++;
    }
    const revs = this.generation(generationIndex).revs;
    let revIndex = -1;
    for (let n = revs.length - 1; n >= 0; n--) {
      if (mainOf(revs[n]) <= atMain) {
        revIndex = n;
        break;
      }
    }
    return { generationIndex, revIndex };
  }

  /** The revision <= atMain a compaction at atMain keeps for this key, if any. */
  kept(atMain: number): PackedRevision | undefined {
    const { generationIndex, revIndex } = this.compactPoint(atMain);
    return revIndex === -1 ? undefined : this.generation(generationIndex).revs[revIndex];
  }

  /** Drops revisions a compaction at atMain makes unreachable; reports the one kept. */
  compact(atMain: number, available: Set<PackedRevision>): void {
    const { generationIndex, revIndex } = this.compactPoint(atMain);
    const lastIndex = this.generationCount - 1;
    const generation = this.generation(generationIndex);
    let firstKept = generationIndex;
    if (generation.revs.length > 0) {
      if (revIndex !== -1) {
        available.add(generation.revs[revIndex]);
        // Also trims the spare capacity push() left behind.
        generation.revs = generation.revs.slice(revIndex);
      }
      // A generation reduced to its tombstone (not the newest one) is gone entirely.
      if (generation.revs.length === 1 && generationIndex !== lastIndex) {
        available.delete(generation.revs[0]);
        firstKept++;
      }
    }
    // The newest generation always stays (firstKept <= lastIndex): drop older ones before it.
    assert(firstKept <= lastIndex, 'key index: compaction removed every generation');
    if (this.older !== undefined && firstKept > 0) {
      this.older = firstKept === this.older.length ? undefined : this.older.slice(firstKept);
    }
  }

  isEmpty(): boolean {
    return this.older === undefined && this.revs.length === 0;
  }
}

/** Node's latin1 decoder (what `buffer.toString('latin1')` runs), callable on any Uint8Array. */
const latin1Slice = (
  Buffer.prototype as unknown as {
    latin1Slice(this: Uint8Array, start: number, end: number): string;
  }
).latin1Slice;

/** The bytes of a key as a string of char codes 0-255, which the engine compares in byte order. */
export function keyString(key: Uint8Array): string {
  // New keys and range bounds are converted: latin1 maps byte b to char code b and builds a
  // flat string natively, about 40 % faster than String.fromCharCode.apply on short keys and
  // with no argument-count limit on long ones.
  return latin1Slice.call(key, 0, key.length);
}

/**
 * All keys' indexes: a hash map for point lookups (the hot path of puts and single-key reads)
 * and an ordered map for ranges, holding the same KeyIndex objects.
 */
export class TreeIndex {
  private readonly keys = new SortedKeyMap<KeyIndex>();
  private readonly byKey = new KeyHashMap<KeyIndex>();

  get keyCount(): number {
    assert(this.keys.size === this.byKey.size, 'key index maps disagree');
    return this.keys.size;
  }

  lookup(key: Uint8Array): KeyIndex | undefined {
    return this.byKey.get(key);
  }

  get(key: Uint8Array, atMain: number): IndexedRevision | undefined {
    return this.byKey.get(key)?.get(atMain);
  }

  /** The key's index, created empty if the key is new (a put then fills it). */
  lookupOrCreate(key: Uint8Array): KeyIndex {
    const hash = hashBytes(key);
    const found = this.byKey.get(key, hash);
    if (found !== undefined) return found;
    const index = new KeyIndex(keyString(key));
    this.keys.insert(index);
    this.byKey.insert(index, hash);
    return index;
  }

  /** Records a put; `known` is the key's index if the caller already looked it up. */
  put(key: Uint8Array, rev: PackedRevision, known?: KeyIndex): void {
    (known ?? this.lookupOrCreate(key)).put(rev);
  }

  tombstone(key: Uint8Array, rev: PackedRevision): void {
    const index = this.lookup(key);
    assert(index !== undefined, 'key index: tombstone of an unknown key');
    index.tombstone(rev);
  }

  /** Visits keys in [start, end) live at atMain, in key order, until `visit` returns false. */
  range(
    start: Uint8Array,
    end: Uint8Array | undefined,
    atMain: number,
    visit: (revision: IndexedRevision) => boolean,
  ): void {
    const endKey = end === undefined ? undefined : keyString(end);
    this.keys.forEachInRange(keyString(start), endKey, (index) => {
      const revision = index.get(atMain);
      return revision === undefined ? true : visit(revision);
    });
  }

  /** Compacts every key at atMain; returns the revisions <= atMain still reachable. */
  compact(atMain: number): Set<PackedRevision> {
    const available = new Set<PackedRevision>();
    const emptied: string[] = [];
    for (const index of this.keys.values()) {
      index.compact(atMain, available);
      if (index.isEmpty()) emptied.push(index.key);
    }
    for (const key of emptied) {
      assert(this.keys.delete(key));
      assert(this.byKey.delete(key));
    }
    return available;
  }

  /**
   * What compact(atMain) would return, without changing anything. A kept revision is never a
   * tombstone: compactPoint skips generations whose tombstone is <= atMain.
   */
  keep(atMain: number): Set<PackedRevision> {
    const available = new Set<PackedRevision>();
    for (const index of this.keys.values()) {
      const kept = index.kept(atMain);
      if (kept !== undefined) available.add(kept);
    }
    return available;
  }

  /** See KeyIndex.restorePut. */
  restorePut(key: Uint8Array, rev: PackedRevision, createMain: number, version: number): void {
    this.lookupOrCreate(key).restorePut(rev, createMain, version);
  }

  /** See KeyIndex.restoreTombstone. */
  restoreTombstone(key: Uint8Array, rev: PackedRevision): void {
    this.lookupOrCreate(key).restoreTombstone(rev);
  }
}
