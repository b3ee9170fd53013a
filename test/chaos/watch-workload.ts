/**
 * Watchers for a chaos run. Each watcher watches one range (every key, the workload's prefix, or
 * one slot's keys) through a stream of its own on a member picked at random, and records every
 * response exactly as it arrived. It asks for progress every second or so (a stream-wide
 * progress request, answered with watch_id -1: a bookmark). A stream that ends, fails, or stays
 * silent past the watchdog ends the session; the watcher then resumes on another member from
 * the revision after the last one it was promised (events or bookmark), now and then from an
 * earlier revision to exercise catch-up, and from the compaction revision when its start was
 * compacted away. Each stretch on one stream is a session; watch-checker.ts judges them.
 */
import type { Random } from '../../src/base/index.ts';
import type { WireWatchResponse } from '../../src/client/wire.ts';
import { grpcClient, openWatchStream } from './etcd-rpc.ts';
import { KEY_PREFIX } from './kv-workload.ts';

export interface WatchRange {
  readonly key: string;
  /** '' for one key, '\u0000' for every key >= key, else the exclusive end. */
  readonly rangeEnd: string;
}

export const EVERY_KEY: WatchRange = { key: '\u0000', rangeEnd: '\u0000' };

export function prefixRange(prefix: string): WatchRange {
  const last = prefix.charCodeAt(prefix.length - 1);
  return { key: prefix, rangeEnd: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

export function inRange(range: WatchRange, key: string): boolean {
  if (range.rangeEnd === '') return key === range.key;
  if (range.rangeEnd === '\u0000') return key >= range.key;
  return key >= range.key && key < range.rangeEnd;
}

export interface WatchedEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

export interface RecordedResponse {
  readonly events: readonly WatchedEvent[];
  readonly headerRevision: number;
  readonly watchId: string;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compactRevision: number;
  readonly fragment: boolean;
}

export interface WatchSession {
  readonly watcher: number;
  readonly member: number;
  readonly range: WatchRange;
  readonly startRevision: number;
  readonly responses: RecordedResponse[];
  end: 'open' | 'stream-ended' | 'stream-failed' | 'silent' | 'canceled' | 'stopped';
}

export interface WatchWorkloadOptions {
  readonly watchers: number;
  readonly slots: number;
  readonly progressRequestMs: number;
  /** A session with no response for this long after a progress request is abandoned. */
  readonly silenceMs: number;
}

export function toRecordedResponse(response: WireWatchResponse): RecordedResponse {
  return {
    events: response.events.map((event) => ({
      type: event.type,
      key: event.kv?.key.toString() ?? '',
      value: event.kv?.value.toString() ?? '',
      modRevision: Number(event.kv?.mod_revision ?? 0),
    })),
    headerRevision: Number(response.header?.revision ?? 0),
    watchId: String(response.watch_id),
    created: response.created,
    canceled: response.canceled,
    compactRevision: Number(response.compact_revision ?? 0),
    fragment: response.fragment,
  };
}

export class WatchWorkload {
  readonly sessions: WatchSession[] = [];
  private stopping = false;
  private readonly stopListeners = new Set<() => void>();

  constructor(
    private readonly endpoints: readonly string[],
    private readonly options: WatchWorkloadOptions,
    private readonly random: Random,
    /** The newest revision the run has seen, to pick start revisions. */
    private readonly latestRevision: () => number,
  ) {}

  async run(): Promise<void> {
    const ranges = [EVERY_KEY, prefixRange(KEY_PREFIX)];
    const watchers = Array.from({ length: this.options.watchers }, (_, index) => {
      const range =
        index < ranges.length
          ? ranges[index]
          : prefixRange(`${KEY_PREFIX}${this.random.int(this.options.slots)}/`);
      return this.runWatcher(index, range);
    });
    await Promise.all(watchers);
  }

  stop(): void {
    this.stopping = true;
    for (const listener of [...this.stopListeners]) listener();
  }

  private async runWatcher(index: number, range: WatchRange): Promise<void> {
    let next = Math.max(1, this.latestRevision() - this.random.int(20));
    while (!this.stopping) {
      const member = this.random.int(this.endpoints.length);
      // Now and then go back a little: a resumed watch must replay exactly what follows.
      const startRevision =
        this.random.chance(0.2) && next > 2 ? Math.max(1, next - 1 - this.random.int(30)) : next;
      const session: WatchSession = {
        watcher: index,
        member,
        range,
        startRevision,
        responses: [],
        end: 'open',
      };
      this.sessions.push(session);
      await this.runSession(session);
      next = Math.max(next, resumeRevision(session));
      const compacted = session.responses.find((r) => r.canceled && r.compactRevision > 0);
      if (compacted !== undefined) next = Math.max(next, compacted.compactRevision);
      if (!this.stopping) await sleep(50 + this.random.int(300));
    }
  }

  private runSession(session: WatchSession): Promise<void> {
    const client = grpcClient(this.endpoints[session.member]);
    const stream = openWatchStream(client);
    return new Promise<void>((resolve) => {
      let lastHeardMs = Date.now();
      let finished = false;
      const finish = (end: WatchSession['end']): void => {
        if (finished) return;
        finished = true;
        session.end = end;
        clearInterval(ticker);
        this.stopListeners.delete(onStop);
        stream.removeAllListeners('data');
        stream.on('error', () => undefined);
        stream.cancel();
        client.close();
        resolve();
      };
      const onStop = (): void => finish('stopped');
      this.stopListeners.add(onStop);
      const ticker = setInterval(() => {
        if (Date.now() - lastHeardMs > this.options.silenceMs) finish('silent');
        else stream.write({ progress_request: {} });
      }, this.options.progressRequestMs);
      stream.on('data', (response: WireWatchResponse) => {
        lastHeardMs = Date.now();
        const recorded = toRecordedResponse(response);
        session.responses.push(recorded);
        if (recorded.canceled) finish('canceled');
      });
      stream.on('error', () => finish('stream-failed'));
      stream.on('end', () => finish('stream-ended'));
      const create = {
        key: Buffer.from(session.range.key),
        start_revision: session.startRevision,
        watch_id: 1,
        progress_notify: true,
        ...(session.range.rangeEnd === ''
          ? {}
          : { range_end: Buffer.from(session.range.rangeEnd) }),
      };
      stream.write({ create_request: create });
    });
  }
}

/** Where a watcher resumes after `session`: after its last event or bookmark. */
export function resumeRevision(session: WatchSession): number {
  let promised = session.startRevision - 1;
  for (const response of session.responses) {
    for (const event of response.events) promised = Math.max(promised, event.modRevision);
    if (isBookmark(response)) promised = Math.max(promised, response.headerRevision);
  }
  return promised + 1;
}

/** A progress response: no events, not about creation or cancellation. */
export function isBookmark(response: RecordedResponse): boolean {
  return (
    response.events.length === 0 &&
    !response.created &&
    !response.canceled &&
    response.headerRevision > 0
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
