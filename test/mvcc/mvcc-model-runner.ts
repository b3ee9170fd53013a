/**
 * Drives the model of mvcc-model.ts with the same commands the property test sends to KvStore,
 * returning comparable plain values (bytes as hex, errors as their code).
 */
import type {
  Compare,
  DeleteRangeRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../../src/mvcc/index.ts';
import { MvccModel } from './mvcc-model.ts';

export type Command =
  | { kind: 'put'; request: PutRequest }
  | { kind: 'delete'; request: DeleteRangeRequest }
  | { kind: 'txn'; request: TxnRequest }
  | { kind: 'compact'; revisionOffset: number }
  | { kind: 'range'; request: RangeRequest; revisionOffset: number }
  | { kind: 'compactionStep'; deletes: number }
  | { kind: 'restart' };

/** Anything, with Uint8Arrays turned into hex strings and undefined fields dropped. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value;
}

class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export class ModelRunner {
  readonly model = new MvccModel();

  /** The revision a range/compact command targets, from an offset around the current one. */
  targetRevision(offset: number): number {
    return offset === 0 ? 0 : Math.max(1, this.model.revision + 1 - offset);
  }

  run(command: Command): unknown {
    try {
      return plain(this.execute(command));
    } catch (error) {
      if (error instanceof ModelError) return { error: error.code };
      throw error;
    }
  }

  private execute(command: Command): unknown {
    const m = this.model;
    switch (command.kind) {
      case 'put':
        return this.writeTxn({ success: [{ requestPut: command.request }] }, true);
      case 'delete':
        return this.writeTxn({ success: [{ requestDeleteRange: command.request }] }, true);
      case 'txn':
        return this.writeTxn(command.request, false);
      case 'compact': {
        const revision = this.targetRevision(command.revisionOffset);
        if (revision <= m.compacted) throw new ModelError('compacted');
        if (revision > m.revision) throw new ModelError('future-rev');
        m.compacted = revision;
        return { header: { revision: m.revision } };
      }
      case 'range': {
        const revision = this.targetRevision(command.revisionOffset);
        if (revision > m.revision) throw new ModelError('future-rev');
        const at = revision <= 0 ? m.revision : revision;
        if (at < m.compacted) throw new ModelError('compacted');
        return { header: { revision: m.revision }, ...m.range(command.request, at) };
      }
      case 'compactionStep':
      case 'restart':
        return null;
    }
  }

  private checkPuts(ops: readonly RequestOp[]): void {
    for (const op of ops) {
      if (!('requestPut' in op)) continue;
      const request = op.requestPut;
      if (request.ignoreValue && (request.value?.length ?? 0) > 0)
        throw new ModelError('value-provided');
      if (request.ignoreLease && (request.lease ?? 0n) !== 0n)
        throw new ModelError('lease-provided');
    }
  }

  private checkDuplicates(ops: readonly RequestOp[]): void {
    const puts = ops.flatMap((op) => ('requestPut' in op ? [op.requestPut.key] : []));
    const dels = ops.flatMap((op) => ('requestDeleteRange' in op ? [op.requestDeleteRange] : []));
    const seen = new Set<string>();
    for (const key of puts) {
      const hex = Buffer.from(key).toString('hex');
      if (seen.has(hex)) throw new ModelError('duplicate-key');
      seen.add(hex);
      if (dels.some((d) => this.model.inRange(d.key, d.rangeEnd, key))) {
        throw new ModelError('duplicate-key');
      }
    }
  }

  private compareHolds(compare: Compare, before: number): boolean {
    const kvs = this.model.liveInRange(compare.key, compare.rangeEnd, before);
    if (kvs.length === 0 && compare.target === 'VALUE') return false;
    const candidates: (KeyValue | undefined)[] = kvs.length === 0 ? [undefined] : kvs;
    return candidates.every((kv) => {
      let d: number;
      if (compare.target === 'VALUE') {
        d = Buffer.compare(Buffer.from(kv!.value), Buffer.from(compare.value ?? new Uint8Array(0)));
      } else if (compare.target === 'LEASE') {
        const diff = (kv?.lease ?? 0n) - (compare.lease ?? 0n);
        d = diff === 0n ? 0 : diff > 0n ? 1 : -1;
      } else {
        const field = {
          VERSION: 'version',
          CREATE: 'createRevision',
          MOD: 'modRevision',
        }[compare.target] as 'version' | 'createRevision' | 'modRevision';
        d = Math.sign((kv?.[field] ?? 0) - (compare[field] ?? 0));
      }
      return { EQUAL: d === 0, NOT_EQUAL: d !== 0, GREATER: d > 0, LESS: d < 0 }[compare.result];
    });
  }

  /** A flat (non-nested) txn; `single` unwraps the one response (top-level put/delete). */
  private writeTxn(request: TxnRequest, single: boolean): unknown {
    const m = this.model;
    this.checkPuts(request.success ?? []);
    this.checkPuts(request.failure ?? []);
    this.checkDuplicates(request.success ?? []);
    this.checkDuplicates(request.failure ?? []);
    const before = m.revision;
    const revision = before + 1;
    const succeeded = (request.compare ?? []).every((c) => this.compareHolds(c, before));
    const ops = (succeeded ? request.success : request.failure) ?? [];
    for (const op of ops) {
      if (!('requestPut' in op)) continue;
      const { ignoreValue, ignoreLease, key } = op.requestPut;
      if ((ignoreValue || ignoreLease) && m.liveAt(key, before) === undefined) {
        throw new ModelError('key-not-found');
      }
    }
    let wrote = false;
    const responses: unknown[] = [];
    for (const op of ops) {
      const readAt = wrote ? revision : before;
      // etcd 3.4 gives each operation the revision reached when it ran (see txn-execute.ts).
      if ('requestRange' in op) {
        responses.push({
          responseRange: { header: { revision: readAt }, ...m.range(op.requestRange, readAt) },
        });
      } else if ('requestPut' in op) {
        const p = op.requestPut;
        const previous = m.liveAt(p.key, readAt);
        m.put(
          p.key,
          p.ignoreValue ? previous!.value : (p.value ?? new Uint8Array(0)),
          p.ignoreLease ? previous!.lease : (p.lease ?? 0n),
          revision,
          revision,
        );
        wrote = true;
        responses.push({
          responsePut: {
            header: { revision },
            ...(p.prevKv && previous ? { prevKv: previous } : {}),
          },
        });
      } else if ('requestDeleteRange' in op) {
        const d = op.requestDeleteRange;
        const previous = m.liveInRange(d.key, d.rangeEnd, readAt);
        for (const kv of previous) m.write(kv.key, null, revision);
        if (previous.length > 0) wrote = true;
        responses.push({
          responseDeleteRange: {
            header: { revision: wrote ? revision : before },
            deleted: previous.length,
            prevKvs: d.prevKv ? previous : [],
          },
        });
      }
    }
    if (wrote) m.revision = revision;
    if (single)
      return responses[0] === undefined ? undefined : Object.values(responses[0] as object)[0];
    return { header: { revision: m.revision }, succeeded, responses };
  }
}
