/**
 * HashKV: a CRC-32C over the key bucket up to a revision, as etcd's HashKV, so members can
 * detect divergence. Revisions at or below the compact revision count only if the compaction
 * keeps them; that makes the hash independent of how far each member's physical compaction has
 * progressed (it runs in the background at its own pace).
 */
import { MvccError } from './errors.ts';
import type { KvStore } from './kv-store.ts';
import { decodeRevisionKey, mainOf, revisionKeyLowerBound } from './revision.ts';
import type { HashKvResponse } from './types.ts';

const CASTAGNOLI_REVERSED = 0x82f63b78;
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? CASTAGNOLI_REVERSED ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C, continuing from `previous` (0 to start). */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const HASH_BATCH_ENTRIES = 10_000;

export function hashKv(store: KvStore, revision: number): HashKvResponse {
  const current = store.currentRevision;
  const compacted = store.compactRevision;
  if (revision > current) throw new MvccError('future-rev');
  const hashRevision = revision <= 0 ? current : revision;
  if (hashRevision < compacted) throw new MvccError('compacted');
  const keep = store.index.keep(compacted);
  const end = revisionKeyLowerBound(hashRevision + 1);
  let hash = crc32c(new TextEncoder().encode('key'));
  let start = new Uint8Array(0);
  for (;;) {
    const entries = store.backend.read((reader) =>
      reader.range('key', start, end, { limit: HASH_BATCH_ENTRIES }),
    );
    for (const { key, value } of entries) {
      const { packed } = decodeRevisionKey(key);
      if (mainOf(packed) <= compacted && !keep.has(packed)) continue;
      hash = crc32c(value, crc32c(key, hash));
    }
    if (entries.length < HASH_BATCH_ENTRIES) break;
    const last = entries[entries.length - 1].key;
    start = new Uint8Array(last.length + 1);
    start.set(last);
  }
  return { header: { revision: current }, hash, compactRevision: compacted, hashRevision };
}
