/**
 * Range reads over one LMDB sub-database with the Backend's conventions: `start <= key < end`
 * in unsigned byte order, an optional limit, reverse order, and keys only.
 */
import type { BackendEntry, RangeOptions } from './backend.ts';
import { type Bytes, toBuffer } from './lmdb-environment.ts';

export function readRange(
  database: Bytes,
  start: Uint8Array,
  end: Uint8Array | undefined,
  options: RangeOptions = {},
): BackendEntry[] {
  const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
  const out: BackendEntry[] = [];
  if (options.reverse === true) {
    // lmdb-js walks down from an inclusive `start`: begin at `end` and skip it if present.
    const startBuffer = toBuffer(start);
    const endBuffer = end === undefined ? undefined : toBuffer(end);
    const iterable = database.getRange({
      ...(endBuffer === undefined ? {} : { start: endBuffer }),
      reverse: true,
    });
    for (const { key, value } of iterable) {
      if (endBuffer !== undefined && Buffer.compare(key, endBuffer) >= 0) continue;
      if (Buffer.compare(key, startBuffer) < 0 || out.length >= limit) break;
      out.push({ key, value });
    }
    return out;
  }
  const bounds = {
    start: toBuffer(start),
    ...(end === undefined ? {} : { end: toBuffer(end) }),
    ...(limit === Infinity ? {} : { limit }),
  };
  if (options.keysOnly === true) {
    const empty = new Uint8Array(0);
    for (const key of database.getKeys(bounds)) out.push({ key, value: empty });
    return out;
  }
  for (const { key, value } of database.getRange(bounds)) out.push({ key, value });
  return out;
}
