/**
 * The in-memory key index, as etcd's keyIndex/treeIndex: per key the generations of its
 * revisions. A generation runs from a creation to a deletion (the tombstone is its last
 * revision); a deleted key has an empty generation at the end until it is created again.
 * The index answers "which revision of key K is visible at revision R" without touching disk,
 * and compaction decides from it which revisions to keep.
 */
import { assert } from '../base/index.ts';
import { mainOf, type PackedRevision, packRevision } from './revision.ts';
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

export class KeyIndex {
  /** The key as keyString() gives it. */
  readonly key: string;
  generations: Generation[] = [{ version: 0, created: 0, revs: [] }];
  /** Owned by ValueCache (value-cache.ts): a decoded KeyValue and the revision it is of. */
  cachedRevision: PackedRevision = -1;
  cachedKeyValue: KeyValue | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }

  private last(): Generation {
    return this.generations[this.generations.length - 1];
  }

  /** The newest revision of the key (live or tombstone). */
  modified(): PackedRevision {
    for (let i = this.generations.length - 1; i >= 0; i--) {
      const revs = this.generations[i].revs;
      if (revs.length > 0) return revs[revs.length - 1];
    }
    return 0;
  }

  put(rev: PackedRevision): void {
    assert(rev > this.modified(), 'key index: revision must increase');
    const generation = this.last();
    if (generation.revs.length === 0) {
      // A literal allocates exactly one slot; push() on an empty array reserves 17.
      generation.created = rev;
      generation.revs = [rev];
    } else {
      generation.revs.push(rev);
    }
    generation.version++;
  }

  tombstone(rev: PackedRevision): void {
    assert(this.last().revs.length > 0, 'key index: tombstone of a deleted key');
    this.put(rev);
    this.generations.push({ version: 0, created: 0, revs: [] });
  }

  /** The generation visible at main revision `atMain`, or undefined if none (deleted/absent). */
  private findGeneration(atMain: number): Generation | undefined {
    // `packed < bound` is `main <= atMain` without a division per comparison.
    const bound = packRevision(atMain + 1, 0);
    const lastIndex = this.generations.length - 1;
    for (let index = lastIndex; index >= 0; index--) {
      const generation = this.generations[index];
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
    // Fast path, a live key read at or after its newest revision: the last generation is the
    // live one (a tombstone always opens an empty generation after it).
    const newest = this.generations[this.generations.length - 1];
    const newestCount = newest.revs.length;
    if (newestCount === 0 && this.generations.length === 1) return undefined; // A new key.
    if (newestCount > 0 && newest.revs[newestCount - 1] < bound) {
      return {
        modified: newest.revs[newestCount - 1],
        created: newest.created,
        version: newest.version,
      };
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
    while (generationIndex < this.generations.length - 1) {
      const revs = this.generations[generationIndex].revs;
      if (mainOf(revs[revs.length - 1]) > atMain) break;
      generationIndex++;
    }
    const revs = this.generations[generationIndex].revs;
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
    return revIndex === -1 ? undefined : this.generations[generationIndex].revs[revIndex];
  }

  /** Drops revisions a compaction at atMain makes unreachable; reports the one kept. */
  compact(atMain: number, available: Set<PackedRevision>): void {
    const { generationIndex, revIndex } = this.compactPoint(atMain);
    const generation = this.generations[generationIndex];
    let firstKept = generationIndex;
    if (generation.revs.length > 0) {
      if (revIndex !== -1) {
        available.add(generation.revs[revIndex]);
        generation.revs = generation.revs.slice(revIndex);
      }
      // A generation reduced to its tombstone (not the live one) is gone entirely.
      if (generation.revs.length === 1 && generationIndex !== this.generations.length - 1) {
        available.delete(generation.revs[0]);
        firstKept++;
      }
    }
    this.generations = this.generations.slice(firstKept);
    assert(this.generations.length > 0, 'key index: compaction removed every generation');
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0].revs.length === 0;
  }
}

/** Node's latin1 decoder (what `buffer.toString('latin1')` runs), callable on any Uint8Array. */
const latin1Slice = (
  Buffer.prototype as unknown as {
    latin1Slice(this: Uint8Array, start: number, end: number): string;
  }
).latin1Slice;

/** The bytes of a key as a string of char codes 0-255, to use it as a Map key. */
export function keyString(key: Uint8Array): string {
  // Every point read and put converts its key: latin1 maps byte b to char code b and builds a
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
  private readonly byKey = new Map<string, KeyIndex>();

  get keyCount(): number {
    assert(this.keys.size === this.byKey.size, 'key index maps disagree');
    return this.keys.size;
  }

  lookup(key: Uint8Array): KeyIndex | undefined {
    return this.byKey.get(keyString(key));
  }

  get(key: Uint8Array, atMain: number): IndexedRevision | undefined {
    return this.lookup(key)?.get(atMain);
  }

  private create(key: Uint8Array): KeyIndex {
    const index = new KeyIndex(keyString(key));
    this.keys.insert(index);
    this.byKey.set(index.key, index);
    return index;
  }

  /**
   * The key's index, created empty if the key is new (a put then fills it): one key conversion
   * for both steps, where lookup() then put() converts a new key twice.
   */
  lookupOrCreate(key: Uint8Array): KeyIndex {
    const name = keyString(key);
    const found = this.byKey.get(name);
    if (found !== undefined) return found;
    const index = new KeyIndex(name);
    this.keys.insert(index);
    this.byKey.set(name, index);
    return index;
  }

  /** Records a put; `known` is the key's index if the caller already looked it up. */
  put(key: Uint8Array, rev: PackedRevision, known?: KeyIndex): void {
    const index = known ?? this.lookup(key) ?? this.create(key);
    index.put(rev);
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

  /**
   * Rebuild-time tombstone: a compaction interrupted by a crash may have deleted a key's put but
   * not yet its tombstone; the tombstone then starts a generation of its own, which the resumed
   * compaction removes.
   */
  restoreTombstone(key: Uint8Array, rev: PackedRevision): void {
    const index = this.lookup(key) ?? this.create(key);
    if (index.generations[index.generations.length - 1].revs.length === 0) {
      index.generations[index.generations.length - 1] = { version: 1, created: rev, revs: [rev] };
      index.generations.push({ version: 0, created: 0, revs: [] });
      return;
    }
    index.tombstone(rev);
  }
}
