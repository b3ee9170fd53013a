/**
 * Leases: grant, revoke, inspect, and keep alive.
 *
 * Keep-alives for all leases of a client share one LeaseKeepAlive stream, as etcd's Go client does.
 * Each kept lease is renewed every third of its TTL, so two renewals can be lost before it expires.
 * A renewal answered with TTL 0 means the lease is gone (expired or revoked): the keeper reports it
 * as lost and stops. A broken stream is reopened on the next renewal, on the next channel.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { CallOptions, ConnectionPool } from './connection-pool.ts';
import { type ResponseHeader, int64, toBigInt, toHeader } from './convert.ts';
import { EtcdError, GrpcCode, toEtcdError } from './errors.ts';
import { method } from './proto.ts';
import type {
  Int64In,
  WireHeaderOnly,
  WireLeaseGrantResponse,
  WireLeaseKeepAliveResponse,
  WireLeaseLeasesResponse,
  WireLeaseTimeToLiveResponse,
} from './wire.ts';

const SERVICE = 'etcdserverpb.Lease';
const GRANT = method<{ TTL: Int64In; ID?: Int64In }, WireLeaseGrantResponse>(SERVICE, 'LeaseGrant');
const REVOKE = method<{ ID: Int64In }, WireHeaderOnly>(SERVICE, 'LeaseRevoke');
const TIME_TO_LIVE = method<{ ID: Int64In; keys?: boolean }, WireLeaseTimeToLiveResponse>(
  SERVICE,
  'LeaseTimeToLive',
);
const LEASES = method<Record<string, never>, WireLeaseLeasesResponse>(SERVICE, 'LeaseLeases');
const KEEP_ALIVE = method<{ ID: Int64In }, WireLeaseKeepAliveResponse>(SERVICE, 'LeaseKeepAlive');

/** Renewing more often than this would only load the server; TTLs are whole seconds anyway. */
const RENEW_INTERVAL_MIN_MS = 500;

export interface LeaseGrant {
  readonly header: ResponseHeader;
  readonly id: bigint;
  /** The TTL the server chose, in seconds. */
  readonly ttl: number;
}

export interface LeaseTimeToLive {
  readonly header: ResponseHeader;
  readonly id: bigint;
  /** Remaining seconds; -1 when the lease does not exist (expired or never granted). */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: Buffer[];
}

export class LeaseKeeper {
  /** The TTL from the latest renewal, in seconds; 0 once the lease is lost. */
  ttl: number;
  /** Resolves when the server reports the lease gone; never resolves after close(). */
  readonly lost: Promise<void>;
  private markLost: () => void = () => undefined;
  private timer: NodeJS.Timeout | null = null;
  private renewals = 0;
  private readonly renewalWaiters: (() => void)[] = [];

  constructor(
    readonly id: bigint,
    ttl: number,
    private readonly owner: LeaseKeepAlives,
  ) {
    this.ttl = ttl;
    this.lost = new Promise<void>((resolve) => {
      this.markLost = resolve;
    });
  }

  /** How many renewals the server has answered so far. */
  get renewalCount(): number {
    return this.renewals;
  }

  /** Resolves at the next answered renewal (useful to wait until the lease is known to live). */
  nextRenewal(): Promise<void> {
    return new Promise((resolve) => this.renewalWaiters.push(resolve));
  }

  schedule(): void {
    const intervalMs = Math.max(RENEW_INTERVAL_MIN_MS, (this.ttl * 1000) / 3);
    this.timer = setTimeout(() => {
      this.owner.sendRenewal(this);
      this.schedule();
    }, intervalMs);
  }

  renewed(ttl: number): void {
    if (ttl <= 0) {
      this.ttl = 0;
      this.stop();
      this.markLost();
      return;
    }
    this.ttl = ttl;
    this.renewals++;
    for (const waiter of this.renewalWaiters.splice(0)) waiter();
  }

  /** Stops renewing; the lease then expires on the server after its TTL. */
  close(): void {
    this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.owner.remove(this);
  }
}

/** The shared keep-alive stream and the keepers that use it. */
class LeaseKeepAlives {
  private stream: ClientDuplexStream<{ ID: Int64In }, WireLeaseKeepAliveResponse> | null = null;
  private readonly keepers = new Map<string, LeaseKeeper>();

  constructor(private readonly pool: ConnectionPool) {}

