/**
 * Checks the watch guarantees etcd documents, for every recorded session, against each other
 * and against the writes clients saw acknowledged. No session alone is trusted: the reference
 * for revision r is the union of what every session delivered for r, and any two sessions that
 * disagree about r are a violation in themselves.
 *
 * - ordered: a session's events never go back in revision;
 * - unique: no event is delivered twice, and no written value appears at two revisions;
 * - atomic: a revision's events arrive in one response (never split across two);
 * - bookmarkable: after a progress response at revision R, no event at or below R arrives;
 * - reliable: between its start and the last revision it was promised (event or bookmark), a
 *   session delivers every event in its range that any session saw; a session on every key sees
 *   every revision (each revision of this workload changes at least one key);
 * - resumable: a session that starts at revision s (a watcher resuming) delivers exactly the
 *   events from s on: nothing before s, no gap after it;
 * - agreement: all sessions deliver the same events for each revision.
 * findLostWrites then holds the writes clients saw acknowledged against the union and the final
 * state.
 */
import {
  EVERY_KEY,
  inRange,
  isBookmark,
  type WatchedEvent,
  type WatchSession,
} from './watch-workload.ts';

export interface AcknowledgedWrite {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

export interface WatchVerdict {
  readonly violations: string[];
  /** Revision → key → event, the union of every session. */
  readonly union: ReadonlyMap<number, ReadonlyMap<string, WatchedEvent>>;
  readonly events: number;
  readonly bookmarks: number;
}

const describe = (event: WatchedEvent): string =>
  `${event.type} ${event.key}${event.type === 'PUT' ? `=${event.value}` : ''}@${event.modRevision}`;

const name = (session: WatchSession): string =>
  `watcher ${session.watcher} on member ${session.member} from ${session.startRevision}`;

const sameEvent = (a: WatchedEvent, b: WatchedEvent): boolean =>
  a.type === b.type && a.key === b.key && a.modRevision === b.modRevision && a.value === b.value;

/** The highest revision a session was promised complete: its last event or bookmark. */
export function promisedRevision(session: WatchSession): number {
  let promised = session.startRevision - 1;
  for (const response of session.responses) {
    for (const event of response.events) promised = Math.max(promised, event.modRevision);
    if (isBookmark(response)) promised = Math.max(promised, response.headerRevision);
  }
  return promised;
}

/** Per-session checks; returns the session's events by revision. */
function checkSession(session: WatchSession, violations: string[]): Map<number, WatchedEvent[]> {
  const delivered = new Map<number, WatchedEvent[]>();
  const responseOf = new Map<number, number>();
  let previous = 0;
  let bookmark = 0;
  const report = (text: string): void => {
    violations.push(`${name(session)}: ${text}`);
  };
  session.responses.forEach((response, index) => {
    if (response.canceled && response.compactRevision > 0) {
      if (session.startRevision >= response.compactRevision) {
        report(`cancelled as compacted at ${response.compactRevision} though it started later`);
      }
    }
    for (const event of response.events) {
      const revision = event.modRevision;
      if (!inRange(session.range, event.key)) report(`${describe(event)} is outside its range`);
      if (revision < session.startRevision) report(`${describe(event)} precedes its start`);
      if (revision < previous) report(`${describe(event)} arrived after revision ${previous}`);
      if (revision <= bookmark) {
        report(`${describe(event)} arrived after a progress notification at ${bookmark}`);
      }
      const first = responseOf.get(revision);
      if (first !== undefined && first !== index) {
        const earlier = session.responses[first];
        report(
          earlier.fragment
            ? `revision ${revision} continued in response ${index} after a fragment`
            : `revision ${revision} split or repeated across responses ${first} and ${index}`,
        );
      }
      responseOf.set(revision, index);
      previous = Math.max(previous, revision);
      const list = delivered.get(revision) ?? [];
      if (list.some((other) => other.key === event.key))
        report(`${describe(event)} delivered twice`);
      list.push(event);
      delivered.set(revision, list);
    }
    if (isBookmark(response)) bookmark = Math.max(bookmark, response.headerRevision);
  });
  return delivered;
}

export function checkWatchSessions(sessions: readonly WatchSession[]): WatchVerdict {
  const violations: string[] = [];
  const perSession = sessions.map((session) => checkSession(session, violations));
  // The union, with disagreement about any (revision, key) reported once.
  const union = new Map<number, Map<string, WatchedEvent>>();
  const reporter = new Map<string, WatchSession>();
  let events = 0;
  perSession.forEach((delivered, index) => {
    for (const [revision, list] of delivered) {
      let atRevision = union.get(revision);
      if (atRevision === undefined) union.set(revision, (atRevision = new Map()));
      for (const event of list) {
        events++;
        const known = atRevision.get(event.key);
        if (known === undefined) {
          atRevision.set(event.key, event);
          reporter.set(`${revision}|${event.key}`, sessions[index]);
        } else if (!sameEvent(known, event)) {
          const other = reporter.get(`${revision}|${event.key}`) as WatchSession;
          violations.push(
            `watchers disagree on revision ${revision}: ${name(other)} got ${describe(known)}, ` +
              `${name(sessions[index])} got ${describe(event)}`,
          );
        }
      }
    }
  });
  // A unique value written at two revisions means one write took effect twice.
  const revisionOfValue = new Map<string, number>();
  for (const [revision, atRevision] of union) {
    for (const event of atRevision.values()) {
      if (event.type !== 'PUT') continue;
      const id = `${event.key}=${event.value}`;
      const seen = revisionOfValue.get(id);
      if (seen !== undefined && seen !== revision) {
        violations.push(`${id} appears at revisions ${seen} and ${revision}: applied twice`);
      }
      revisionOfValue.set(id, revision);
    }
  }
  // Reliability: each session holds everything in its range up to what it was promised.
  sessions.forEach((session, index) => {
    const delivered = perSession[index];
    const promised = promisedRevision(session);
    const everyKey =
      session.range.key === EVERY_KEY.key && session.range.rangeEnd === EVERY_KEY.rangeEnd;
    // Revision 1 is the empty store etcd starts with: it has no event.
    for (let revision = Math.max(2, session.startRevision); revision <= promised; revision++) {
      const got = delivered.get(revision) ?? [];
      const expected = [...(union.get(revision)?.values() ?? [])].filter((event) =>
        inRange(session.range, event.key),
      );
      if (everyKey && got.length === 0) {
        violations.push(`${name(session)}: no event at revision ${revision} (a gap)`);
        continue;
      }
      const missing = expected.filter((event) => !got.some((mine) => sameEvent(mine, event)));
      if (missing.length > 0) {
        violations.push(
          `${name(session)}: missed ${missing.map(describe).join(', ')} although it was ` +
            `promised everything up to ${promised}`,
        );
      }
    }
  });
  const bookmarks = sessions.reduce(
    (count, session) => count + session.responses.filter(isBookmark).length,
    0,
  );
  return { violations, union, events, bookmarks };
}

/** A key's state at the end of the run, as every converged member holds it. */
export interface FinalKey {
  readonly value: string;
  readonly modRevision: number;
}

export interface LostWriteVerdict {
  readonly lost: string[];
  /** Acknowledged writes no session covered and the final state cannot vouch for. */
  readonly unverified: number;
}

/**
 * An acknowledged write is lost when a session covering its key and revision did not see it
 * there, or when no session covered it and the final state shows the key older than the write
 * (this workload never deletes, so a key only ever moves forward).
 */
export function findLostWrites(
  sessions: readonly WatchSession[],
  union: WatchVerdict['union'],
  acknowledged: readonly AcknowledgedWrite[],
  finalState: ReadonlyMap<string, FinalKey>,
): LostWriteVerdict {
  const lost: string[] = [];
  let unverified = 0;
  for (const write of acknowledged) {
    const label = `${write.key}=${write.value}@${write.revision}`;
    const covered = sessions.some(
      (session) =>
        inRange(session.range, write.key) &&
        session.startRevision <= write.revision &&
        write.revision <= promisedRevision(session),
    );
    const final = finalState.get(write.key);
    if (covered) {
      const event = union.get(write.revision)?.get(write.key);
      if (event === undefined || event.type !== 'PUT' || event.value !== write.value) {
        const seen = event === undefined ? 'no event' : describe(event);
        lost.push(`acknowledged ${label}, but watchers covering it saw ${seen}`);
      }
    } else if (final === undefined || final.modRevision < write.revision) {
      const state = final === undefined ? 'absent' : `${final.value}@${final.modRevision}`;
      lost.push(`acknowledged ${label}, but the key ends ${state}`);
    } else if (final.modRevision === write.revision && final.value !== write.value) {
      lost.push(`acknowledged ${label}, but the key ends ${final.value}@${final.modRevision}`);
    } else if (final.modRevision > write.revision) unverified++;
  }
  return { lost, unverified };
}

/** The final state must be the union's last event of each key, wherever the union has it. */
export function checkFinalStateAgainstWatches(
  union: WatchVerdict['union'],
  finalState: ReadonlyMap<string, FinalKey>,
): string[] {
  const problems: string[] = [];
  for (const [key, final] of finalState) {
    const event = union.get(final.modRevision)?.get(key);
    if (event !== undefined && (event.type !== 'PUT' || event.value !== final.value)) {
      problems.push(
        `${key} ends ${final.value}@${final.modRevision} but watchers saw ${describe(event)}`,
      );
    }
  }
  return problems;
}
