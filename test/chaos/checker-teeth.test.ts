/**
 * The chaos checkers must be able to fail: each test feeds a deliberately broken history or
 * watch stream, of the kind a buggy member would produce, and expects the violation to be
 * caught (and an intact variant of the same history to pass, so the catch is not an accident).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkKvHistory } from '../sim/checkers/linearizability.ts';
import { HistoryRecorder, toCheckerHistory } from './history.ts';
import { checkWatchSessions, findLostWrites, type FinalKey } from './watch-checker.ts';
import {
  EVERY_KEY,
  prefixRange,
  type RecordedResponse,
  type WatchedEvent,
  type WatchSession,
} from './watch-workload.ts';

const put = (key: string, value: string, modRevision: number): WatchedEvent => ({
  type: 'PUT',
  key,
  value,
  modRevision,
});

const events = (list: WatchedEvent[], headerRevision = 0): RecordedResponse => ({
  events: list,
  headerRevision: headerRevision || Math.max(...list.map((event) => event.modRevision)),
  watchId: '1',
  created: false,
  canceled: false,
  compactRevision: 0,
  fragment: false,
});

const bookmark = (revision: number): RecordedResponse => ({
  ...events([], revision),
  watchId: '-1',
});

const session = (
  responses: RecordedResponse[],
  startRevision = 2,
  range = EVERY_KEY,
  watcher = 0,
): WatchSession => ({ watcher, member: 0, range, startRevision, responses, end: 'stopped' });

/** Revisions 2..5: a=1, b=1, a=2, b=2. */
const HISTORY = [put('k/a', '1', 2), put('k/b', '1', 3), put('k/a', '2', 4), put('k/b', '2', 5)];

test('an intact set of watch sessions passes', () => {
  const verdict = checkWatchSessions([
    session([events(HISTORY.slice(0, 2)), events(HISTORY.slice(2)), bookmark(5)]),
    session([events(HISTORY.slice(2))], 4, EVERY_KEY, 1),
    session([events([HISTORY[1]]), events([HISTORY[3]])], 2, prefixRange('k/b'), 2),
  ]);
  assert.deepEqual(verdict.violations, []);
});

test('a gap in a watch on every key is caught', () => {
  const verdict = checkWatchSessions([session([events([HISTORY[0], HISTORY[2], HISTORY[3]])])]);
  assert.match(verdict.violations.join('\n'), /no event at revision 3 \(a gap\)/);
});

test('a narrower watch that misses an event another watcher saw is caught', () => {
  const verdict = checkWatchSessions([
    session([events(HISTORY)]),
    session([events([HISTORY[3]])], 2, prefixRange('k/b'), 1),
  ]);
  assert.match(verdict.violations.join('\n'), /missed PUT k\/b=1@3/);
});

test('a duplicated event is caught', () => {
  const verdict = checkWatchSessions([session([events(HISTORY), events([HISTORY[3]])])]);
  assert.match(verdict.violations.join('\n'), /PUT k\/b=2@5 delivered twice/);
});

test('a revision split across two responses is caught', () => {
  const a = put('k/a', '3', 6);
  const b = put('k/b', '3', 6);
  const verdict = checkWatchSessions([session([events(HISTORY), events([a]), events([b])])]);
  assert.match(
    verdict.violations.join('\n'),
    /revision 6 split or repeated across responses 1 and 2/,
  );
});

test('an event at or below a progress notification is caught', () => {
  const verdict = checkWatchSessions([
    session([events(HISTORY.slice(0, 2)), bookmark(4), events(HISTORY.slice(2))]),
  ]);
  assert.match(verdict.violations.join('\n'), /after a progress notification at 4/);
});

test('events out of order are caught', () => {
  const verdict = checkWatchSessions([
    session([events([HISTORY[0], HISTORY[2], HISTORY[1], HISTORY[3]])]),
  ]);
  assert.match(verdict.violations.join('\n'), /arrived after revision 4/);
});

