/**
 * Watches multiplexed over one gRPC stream per client.
 *
 * The client chooses each watch_id (etcd 3.4+), so create responses are matched by id rather than
 * by order. Every watcher remembers the next revision it needs; when the stream fails, the manager
 * reopens it (possibly on another endpoint) and re-creates each watcher from that revision, so
 * events are neither lost nor repeated across the reconnect.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { AsyncQueue } from './async-queue.ts';
import type { ConnectionPool } from './connection-pool.ts';
import {
  type Bytes,
  type KeyValue,
  type ResponseHeader,
  toBytes,
  toHeader,
  toKeyValue,
  toKeyValueOrUndefined,
} from './convert.ts';
import { EtcdError, EtcdMessage, GrpcCode } from './errors.ts';
import { type KeyRangeOptions, rangeEndOf } from './kv-requests.ts';
import { method } from './proto.ts';
import type { WireWatchCreateRequest, WireWatchRequest, WireWatchResponse } from './wire.ts';

export interface WatchOptions extends KeyRangeOptions {
  /** First revision to deliver (inclusive); absent means "changes from now on". */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  /** Ask the server for periodic empty responses carrying its current revision. */
  readonly progressNotify?: boolean;
  readonly filters?: readonly ('noPut' | 'noDelete')[];
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv: KeyValue | undefined;
}

const WATCH = method<WireWatchRequest, WireWatchResponse>('etcdserverpb.Watch', 'Watch');

/** Reconnect backoff bounds: quick first retry, capped so a long outage costs little. */
const RECONNECT_DELAY_MIN_MS = 50;
const RECONNECT_DELAY_MAX_MS = 2_000;

export class Watcher implements AsyncIterable<WatchEvent> {
  /** Resolves with the header of the create response once the server has registered the watch. */
  readonly created: Promise<ResponseHeader>;
  /** The next revision this watcher needs; a resumed watch starts here. 0 = from now. */
  nextRevision: number;
  /** Highest revision the server promised complete for this watcher (events or progress). */
  progressRevision = 0;
  private readonly queue = new AsyncQueue<WatchEvent>();
  private settleCreated: { resolve: (h: ResponseHeader) => void; reject: (e: Error) => void };

  constructor(
    readonly id: number,
    readonly request: WireWatchCreateRequest,
    private readonly manager: WatchManager,
  ) {
    this.nextRevision = Number(request.start_revision ?? 0);
    let settle: typeof this.settleCreated | undefined;
    this.created = new Promise<ResponseHeader>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.settleCreated = settle as typeof this.settleCreated;
    // A watcher that fails before creation reports through iteration; avoid an unhandled rejection.
    this.created.catch(() => undefined);
  }

  get isDone(): boolean {
    return this.queue.isEnded;
  }

