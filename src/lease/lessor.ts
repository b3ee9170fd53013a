/**
 * The lessor (etcd's lease.lessor): leases with a TTL and the keys attached to them.
 *
 * Replicated state (ids, granted TTLs, attachments) changes only while raft entries are applied,
 * so every member holds the same leases. Expiry is NOT replicated: only the leader (the
 * "primary") runs expiry clocks; it proposes a revoke through raft when one runs out, and every
 * member deletes the lease and its keys when that revoke is applied. Followers keep every lease
 * forever. A new leader gives every lease its full TTL again, so a lease never expires because
 * of time that passed under the previous leader (etcd's promote()).
 *
 * Attachments are learned from MVCC's committed events (a PUT carries its lease, a DELETE
 * detaches), so puts inside transactions need no special handling.
 */
import { assert } from '../base/index.ts';
import type { CommittedRevision, KvStore, KvWriter } from '../mvcc/index.ts';
import type { BackendReader, BackendWriter } from '../storage/index.ts';
import {
  decodeLeaseId,
  decodeLeaseTtl,
  encodeLeaseId,
  encodeLeaseTtl,
  isValidLeaseId,
} from './lease-codec.ts';
import { LeaseError } from './lease-errors.ts';

/** etcd's MaxLeaseTTL, in seconds. */
export const LEASE_TTL_MAX_SECONDS = 9_000_000_000;
const FOREVER_MS = Number.POSITIVE_INFINITY;

export interface LessorOptions {
  /** Shorter TTLs are raised to this (etcd: ceil(1.5 * election timeout), 2 s by default). */
  readonly minTtlSeconds: number;
}

interface Lease {
  readonly id: bigint;
  readonly ttlSeconds: number;
  /** Monotonic ms at which the lease runs out; infinite while this member is not primary. */
  expiryMs: number;
  /** Attached keys, by hex, so byte arrays compare by value. */
  readonly keys: Map<string, Uint8Array>;
}

