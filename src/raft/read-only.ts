/**
 * The leader's queue of ReadIndex requests waiting for leadership confirmation. Each request
 * records the commit index at arrival; a heartbeat round carrying the newest request's context
 * confirms leadership for it and for every request queued before it.
 */
import { assert, type LogIndex, type MemberId } from '../base/index.ts';
import type { Message } from './types.ts';

/** Bound on queued reads so a leader cut off from its followers cannot grow without limit. */
export const READ_INDEX_QUEUE_MAX = 10_000;

export interface ReadIndexStatus {
  readonly request: Message;
  readonly index: LogIndex;
  readonly acks: Set<MemberId>;
}

export function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += byte.toString(16).padStart(2, '0');
  return key;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private readonly queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Queues a request; false when the queue is full. A repeated context is ignored. */
  addRequest(index: LogIndex, request: Message): boolean {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return true;
    if (this.queue.length >= READ_INDEX_QUEUE_MAX) return false;
    this.pending.set(key, { request, index, acks: new Set() });
    this.queue.push(key);
    assert(this.pending.size === this.queue.length, 'queue and index agree');
    return true;
  }

  /** Records that `from` acknowledged the heartbeat carrying `context`; the acks so far. */
  recvAck(from: MemberId, context: Uint8Array): ReadonlySet<MemberId> | null {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return null;
    status.acks.add(from);
    return status.acks;
  }

  /** Releases the request with `context` and every request queued before it. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const released = this.queue.splice(0, position + 1).map((queued) => {
      const status = this.pending.get(queued);
      assert(status !== undefined, 'every queued context has a status');
      this.pending.delete(queued);
      return status;
    });
    assert(this.pending.size === this.queue.length, 'queue and index agree');
    return released;
  }

  lastPendingContext(): Uint8Array | null {
    if (this.queue.length === 0) return null;
    const status = this.pending.get(this.queue[this.queue.length - 1]);
    assert(status !== undefined, 'every queued context has a status');
    return status.request.context;
  }

  clear(): void {
    this.pending.clear();
    this.queue.length = 0;
  }
}
