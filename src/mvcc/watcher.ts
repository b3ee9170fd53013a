/**
 * One watcher: what it watches, the next revision it is owed, and a bounded queue of responses
 * its consumer has not taken yet. The queue bound is what keeps a slow consumer from holding
 * back writers: when it is full the store stops pushing live events and moves the watcher to
 * the unsynced set, from where it catches up from the backend once the consumer drains.
 */
import { assert } from '../base/index.ts';
import type { Event } from './types.ts';

export type WatchFilter = 'NOPUT' | 'NODELETE';

export interface WatchOptions {
  readonly key: Uint8Array;
  /** Same convention as RangeRequest.rangeEnd. */
  readonly rangeEnd?: Uint8Array;
  /** 0 or absent: from the next revision. */
  readonly startRevision?: number;
  readonly filters?: readonly WatchFilter[];
  readonly prevKv?: boolean;
}

export interface WatchResponse {
  readonly watchId: number;
  /** The store revision when the response was produced (header.revision). */
  readonly revision: number;
  /** Whole revisions only, in revision order; empty for a progress notification. */
  readonly events: readonly Event[];
  /** Set (with canceled) when the watcher's start revision was compacted away. */
  readonly compactRevision: number;
  readonly canceled: boolean;
}

export class Watcher implements AsyncIterable<WatchResponse> {
  readonly id: number;
  readonly options: WatchOptions;
  /** The lowest revision this watcher has not yet been sent. */
  minRevision: number;
  private readonly queue: WatchResponse[] = [];
  private queuedEvents = 0;
  private readonly eventsMax: number;
  private closed = false;
  private waiter: (() => void) | undefined;
  /** Told when the consumer takes a response (room may have appeared). */
  private readonly drained: (watcher: Watcher) => void;

  constructor(
    id: number,
    options: WatchOptions,
    minRevision: number,
    eventsMax: number,
    drained: (watcher: Watcher) => void,
  ) {
    assert(eventsMax > 0, 'watch buffer must hold at least one event');
    this.id = id;
    this.options = options;
    this.minRevision = minRevision;
    this.eventsMax = eventsMax;
    this.drained = drained;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether another response may be queued (one may overshoot by a revision's events). */
  hasRoom(): boolean {
    return !this.closed && this.queuedEvents < this.eventsMax;
  }

  get pendingEvents(): number {
    return this.queuedEvents;
  }

  /** Queues a response; `final` closes the watcher after it. */
  push(response: WatchResponse, final = false): void {
    assert(!this.closed, 'push to a closed watcher');
    this.queue.push(response);
    this.queuedEvents += response.events.length;
    if (final) this.closed = true;
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Takes the oldest queued response, if any. */
  poll(): WatchResponse | undefined {
    const response = this.queue.shift();
    if (response === undefined) return undefined;
    this.queuedEvents -= response.events.length;
    assert(this.queuedEvents >= 0, 'watch queue accounting went negative');
    if (!this.closed) this.drained(this);
    return response;
  }

  /** Responses until the watcher is cancelled and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    for (;;) {
      const response = this.poll();
      if (response !== undefined) {
        yield response;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
