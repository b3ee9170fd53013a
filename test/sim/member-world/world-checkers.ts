/**
 * The member world's end-of-run checkers, all against the final history: the events of every
 * revision, read through a watch from revision 1 on every member once the healed cluster has
 * converged (and required to be identical on all of them).
 *
 * - Watch guarantees per session: events in revision order, a revision never split across
 *   responses nor repeated, each revision's events exactly those of the final history in the
 *   watched range, no revision skipped between the start and the last one received, and a
 *   session still open at the end caught up.
 * - Leases: the keys a revoke or expiry deletes are all of the lease's live keys, deleted in
 *   one revision; no key is put with a lease after that revision; at the end no lease and no
 *   key attached to one remains on any member.
 * - The final history replayed gives each member's final state (an independent path: ranges).
 */
import type { KeyValue } from '../../../src/mvcc/index.ts';
import { decode } from './kv-workload.ts';
import { LEASE_PREFIX } from './lease-workload.ts';
import { inRange, type EventRecord, type WatchSession } from './watch-workload.ts';

/** Events by revision, every revision from 1 to the last one that changed anything. */
export type FinalHistory = ReadonlyMap<number, readonly EventRecord[]>;

export function groupByRevision(events: readonly EventRecord[]): Map<number, EventRecord[]> {
  const byRevision = new Map<number, EventRecord[]>();
  for (const event of events) {
    const list = byRevision.get(event.modRevision);
    if (list === undefined) byRevision.set(event.modRevision, [event]);
    else list.push(event);
  }
  return byRevision;
}

const sameEvent = (left: EventRecord, right: EventRecord): boolean =>
  left.type === right.type &&
  left.key === right.key &&
  left.modRevision === right.modRevision &&
  (left.type === 'DELETE' || (left.value === right.value && left.lease === right.lease));

const describeEvent = (event: EventRecord): string =>
  `${event.type} ${JSON.stringify(event.key)}${event.type === 'PUT' ? `=${event.value}` : ''}@${event.modRevision}`;

/** Checks one watch session; returns the first problem found, or null. */
export function checkWatchSession(
  session: WatchSession,
  history: FinalHistory,
  finalRevision: number,
  mustBeCaughtUp: boolean,
): string | null {
  const name = `watcher ${session.watcher} session on m${session.member} from ${session.startRevision}`;
  const responseOf = new Map<number, number>();
  const delivered = new Map<number, EventRecord[]>();
  let previous = 0;
  for (let i = 0; i < session.responses.length; i++) {
    const response = session.responses[i];
    if (response.canceled) return `${name}: cancelled although nothing was compacted`;
    for (const event of response.events) {
      const revision = event.modRevision;
      if (revision < session.startRevision) {
        return `${name}: got ${describeEvent(event)}, before its start revision`;
      }
      if (revision < previous) return `${name}: ${describeEvent(event)} after revision ${previous}`;
      const firstResponse = responseOf.get(revision);
      if (firstResponse !== undefined && firstResponse !== i) {
        return `${name}: revision ${revision} split or repeated across responses ${firstResponse} and ${i}`;
      }
      responseOf.set(revision, i);
      previous = revision;
      const list = delivered.get(revision);
      if (list === undefined) delivered.set(revision, [event]);
      else list.push(event);
    }
  }
  const last = previous;
  const end = mustBeCaughtUp ? finalRevision : last;
  for (let revision = session.startRevision; revision <= end; revision++) {
    const expected = (history.get(revision) ?? []).filter((event) =>
      inRange(session.range, event.key),
    );
    const got = delivered.get(revision) ?? [];
    if (expected.length === 0 && got.length === 0) continue;
    const matches =
      expected.length === got.length && expected.every((event, i) => sameEvent(event, got[i]));
    if (matches) continue;
    if (got.length === 0) {
      return revision > last
        ? `${name}: still open but never caught up to revision ${revision} (last received ${last})`
        : `${name}: skipped revision ${revision} (${expected.map(describeEvent).join(', ')})`;
    }
    return (
      `${name}: revision ${revision} delivered as [${got.map(describeEvent).join(', ')}] ` +
      `but the history has [${expected.map(describeEvent).join(', ')}]`
    );
  }
  return null;
}

/** Lease atomicity and finality over the final history. */
export function checkLeaseHistory(history: FinalHistory, finalRevision: number): string | null {
  const leaseOfKey = new Map<string, bigint>();
  const deletedAt = new Map<bigint, number>();
  for (let revision = 1; revision <= finalRevision; revision++) {
    const events = history.get(revision) ?? [];
    const deletedLeases = new Map<bigint, string[]>();
    for (const event of events) {
      if (!event.key.startsWith(LEASE_PREFIX)) continue;
      if (event.type === 'PUT') {
        const revokedAt = deletedAt.get(event.lease);
        if (event.lease !== 0n && revokedAt !== undefined) {
          return `${describeEvent(event)} puts a key with lease ${event.lease}, revoked at ${revokedAt}`;
        }
        leaseOfKey.set(event.key, event.lease);
        continue;
      }
      const lease = leaseOfKey.get(event.key) ?? 0n;
      const keys = deletedLeases.get(lease) ?? [];
      keys.push(event.key);
      deletedLeases.set(lease, keys);
    }
    for (const [lease, keys] of deletedLeases) {
      if (lease === 0n) return `revision ${revision} deleted lease-less keys ${keys.join(', ')}`;
      const earlier = deletedAt.get(lease);
      if (earlier !== undefined) {
        return `lease ${lease}'s keys were deleted at revisions ${earlier} and ${revision}`;
      }
      deletedAt.set(lease, revision);
      const live = [...leaseOfKey].filter(([, owner]) => owner === lease).map(([key]) => key);
      const missing = live.filter((key) => !keys.includes(key));
      if (missing.length > 0) {
        return `lease ${lease} revoked at revision ${revision} but ${missing.join(', ')} survived it`;
      }
      for (const key of keys) leaseOfKey.delete(key);
    }
  }
  const survivors = [...leaseOfKey.keys()];
  if (survivors.length > 0)
    return `keys attached to leases survive at the end: ${survivors.join(', ')}`;
  return null;
}

/** The final history replayed must be each member's final state, key by key. */
export function checkHistoryMatchesState(
  history: FinalHistory,
  finalRevision: number,
  state: readonly KeyValue[],
): string | null {
  const replayed = new Map<string, EventRecord>();
  for (let revision = 1; revision <= finalRevision; revision++) {
    for (const event of history.get(revision) ?? []) {
      if (event.type === 'PUT') replayed.set(event.key, event);
      else replayed.delete(event.key);
    }
  }
  const actual = new Map(state.map((kv) => [decode(kv.key), kv]));
  for (const [key, event] of replayed) {
    const kv = actual.get(key);
    if (kv === undefined)
      return `the history ends with ${describeEvent(event)} but the key is absent`;
    if (decode(kv.value) !== event.value || kv.modRevision !== event.modRevision) {
      return `the history ends with ${describeEvent(event)} but the state holds ${decode(kv.value)}@${kv.modRevision}`;
    }
  }
  for (const key of actual.keys()) {
    if (!replayed.has(key))
      return `the state holds ${JSON.stringify(key)}, absent from the history`;
  }
  return null;
}