  add(keeper: LeaseKeeper): void {
    this.keepers.get(String(keeper.id))?.close();
    this.keepers.set(String(keeper.id), keeper);
    this.sendRenewal(keeper);
    keeper.schedule();
  }

  remove(keeper: LeaseKeeper): void {
    if (this.keepers.get(String(keeper.id)) === keeper) this.keepers.delete(String(keeper.id));
    if (this.keepers.size === 0 && this.stream !== null) {
      this.stream.end();
      this.stream = null;
    }
  }

  sendRenewal(keeper: LeaseKeeper): void {
    this.ensureStream().write({ ID: int64(keeper.id) });
  }

  close(): void {
    for (const keeper of [...this.keepers.values()]) keeper.close();
    this.stream?.cancel();
    this.stream = null;
  }

  private ensureStream(): ClientDuplexStream<{ ID: Int64In }, WireLeaseKeepAliveResponse> {
    if (this.stream !== null) return this.stream;
    const stream = this.pool.duplexStream(KEEP_ALIVE);
    stream.on('data', (response: WireLeaseKeepAliveResponse) => {
      this.keepers.get(toBigInt(response.ID).toString())?.renewed(Number(response.TTL));
    });
    // A lost stream is replaced lazily by the next renewal; the TTL margin covers the gap.
    const lost = (): void => {
      if (this.stream === stream) this.stream = null;
    };
    stream.on('error', lost);
    stream.on('end', lost);
    this.stream = stream;
    return stream;
  }
}

export class LeaseClient {
  private readonly keepAlives: LeaseKeepAlives;

  constructor(private readonly pool: ConnectionPool) {
    this.keepAlives = new LeaseKeepAlives(pool);
  }

  /** Grants a lease of `ttlSeconds`; `id` requests a specific lease id (0n lets the server pick). */
  async grant(
    ttlSeconds: number,
    options: { id?: bigint } & CallOptions = {},
  ): Promise<LeaseGrant> {
    const request = { TTL: ttlSeconds, ...(options.id ? { ID: int64(options.id) } : {}) };
    const response = await this.pool.unary(GRANT, request, options);
    return {
      header: toHeader(response.header),
      id: toBigInt(response.ID),
      ttl: Number(response.TTL),
    };
  }

  /** Revokes the lease and deletes its keys. */
  async revoke(id: bigint, options: CallOptions = {}): Promise<ResponseHeader> {
    const response = await this.pool.unary(REVOKE, { ID: int64(id) }, options);
    return toHeader(response.header);
  }

  async timeToLive(
    id: bigint,
    options: { keys?: boolean } & CallOptions = {},
  ): Promise<LeaseTimeToLive> {
    const request = { ID: int64(id), ...(options.keys ? { keys: true } : {}) };
    const response = await this.pool.unary(TIME_TO_LIVE, request, { idempotent: true, ...options });
    return {
      header: toHeader(response.header),
      id: toBigInt(response.ID),
      ttl: Number(response.TTL),
      grantedTtl: Number(response.grantedTTL),
      keys: response.keys,
    };
  }

  /** Ids of every live lease. */
  async leases(options: CallOptions = {}): Promise<bigint[]> {
    const response = await this.pool.unary(LEASES, {}, { idempotent: true, ...options });
    return response.leases.map((lease) => toBigInt(lease.ID));
  }

  /**
   * Renews the lease once, on a stream of its own. Returns the new TTL, 0 when the lease is gone.
   */
  keepAliveOnce(id: bigint, options: { timeoutMs?: number } = {}): Promise<number> {
    const stream = this.pool.duplexStream(KEEP_ALIVE);
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.cancel();
        reject(
          new EtcdError(
            GrpcCode.DeadlineExceeded,
            `lease keep-alive timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      stream.once('data', (response: WireLeaseKeepAliveResponse) => {
        clearTimeout(timer);
        stream.end();
        resolve(Number(response.TTL));
      });
      stream.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(toEtcdError(error, KEEP_ALIVE.path));
      });
      stream.write({ ID: int64(id) });
    });
  }

  /** Keeps the lease alive until the keeper is closed or the server reports the lease gone. */
  keepAlive(id: bigint, ttlSeconds = 0): LeaseKeeper {
    const keeper = new LeaseKeeper(id, ttlSeconds, this.keepAlives);
    this.keepAlives.add(keeper);
    return keeper;
  }

  close(): void {
    this.keepAlives.close();
  }
}
