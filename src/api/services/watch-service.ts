/**
 * etcdserverpb.Watch: one bidirectional stream multiplexes many watchers, each with an id that
 * is unique on its stream (client-chosen since 3.4, else the lowest free one), as etcd's
 * v3rpc/watch.go serves them:
 * - create → a `created` response first, then events in revision order;
 *   a client-chosen id already in use → one response with watch_id -1, created and canceled;
 * - a start revision below the compaction point → canceled with compact_revision;
 * - cancel → a `canceled` response; an unknown id is ignored;
 * - progress_request → one response with watch_id -1 once every watcher has caught up;
 * - progress_notify → a progress response to watchers idle for the configured interval;
 * - fragment → a response larger than max-request-bytes is split over several messages.
 * Half-closing the stream ends nothing (etcd keeps delivering); the stream ends when the client
 * cancels it or the server shuts down, and every watcher on it is cancelled then.
 */
import type { WatchFilter, WatchResponse } from '../../mvcc/index.ts';
import type { ServerApi, ServerWatch } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { eventMessage, headerMessage, type WireMessage } from '../response-messages.ts';
import type { MethodHandler, RequestMessage, StreamCall, StreamSession } from '../rpc-method.ts';
import { bytesOf, optionalBytes, toNumber, type WireInt64 } from '../wire-values.ts';

export interface WatchServiceOptions {
  readonly maxRequestBytes: number;
  readonly progressNotifyIntervalMs: number;
}

const DUPLICATE_ID_REASON = 'mvcc: duplicate watch ID provided on the WatchStream';
/** Framing overhead per event beyond its keys and values, for the fragment size estimate. */
const EVENT_OVERHEAD_BYTES = 48;
const FILTERS: readonly WatchFilter[] = ['NOPUT', 'NODELETE'];

type Bytes = Uint8Array | readonly number[] | undefined;

interface WatchEntry {
  readonly id: number;
  readonly watch: ServerWatch;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** Whether events went out since the last progress-notify tick (then no notify is due). */
  busy: boolean;
  /** Who asked for each outstanding progress response: this watcher's timer or the stream. */
  readonly progressRequests: ('self' | 'all')[];
}

class WatchStream implements StreamSession {
  private readonly server: ServerApi;
  private readonly call: StreamCall;
  private readonly options: WatchServiceOptions;
  private readonly watchers = new Map<number, WatchEntry>();
  private nextId = 0;
  /** Watchers that still owe their answer to the stream-wide progress request. */
  private progressAll: Set<number> | undefined;
  private ticker: NodeJS.Timeout | undefined;

  constructor(server: ServerApi, call: StreamCall, options: WatchServiceOptions) {
    this.server = server;
    this.call = call;
    this.options = options;
    call.onClose(() => this.close());
  }

  message(request: RequestMessage): void {
    if (request.create_request != null) this.create(request.create_request as RequestMessage);
    else if (request.cancel_request != null) {
      this.cancel(toNumber((request.cancel_request as RequestMessage).watch_id as WireInt64));
    } else if (request.progress_request != null) this.requestProgressAll();
  }

  halfClose(): void {
    // etcd's watch server keeps the stream (and its watchers) until the client cancels it.
  }

  private header(revision?: number): WireMessage {
    const header = this.server.header();
    return headerMessage(revision === undefined ? header : { ...header, revision });
  }

  private create(request: RequestMessage): void {
    const requested = toNumber(request.watch_id as WireInt64);
    if (requested !== 0 && this.watchers.has(requested)) {
      this.call.send({
        header: this.header(),
        watch_id: -1,
        created: true,
        canceled: true,
        cancel_reason: DUPLICATE_ID_REASON,
      });
      return;
    }
    let id = requested;
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    const filters = ((request.filters as number[] | undefined) ?? [])
      .map((filter) => FILTERS[filter])
      .filter((filter) => filter !== undefined);
    const watch = this.server.watch({
      key: bytesOf(request.key as Bytes),
      rangeEnd: optionalBytes(request.range_end as Bytes),
      startRevision: toNumber(request.start_revision as WireInt64),
      filters,
      prevKv: request.prev_kv === true,
    });
    const entry: WatchEntry = {
      id,
      watch,
      progressNotify: request.progress_notify === true,
      fragment: request.fragment === true,
      busy: false,
      progressRequests: [],
    };
    this.watchers.set(id, entry);
    const created: WireMessage = { header: this.header(), created: true };
    if (id !== 0) created.watch_id = id;
    this.call.send(created);
    if (entry.progressNotify) this.startTicker();
    void this.pump(entry);
  }

