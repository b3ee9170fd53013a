/**
 * A hash map from byte-string keys to entries, looked up by the key's bytes. Every put and every
 * point read finds its key here; with a JS Map each of them first had to build a string of the
 * key's bytes (an allocation and a native call) only to hash it. Here the bytes are hashed and
 * compared in place against the entry's key string (char code = byte, see keyString).
 *
 * Open addressing with linear probing, a parallel array of hashes to skip most key comparisons,
 * a load factor of at most 1/2, and backward-shift deletion (no tombstones, so lookups never
 * slow down after many deletes).
 */
import { assert } from '../base/index.ts';
import type { Keyed } from './sorted-key-map.ts';

const CAPACITY_MIN = 1024;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Spreads FNV's low bits, which linear probing indexes by (murmur3's finaliser). */
function finish(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) | 0;
}

export function hashBytes(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME);
  return finish(hash);
}

/** The same hash as hashBytes() of the bytes `key` stands for. */
export function hashKeyString(key: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  return finish(hash);
}

function sameKey(bytes: Uint8Array, key: string): boolean {
  if (bytes.length !== key.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== key.charCodeAt(i)) return false;
  return true;
}

export class KeyHashMap<Entry extends Keyed> {
  private entries: (Entry | undefined)[] = new Array<Entry | undefined>(CAPACITY_MIN).fill(
    undefined,
  );
  private hashes = new Int32Array(CAPACITY_MIN);
  private mask = CAPACITY_MIN - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The entry whose key has these bytes; `hash` is hashBytes(bytes) if the caller has it. */
  get(bytes: Uint8Array, hash = hashBytes(bytes)): Entry | undefined {
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.entries[slot];
      if (entry === undefined) return undefined;
      if (this.hashes[slot] === hash && sameKey(bytes, entry.key)) return entry;
    }
  }

  /** Adds an entry whose key is not in the map; `hash` is its key's hash if known. */
  insert(entry: Entry, hash = hashKeyString(entry.key)): void {
    if ((this.count + 1) * 2 > this.entries.length) this.grow();
    let slot = hash & this.mask;
    while (this.entries[slot] !== undefined) {
      assert(this.entries[slot]!.key !== entry.key, 'KeyHashMap.insert of a present key');
      slot = (slot + 1) & this.mask;
    }
    this.entries[slot] = entry;
    this.hashes[slot] = hash;
    this.count++;
  }

  delete(key: string): boolean {
    const hash = hashKeyString(key);
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.entries[slot];
      if (entry === undefined) return false;
      if (this.hashes[slot] === hash && entry.key === key) break;
      slot = (slot + 1) & this.mask;
    }
    // Backward shift: pull later entries of the probe run into the hole unless their home slot
    // lies cyclically after the hole (then they are reachable without crossing it).
    let hole = slot;
    for (let next = (hole + 1) & this.mask; ; next = (next + 1) & this.mask) {
      const entry = this.entries[next];
      if (entry === undefined) break;
      const home = this.hashes[next] & this.mask;
      const reachable = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (reachable) continue;
      this.entries[hole] = entry;
      this.hashes[hole] = this.hashes[next];
      hole = next;
    }
    this.entries[hole] = undefined;
    this.hashes[hole] = 0;
    this.count--;
    return true;
  }

  private grow(): void {
    const entries = this.entries;
    const hashes = this.hashes;
    const capacity = entries.length * 2;
    this.entries = new Array<Entry | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry === undefined) continue;
      let slot = hashes[i] & this.mask;
      while (this.entries[slot] !== undefined) slot = (slot + 1) & this.mask;
      this.entries[slot] = entry;
      this.hashes[slot] = hashes[i];
    }
  }
}