test('a resumed watch that replays an event before its start revision is caught', () => {
  const verdict = checkWatchSessions([
    session([events(HISTORY)]),
    session([events(HISTORY.slice(1))], 4, EVERY_KEY, 1),
  ]);
  assert.match(verdict.violations.join('\n'), /precedes its start/);
});

test('watchers that disagree on a revision are caught', () => {
  const verdict = checkWatchSessions([
    session([events(HISTORY)]),
    session(
      [events([HISTORY[0], HISTORY[1], put('k/a', 'other', 4), HISTORY[3]])],
      2,
      EVERY_KEY,
      1,
    ),
  ]);
  assert.match(verdict.violations.join('\n'), /watchers disagree on revision 4/);
});

test('a write applied at two revisions is caught', () => {
  const verdict = checkWatchSessions([session([events([...HISTORY, put('k/a', '1', 6)])])]);
  assert.match(verdict.violations.join('\n'), /k\/a=1 appears at revisions 2 and 6/);
});

test('a lost acknowledged write is caught, through the watches and through the final state', () => {
  const sessions = [session([events(HISTORY), bookmark(6)])];
  const { union } = checkWatchSessions(sessions);
  const final = new Map<string, FinalKey>([['k/a', { value: '2', modRevision: 4 }]]);
  // Acknowledged at revision 6, but the watches (promised up to 6) never saw it.
  const lostInWatch = findLostWrites(
    sessions,
    union,
    [{ key: 'k/a', value: '3', revision: 6 }],
    final,
  );
  assert.equal(lostInWatch.lost.length, 1);
  // No watch covers revision 9, and the key ends older than the write.
  const lostAtEnd = findLostWrites(
    sessions,
    union,
    [{ key: 'k/a', value: '4', revision: 9 }],
    final,
  );
  assert.match(lostAtEnd.lost.join('\n'), /the key ends 2@4/);
  // The intact case: the write the watches saw.
  assert.equal(
    findLostWrites(sessions, union, [{ key: 'k/a', value: '2', revision: 4 }], final).lost.length,
    0,
  );
});

test('a lost write and a stale read make the KV history non-linearizable', () => {
  const recorder = new HistoryRecorder();
  const write = recorder.invoke(0, { kind: 'put', key: 'k/a', value: 'x' });
  recorder.complete(write, { kind: 'put' }, 2);
  // Read after the write completed, but sees the key absent: the write was lost (or the read stale).
  const read = recorder.invoke(1, { kind: 'get', key: 'k/a' });
  recorder.complete(read, { kind: 'get', value: null }, 2);
  assert.equal(checkKvHistory(toCheckerHistory(recorder.operations)).kind, 'not-linearizable');

  const stale = new HistoryRecorder();
  const first = stale.invoke(0, { kind: 'put', key: 'k/a', value: 'x' });
  stale.complete(first, { kind: 'put' }, 2);
  const second = stale.invoke(0, { kind: 'put', key: 'k/a', value: 'y' });
  stale.complete(second, { kind: 'put' }, 3);
  const old = stale.invoke(1, { kind: 'get', key: 'k/a' });
  stale.complete(old, { kind: 'get', value: 'x' }, 2);
  assert.equal(checkKvHistory(toCheckerHistory(stale.operations)).kind, 'not-linearizable');
});

test('an indeterminate write may or may not have happened; a failed one must not have', () => {
  const run = (message: string): string => {
    const recorder = new HistoryRecorder();
    const write = recorder.invoke(0, { kind: 'put', key: 'k/a', value: 'x' });
    recorder.fail(write, message);
    const read = recorder.invoke(1, { kind: 'get', key: 'k/a' });
    recorder.complete(read, { kind: 'get', value: 'x' }, 2);
    return checkKvHistory(toCheckerHistory(recorder.operations)).kind;
  };
  assert.equal(run('etcdserver: request timed out'), 'linearizable');
  // "no leader" proves the write was never proposed: reading its value is a violation.
  assert.equal(run('etcdserver: no leader'), 'not-linearizable');
});
