/**
 * SigilClient: a client for any etcd v3 endpoint (Sigil KV or etcd itself).
 *
 *   const client = new SigilClient({ endpoints: ['127.0.0.1:2379'] });
 *   await client.put('greeting', 'hello');
 *   const { kvs } = await client.get('greeting');
 *   client.close();
 */
import { ClusterClient } from './cluster.ts';
import { type CallOptions, ConnectionPool } from './connection-pool.ts';
import type { Bytes } from './convert.ts';
import { ClientUsageError } from './errors.ts';
import {
  type DeleteOptions,
  type DeleteResult,
  type PutOptions,
  type PutResult,
  type RangeOptions,
  type RangeResult,
  deleteRequest,
  deleteResult,
  putRequest,
  putResult,
  rangeRequest,
  rangeResult,
} from './kv-requests.ts';
import { LeaseClient } from './lease.ts';
import { MaintenanceClient } from './maintenance.ts';
import { method } from './proto.ts';
import { TxnBuilder, txnResult } from './txn.ts';
import { type WatchOptions, WatchManager, type Watcher } from './watch.ts';
import type {
  WireCompactionRequest,
  WireDeleteRangeRequest,
  WireDeleteRangeResponse,
  WireHeaderOnly,
  WirePutRequest,
  WirePutResponse,
  WireRangeRequest,
  WireRangeResponse,
  WireTxnRequest,
  WireTxnResponse,
} from './wire.ts';
import { type ResponseHeader, toHeader } from './convert.ts';

const KV = 'etcdserverpb.KV';
const RANGE = method<WireRangeRequest, WireRangeResponse>(KV, 'Range');
const PUT = method<WirePutRequest, WirePutResponse>(KV, 'Put');
const DELETE_RANGE = method<WireDeleteRangeRequest, WireDeleteRangeResponse>(KV, 'DeleteRange');
const TXN = method<WireTxnRequest, WireTxnResponse>(KV, 'Txn');
const COMPACT = method<WireCompactionRequest, WireHeaderOnly>(KV, 'Compact');

export interface SigilClientOptions {
  /** `host:port` or `http://host:port`; default `127.0.0.1:2379`. */
  readonly endpoints?: readonly string[];
  /** Number of gRPC channels (HTTP/2 connections), spread over the endpoints; default 1. */
  readonly connections?: number;
  /** Time allowed to establish a connection; default 2 s (etcdctl's --dial-timeout). */
  readonly dialTimeoutMs?: number;
  /** Deadline of each unary call; default 5 s (etcdctl's --command-timeout). */
  readonly commandTimeoutMs?: number;
}

export type GetOptions = RangeOptions & CallOptions;

export class SigilClient {
  readonly lease: LeaseClient;
  readonly cluster: ClusterClient;
  readonly maintenance: MaintenanceClient;
  private readonly pool: ConnectionPool;
  private readonly watches: WatchManager;

  constructor(options: SigilClientOptions = {}) {
    const positive = (name: string, value: number): number => {
      if (!(value > 0)) throw new ClientUsageError(`${name} must be positive: ${value}`);
      return value;
    };
    this.pool = new ConnectionPool({
      endpoints: options.endpoints ?? ['127.0.0.1:2379'],
      connections: options.connections ?? 1,
      dialTimeoutMs: positive('dialTimeoutMs', options.dialTimeoutMs ?? 2_000),
      commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs ?? 5_000),
    });
    this.lease = new LeaseClient(this.pool);
    this.cluster = new ClusterClient(this.pool);
    this.maintenance = new MaintenanceClient(this.pool);
    this.watches = new WatchManager(this.pool);
  }

  /** The endpoints in use, normalised to `host:port`. */
  get endpoints(): readonly string[] {
    return this.pool.endpoints;
  }

  /** Reads one key, or a range with `rangeEnd`/`prefix`/`fromKey`. */
  async get(key: Bytes, options: GetOptions = {}): Promise<RangeResult> {
    const response = await this.pool.unary(RANGE, rangeRequest(key, options), {
      idempotent: true,
      ...options,
    });
    return rangeResult(response);
  }

  /** Same as get; the name etcd's API uses. */
  range(key: Bytes, options: GetOptions = {}): Promise<RangeResult> {
    return this.get(key, options);
  }

  async put(key: Bytes, value: Bytes, options: PutOptions & CallOptions = {}): Promise<PutResult> {
    const response = await this.pool.unary(PUT, putRequest(key, value, options), options);
    return putResult(response);
  }

  async delete(key: Bytes, options: DeleteOptions & CallOptions = {}): Promise<DeleteResult> {
    const request = deleteRequest(key, options);
    return deleteResult(await this.pool.unary(DELETE_RANGE, request, options));
  }

  /** Starts a transaction; see txn.ts for compare() and op. */
  txn(options: CallOptions = {}): TxnBuilder {
    return new TxnBuilder(async (request) =>
      txnResult(await this.pool.unary(TXN, request, options)),
    );
  }

  /** Discards history below `revision`; `physical` waits until the backend has dropped it. */
  async compact(
    revision: number,
    options: { physical?: boolean } & CallOptions = {},
  ): Promise<ResponseHeader> {
    const request: WireCompactionRequest = { revision };
    if (options.physical) request.physical = true;
    return toHeader((await this.pool.unary(COMPACT, request, options)).header);
  }

  /** Watches a key or range; iterate the watcher for events, cancel() it when done. */
  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    return this.watches.watch(key, options);
  }

  /** Asks for an immediate progress notification on every watcher. */
  requestWatchProgress(): void {
    this.watches.requestProgress();
  }

  /** Stops keep-alives and watches and closes every connection. */
  close(): void {
    this.watches.close();
    this.lease.close();
    this.pool.close();
  }
}