  private cancel(id: number): void {
    const entry = this.watchers.get(id);
    if (entry === undefined) return;
    this.watchers.delete(id);
    entry.watch.cancel();
    this.progressAll?.delete(id);
    const response: WireMessage = { header: this.header(), canceled: true };
    if (id !== 0) response.watch_id = id;
    this.call.send(response);
  }

  private requestProgressAll(): void {
    if (this.watchers.size === 0) {
      this.call.send({ header: this.header(), watch_id: -1 });
      return;
    }
    this.progressAll = new Set(this.watchers.keys());
    for (const entry of this.watchers.values()) {
      entry.progressRequests.push('all');
      entry.watch.requestProgress();
    }
  }

  private startTicker(): void {
    if (this.ticker !== undefined) return;
    this.ticker = setInterval(() => {
      for (const entry of this.watchers.values()) {
        if (!entry.progressNotify) continue;
        if (!entry.busy) {
          entry.progressRequests.push('self');
          entry.watch.requestProgress();
        }
        entry.busy = false;
      }
    }, this.options.progressNotifyIntervalMs);
    this.ticker.unref();
  }

  /** Forwards one watcher's responses until it is cancelled or the stream closes. */
  private async pump(entry: WatchEntry): Promise<void> {
    try {
      for await (const response of entry.watch) {
        if (this.call.closed || this.watchers.get(entry.id) !== entry) break;
        if (!this.forward(entry, response)) await this.call.drained();
      }
    } catch (error) {
      this.call.end(error);
    }
  }

  /** Sends what one member response means on the stream; false when the stream is full. */
  private forward(entry: WatchEntry, response: WatchResponse): boolean {
    if (response.canceled) {
      this.watchers.delete(entry.id);
      // etcd sends the compaction cancel with a header that carries no revision.
      const message: WireMessage = { header: this.header(0), canceled: true };
      if (entry.id !== 0) message.watch_id = entry.id;
      if (response.compactRevision !== 0) message.compact_revision = response.compactRevision;
      return this.call.send(message);
    }
    if (response.events.length === 0) return this.forwardProgress(entry, response.revision);
    entry.busy = true;
    return this.sendEvents(entry, response);
  }

  private forwardProgress(entry: WatchEntry, revision: number): boolean {
    const requester = entry.progressRequests.shift();
    if (requester === 'all' && this.progressAll?.delete(entry.id) === true) {
      if (this.progressAll.size > 0) return true;
      this.progressAll = undefined;
      return this.call.send({ header: this.header(revision), watch_id: -1 });
    }
    const message: WireMessage = { header: this.header(revision) };
    if (entry.id !== 0) message.watch_id = entry.id;
    return this.call.send(message);
  }

  private sendEvents(entry: WatchEntry, response: WatchResponse): boolean {
    const header = this.header(response.revision);
    const events = response.events.map(eventMessage);
    const base: WireMessage = { header };
    if (entry.id !== 0) base.watch_id = entry.id;
    if (!entry.fragment || events.length < 2) return this.call.send({ ...base, events });
    // etcd's sendFragments: fill each message up to max-request-bytes (at least one event).
    let writable = true;
    let piece: WireMessage[] = [];
    let pieceBytes = 0;
    response.events.forEach((event, index) => {
      const size =
        event.kv.key.length +
        event.kv.value.length +
        (event.prevKv === undefined ? 0 : event.prevKv.key.length + event.prevKv.value.length) +
        EVENT_OVERHEAD_BYTES;
      if (piece.length > 0 && pieceBytes + size > this.options.maxRequestBytes) {
        writable = this.call.send({ ...base, events: piece, fragment: true }) && writable;
        piece = [];
        pieceBytes = 0;
      }
      piece.push(events[index]);
      pieceBytes += size;
    });
    return this.call.send({ ...base, events: piece }) && writable;
  }

  private close(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    for (const entry of this.watchers.values()) entry.watch.cancel();
    this.watchers.clear();
  }
}

export function watchMethods(
  server: ServerApi,
  options: WatchServiceOptions,
): Record<string, MethodHandler> {
  return {
    Watch: {
      kind: 'stream',
      open: (call) => {
        const stream = new WatchStream(server, call, options);
        if (call.metadata('hasleader') === 'true') {
          // Clients ask for this on watches so a member cut off from the leader is noticed.
          server.status().then(
            (status) => {
              if (status.leader === 0n) call.end(API_ERRORS.noLeader());
            },
            (error: unknown) => call.end(error),
          );
        }
        return stream;
      },
    },
  };
}
