/**
 * Rebuilding the in-memory key index from the backend's key bucket when a store opens (or
 * restores a snapshot): every revision key, in revision order, is a put or a tombstone of the
 * key stored in its value. A put that opens a generation takes the generation's creation and
 * version from its record, since compaction may have removed the revisions before it.
 */
import type { Backend } from '../storage/index.ts';
import { TreeIndex } from './key-index.ts';
import { decodeIndexFields, decodeKeyOnly } from './kv-codec.ts';
import { decodeRevisionKey, mainOf } from './revision.ts';

const REBUILD_BATCH_ENTRIES = 10_000;

export interface RebuiltIndex {
  readonly index: TreeIndex;
  /** The newest main revision found in the bucket (0 when it is empty). */
  readonly newestMain: number;
}

export function rebuildIndex(backend: Backend): RebuiltIndex {
  const index = new TreeIndex();
  let newestMain = 0;
  let start = new Uint8Array(0);
  for (;;) {
    const entries = backend.read((reader) =>
      reader.range('key', start, undefined, { limit: REBUILD_BATCH_ENTRIES }),
    );
    for (const { key, value } of entries) {
      const { packed, tombstone } = decodeRevisionKey(key);
      if (tombstone) {
        index.restoreTombstone(decodeKeyOnly(value), packed);
      } else {
        const stored = decodeIndexFields(value);
        index.restorePut(stored.key, packed, stored.createRevision, stored.version);
      }
      newestMain = Math.max(newestMain, mainOf(packed));
    }
    if (entries.length < REBUILD_BATCH_ENTRIES) break;
    // The next key after the last one: append a zero byte.
    const last = entries[entries.length - 1].key;
    start = new Uint8Array(last.length + 1);
    start.set(last);
  }
  return { index, newestMain };
}