export interface LeaseTimeToLive {
  readonly id: bigint;
  /** Remaining seconds, -1 for an unknown lease (etcd's convention). */
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  readonly keys: readonly Uint8Array[];
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export class Lessor {
  private readonly leases = new Map<bigint, Lease>();
  private readonly keyLease = new Map<string, bigint>();
  private primary = false;
  readonly minTtlSeconds: number;

  constructor(options: LessorOptions) {
    assert(Number.isInteger(options.minTtlSeconds) && options.minTtlSeconds > 0, 'min ttl > 0');
    this.minTtlSeconds = options.minTtlSeconds;
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  /** Forgets everything and reloads leases and attachments from `kv`'s backend. */
  rebuild(kv: KvStore, nowMs: number): void {
    this.leases.clear();
    this.keyLease.clear();
    kv.backend.read((reader: BackendReader) => {
      for (const { key, value } of reader.range('lease', new Uint8Array(0), undefined)) {
        const id = decodeLeaseId(key);
        this.leases.set(id, {
          id,
          ttlSeconds: decodeLeaseTtl(value),
          expiryMs: this.primary ? nowMs + decodeLeaseTtl(value) * 1000 : FOREVER_MS,
          keys: new Map(),
        });
      }
    });
    const all = kv.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    for (const kv of all.kvs) if (kv.lease !== 0n) this.attach(kv.key, kv.lease);
  }

  has(id: bigint): boolean {
    return this.leases.has(id);
  }

  /** The TTL a grant of `ttlSeconds` gets. */
  effectiveTtl(ttlSeconds: number): number {
    return Math.max(ttlSeconds, this.minTtlSeconds);
  }

  /** Applies a grant; `nowMs` starts the expiry clock on the primary. */
  grant(writer: BackendWriter, id: bigint, ttlSeconds: number, nowMs: number): number {
    // etcd's lessor answers "lease not found" for id 0; an id outside int64 is as unusable.
    if (!isValidLeaseId(id)) throw new LeaseError('lease-not-found');
    if (ttlSeconds > LEASE_TTL_MAX_SECONDS) throw new LeaseError('lease-ttl-too-large');
    if (this.leases.has(id)) throw new LeaseError('lease-exists');
    const ttl = this.effectiveTtl(ttlSeconds);
    writer.put('lease', encodeLeaseId(id), encodeLeaseTtl(ttl));
    const expiryMs = this.primary ? nowMs + ttl * 1000 : FOREVER_MS;
    this.leases.set(id, { id, ttlSeconds: ttl, expiryMs, keys: new Map() });
    return ttl;
  }

  /** Applies a revoke: every attached key is deleted in ONE revision, then the lease. The
   *  caller must have flushed earlier puts of the same batch (attachments come from events). */
  revoke(writer: KvWriter, id: bigint): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseError('lease-not-found');
    const keys = [...lease.keys.values()];
    if (keys.length > 0) {
      writer.txn({ success: keys.map((key) => ({ requestDeleteRange: { key } })) });
    }
    assert(writer.backend.delete('lease', encodeLeaseId(id)), 'a live lease is stored');
    for (const key of lease.keys.keys()) this.keyLease.delete(key);
    this.leases.delete(id);
  }

  /** Renews on the primary; returns the TTL, or 0 for an unknown lease (etcd's keepalive). */
  renew(id: bigint, nowMs: number): number {
    const lease = this.leases.get(id);
    if (lease === undefined) return 0;
    if (this.primary) lease.expiryMs = nowMs + lease.ttlSeconds * 1000;
    return lease.ttlSeconds;
  }

  timeToLive(id: bigint, nowMs: number): LeaseTimeToLive {
    const lease = this.leases.get(id);
    if (lease === undefined) return { id, ttlSeconds: -1, grantedTtlSeconds: 0, keys: [] };
    const remaining =
      lease.expiryMs === FOREVER_MS
        ? lease.ttlSeconds
        : // Whole seconds left, truncated as etcd's int64(Remaining().Seconds()).
          Math.max(0, Math.floor((lease.expiryMs - nowMs) / 1000));
    return {
      id,
      ttlSeconds: remaining,
      grantedTtlSeconds: lease.ttlSeconds,
      keys: [...lease.keys.values()],
    };
  }

  leaseIds(): bigint[] {
    return [...this.leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** This member became leader: every lease gets its full TTL from now. */
  promote(nowMs: number): void {
    this.primary = true;
    for (const lease of this.leases.values()) lease.expiryMs = nowMs + lease.ttlSeconds * 1000;
  }

  /** This member is no longer leader: its clocks stop counting (the new leader's count). */
  demote(): void {
    this.primary = false;
    for (const lease of this.leases.values()) lease.expiryMs = FOREVER_MS;
  }

  /** Up to `limit` leases that ran out (only ever on the primary), oldest expiry first. */
  expired(nowMs: number, limit: number): bigint[] {
    if (!this.primary) return [];
    const out = [...this.leases.values()]
      .filter((lease) => lease.expiryMs <= nowMs)
      .sort((a, b) => a.expiryMs - b.expiryMs)
      .slice(0, limit)
      .map((lease) => lease.id);
    for (const id of out) assert(this.leases.get(id)!.expiryMs !== FOREVER_MS, 'finite expiry');
    return out;
  }

  /** Follows MVCC's committed events: a PUT attaches its key to its lease (detaching it from
   *  any previous one), a DELETE detaches it. Register with KvStore.onCommit. */
  observe(revisions: readonly CommittedRevision[]): void {
    for (const { events } of revisions) {
      for (const event of events) {
        this.detach(event.kv.key);
        if (event.type === 'PUT' && event.kv.lease !== 0n)
          this.attach(event.kv.key, event.kv.lease);
      }
    }
  }

  private attach(key: Uint8Array, id: bigint): void {
    const lease = this.leases.get(id);
    // A put with an unknown lease is refused before it reaches MVCC; a key naming a lease
    // that no longer exists can only come from a revoke racing a restore, and is ignored.
    if (lease === undefined) return;
    const hex = hexOf(key);
    lease.keys.set(hex, key);
    this.keyLease.set(hex, id);
  }

  private detach(key: Uint8Array): void {
    const hex = hexOf(key);
    const id = this.keyLease.get(hex);
    if (id === undefined) return;
    this.keyLease.delete(hex);
    this.leases.get(id)?.keys.delete(hex);
  }
}
