/**
 * A bounded cache of decoded KeyValues for single-key reads, the hot path of a key-value store:
 * without it every read decodes (and copies) the value out of the backend, several times the
 * cost of the key index lookup. The cached value hangs off the key's KeyIndex, tagged with the
 * revision it was read at. A revision's KeyValue never changes, so an entry can never be stale:
 * a put makes the key's visible revision differ from the tag (a miss, then a backend read);
 * compaction only removes revisions the index no longer hands out; a snapshot restore replaces
 * the index, and the cache with it. Reads at older revisions hit only if they ask for the same
 * revision, otherwise they go to the backend as before.
 *
 * Eviction is first-in first-out over a ring of ENTRIES_MAX slots (no per-hit bookkeeping, so
 * a hit costs one comparison), and the bytes of cached keys and values stay under BYTES_MAX.
 * Cached KeyValues are shared by every reader that gets them, as watch events already are:
 * nobody may modify the bytes of a KeyValue the store hands out.
 */
import { assert } from '../base/index.ts';
import type { KeyIndex } from './key-index.ts';
import type { PackedRevision } from './revision.ts';
import type { KeyValue } from './types.ts';

export const VALUE_CACHE_ENTRIES_MAX = 16_384;
export const VALUE_CACHE_BYTES_MAX = 16 * 1024 * 1024;

const sizeOf = (kv: KeyValue): number => kv.key.length + kv.value.length;

export class ValueCache {
  private readonly slots: (KeyIndex | undefined)[];
  private readonly bytesMax: number;
  /** The slot the next new entry takes (the oldest entry, once the ring is full). */
  private next = 0;
  private bytes = 0;
  private count = 0;

  constructor(entriesMax = VALUE_CACHE_ENTRIES_MAX, bytesMax = VALUE_CACHE_BYTES_MAX) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, 'value cache needs a slot');
    assert(Number.isInteger(bytesMax) && bytesMax > 0, 'value cache needs bytes');
    this.slots = new Array<KeyIndex | undefined>(entriesMax).fill(undefined);
    this.bytesMax = bytesMax;
  }

  get entries(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** The cached KeyValue of `index` at exactly revision `rev`, if cached. */
  get(index: KeyIndex, rev: PackedRevision): KeyValue | undefined {
    return index.cachedRevision === rev ? index.cachedKeyValue : undefined;
  }

  /** Caches `kv`, the KeyValue of `index` at revision `rev`, replacing the key's older entry. */
  put(index: KeyIndex, rev: PackedRevision, kv: KeyValue): void {
    assert(kv.modRevision > 0, 'value cache: a tombstone or a made-up KeyValue');
    const size = sizeOf(kv);
    if (size > this.bytesMax) return;
    const previous = index.cachedKeyValue;
    if (previous !== undefined) {
      // The key already holds a slot: take over its place in the ring.
      this.bytes -= sizeOf(previous);
    } else {
      this.evictSlot(this.next);
      this.slots[this.next] = index;
      this.next = (this.next + 1) % this.slots.length;
      this.count++;
    }
    index.cachedRevision = rev;
    index.cachedKeyValue = kv;
    this.bytes += size;
    // Oldest first, never the entry just added: it fits on its own (checked above).
    for (let slot = this.next; this.bytes > this.bytesMax; slot = (slot + 1) % this.slots.length) {
      if (this.slots[slot] !== index) this.evictSlot(slot);
    }
    assert(this.count <= this.slots.length, 'value cache over its slots');
  }

  private evictSlot(slot: number): void {
    const evicted = this.slots[slot];
    if (evicted === undefined) return;
    const kv = evicted.cachedKeyValue;
    assert(kv !== undefined, 'value cache slot without a value');
    this.bytes -= sizeOf(kv);
    this.count--;
    evicted.cachedKeyValue = undefined;
    evicted.cachedRevision = undefined;
    this.slots[slot] = undefined;
  }
}
