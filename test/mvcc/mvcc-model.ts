/**
 * A deliberately naive model of etcd's MVCC for property tests: per key the list of every
 * version ever written (null = deleted), linear scans for everything. Shares no code with
 * src/mvcc beyond the types.
 */
import { compareBytes } from '../../src/base/index.ts';
import type { KeyValue, RangeRequest, RangeResponse, SortTarget } from '../../src/mvcc/index.ts';

interface Version {
  readonly revision: number;
  readonly kv: KeyValue | null;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export class MvccModel {
  readonly keys = new Map<string, { key: Uint8Array; versions: Version[] }>();
  revision = 1;
  compacted = 0;

  liveAt(key: Uint8Array, revision: number): KeyValue | undefined {
    const entry = this.keys.get(hex(key));
    if (entry === undefined) return undefined;
    let found: KeyValue | null = null;
    for (const version of entry.versions) if (version.revision <= revision) found = version.kv;
    return found ?? undefined;
  }

  inRange(key: Uint8Array, rangeEnd: Uint8Array | undefined, candidate: Uint8Array): boolean {
    if (rangeEnd === undefined || rangeEnd.length === 0) return compareBytes(key, candidate) === 0;
    if (compareBytes(candidate, key) < 0) return false;
    if (rangeEnd.length === 1 && rangeEnd[0] === 0) return true;
    return compareBytes(candidate, rangeEnd) < 0;
  }

  liveInRange(key: Uint8Array, rangeEnd: Uint8Array | undefined, revision: number): KeyValue[] {
    const out: KeyValue[] = [];
    for (const entry of this.keys.values()) {
      if (!this.inRange(key, rangeEnd, entry.key)) continue;
      const kv = this.liveAt(entry.key, revision);
      if (kv !== undefined) out.push(kv);
    }
    return out.sort((a, b) => compareBytes(a.key, b.key));
  }

  /** Writes one key at `revision`; the caller bumps the revision once per txn. */
  write(key: Uint8Array, kv: KeyValue | null, revision: number): void {
    let entry = this.keys.get(hex(key));
    if (entry === undefined) {
      entry = { key, versions: [] };
      this.keys.set(hex(key), entry);
    }
    entry.versions.push({ revision, kv });
  }

  put(
    key: Uint8Array,
    value: Uint8Array,
    lease: bigint,
    revision: number,
    readRevision: number,
  ): KeyValue {
    const previous = this.liveAt(key, readRevision);
    const kv: KeyValue = {
      key,
      createRevision: previous?.createRevision ?? revision,
      modRevision: revision,
      version: (previous?.version ?? 0) + 1,
      value,
      lease,
    };
    this.write(key, kv, revision);
    return kv;
  }

  range(request: RangeRequest, readRevision: number): Omit<RangeResponse, 'header'> {
    const all = this.liveInRange(request.key, request.rangeEnd, readRevision);
    const target: SortTarget = request.sortTarget ?? 'KEY';
    let order = request.sortOrder ?? 'NONE';
    let kvs = all.filter(
      (kv) =>
        (!request.minModRevision || kv.modRevision >= request.minModRevision) &&
        (!request.maxModRevision || kv.modRevision <= request.maxModRevision) &&
        (!request.minCreateRevision || kv.createRevision >= request.minCreateRevision) &&
        (!request.maxCreateRevision || kv.createRevision <= request.maxCreateRevision),
    );
    const limit = request.limit ?? 0;
    // etcd's quirk, kept for compatibility (checked against etcd 3.4): when the request names no
    // order and no revision filter, etcd fetches only limit + 1 keys in key order and sorts
    // those by the target, rather than sorting every key in the range.
    const filtered = Boolean(
      request.minModRevision ||
      request.maxModRevision ||
      request.minCreateRevision ||
      request.maxCreateRevision,
    );
    if (order === 'NONE' && limit > 0 && !filtered) kvs = kvs.slice(0, limit + 1);
    if (order === 'NONE' && target !== 'KEY') order = 'ASCEND';
    const field = (kv: KeyValue): number | Uint8Array =>
      target === 'KEY'
        ? kv.key
        : target === 'VALUE'
          ? kv.value
          : target === 'VERSION'
            ? kv.version
            : target === 'CREATE'
              ? kv.createRevision
              : kv.modRevision;
    const cmp = (a: KeyValue, b: KeyValue): number => {
      const x = field(a);
      const y = field(b);
      return typeof x === 'number' ? x - (y as number) : compareBytes(x, y as Uint8Array);
    };
    if (order === 'ASCEND') kvs.sort(cmp);
    if (order === 'DESCEND') kvs.sort((a, b) => cmp(b, a));
    const more = limit > 0 && kvs.length > limit;
    if (limit > 0) kvs = kvs.slice(0, limit);
    if (request.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
    if (request.countOnly) return { kvs: [], more: false, count: all.length };
    return { kvs, more, count: all.length };
  }
}