  /** Stops the watch; iteration ends after the events already received. */
  cancel(): void {
    if (this.queue.isEnded) return;
    this.queue.end();
    this.settleCreated.reject(new EtcdError(GrpcCode.Canceled, 'watch canceled'));
    this.manager.cancel(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.queue.next(),
      // Leaving a for-await loop early cancels the watch, like closing a Go watch channel.
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Called by the manager for each response addressed to this watcher. */
  deliver(response: WireWatchResponse): void {
    const header = toHeader(response.header);
    if (response.created) {
      if (this.nextRevision === 0) this.nextRevision = header.revision + 1;
      this.settleCreated.resolve(header);
    }
    for (const event of response.events) {
      if (event.kv === null) continue;
      const kv = toKeyValue(event.kv);
      this.nextRevision = kv.modRevision + 1;
      const type = event.type === 'DELETE' ? 'delete' : 'put';
      this.queue.push({ type, kv, prevKv: toKeyValueOrUndefined(event.prev_kv) });
    }
    // A response without events and not about creation is a progress notification; header
    // revision R promises that no event at or below R is still to come.
    if (response.events.length === 0 && !response.created && !response.canceled) {
      this.nextRevision = Math.max(this.nextRevision, header.revision + 1);
    }
    this.progressRevision = Math.max(this.progressRevision, this.nextRevision - 1);
    if (response.canceled) this.failFromServer(response);
  }

  private failFromServer(response: WireWatchResponse): void {
    const compacted = Number(response.compact_revision);
    const error =
      compacted !== 0
        ? new EtcdError(GrpcCode.OutOfRange, `${EtcdMessage.compacted} (${compacted})`)
        : new EtcdError(GrpcCode.Canceled, response.cancel_reason || 'etcdserver: watch canceled');
    this.fail(error);
  }

  fail(error: Error): void {
    this.settleCreated.reject(error);
    this.queue.end(error);
    this.manager.forget(this);
  }

  /** The create request for (re)registering, starting where the watcher left off. */
  createRequest(): WireWatchCreateRequest {
    if (this.nextRevision === 0) return this.request;
    return { ...this.request, start_revision: this.nextRevision };
  }
}

export class WatchManager {
  private stream: ClientDuplexStream<WireWatchRequest, WireWatchResponse> | null = null;
  private readonly watchers = new Map<string, Watcher>();
  private nextId = 1;
  private reconnectDelayMs = RECONNECT_DELAY_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly pool: ConnectionPool) {}

  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    if (this.closed) throw new EtcdError(GrpcCode.Canceled, 'client is closed');
    const keyBytes = toBytes(key);
    const rangeEnd = rangeEndOf(keyBytes, options);
    const id = this.nextId++;
    const request: WireWatchCreateRequest = {
      key: keyBytes.length === 0 && rangeEnd !== undefined ? Uint8Array.of(0) : keyBytes,
      watch_id: id,
    };
    if (rangeEnd !== undefined) request.range_end = rangeEnd;
    if (options.startRevision) request.start_revision = options.startRevision;
    if (options.prevKv) request.prev_kv = true;
    if (options.progressNotify) request.progress_notify = true;
    if (options.filters?.length) {
      request.filters = options.filters.map((filter) =>
        filter === 'noPut' ? 'NOPUT' : 'NODELETE',
      );
    }
    const watcher = new Watcher(id, request, this);
    this.watchers.set(String(id), watcher);
    this.send({ create_request: watcher.createRequest() });
    return watcher;
  }

  /** Asks the server to send a progress notification to every watcher of the stream. */
  requestProgress(): void {
    this.send({ progress_request: {} });
  }

  cancel(watcher: Watcher): void {
    if (!this.watchers.delete(String(watcher.id))) return;
    if (this.stream !== null) this.stream.write({ cancel_request: { watch_id: watcher.id } });
  }

  forget(watcher: Watcher): void {
    this.watchers.delete(String(watcher.id));
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const error = new EtcdError(GrpcCode.Canceled, 'client is closed');
    for (const watcher of [...this.watchers.values()]) watcher.fail(error);
    this.stream?.cancel();
    this.stream = null;
  }

  private send(request: WireWatchRequest): void {
    // Without a stream, the pending reconnect re-creates every registered watcher anyway.
    if (this.reconnectTimer !== null) return;
    this.ensureStream().write(request);
  }

  private ensureStream(): ClientDuplexStream<WireWatchRequest, WireWatchResponse> {
    if (this.stream !== null) return this.stream;
    const stream = this.pool.duplexStream(WATCH);
    stream.on('data', (response: WireWatchResponse) => this.onResponse(response));
    stream.on('error', () => this.onStreamLost(stream));
    stream.on('end', () => this.onStreamLost(stream));
    this.stream = stream;
    return stream;
  }

  private onResponse(response: WireWatchResponse): void {
    this.reconnectDelayMs = RECONNECT_DELAY_MIN_MS;
    if (response.watch_id === '-1') {
      // A stream-wide progress notification (answer to requestProgress) concerns every watcher.
      for (const watcher of this.watchers.values()) watcher.deliver(response);
      return;
    }
    this.watchers.get(response.watch_id)?.deliver(response);
  }

  private onStreamLost(stream: ClientDuplexStream<WireWatchRequest, WireWatchResponse>): void {
    if (this.stream !== stream) return;
    this.stream = null;
    if (this.closed || this.watchers.size === 0) return;
    const delayMs = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_DELAY_MAX_MS);
    this.reconnectTimer = setTimeout(() => this.reconnect(), delayMs);
  }

  private reconnect(): void {
    this.reconnectTimer = null;
    if (this.closed || this.watchers.size === 0) return;
    const stream = this.ensureStream();
    for (const watcher of this.watchers.values()) {
      stream.write({ create_request: watcher.createRequest() });
    }
  }
}
