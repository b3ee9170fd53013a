/**
 * A single-member ServerApi for src/api tests: a real KvStore + WatchableStore on a
 * MemoryBackend, no raft, no disk, and leases kept in a small table here (grant, keep-alive,
 * expiry by timer, revoke deleting attached keys). It gives the API layer genuine MVCC
 * behaviour (revisions, compaction, watch history) while the real member is built elsewhere.
 * Test code only: production never constructs it.
 */
import { withSha256Trailer } from '../../src/server/snapshot-trailer.ts';
import {
  hashKv,
  KvStore,
  type PutRequest,
  type RequestOp,
  type TxnRequest,
  WatchableStore,
} from '../../src/mvcc/index.ts';
import type {
  AlarmMember,
  LeaseTimeToLiveResponse,
  Member,
  ResponseHeader,
  ServerApi,
  ServerWatch,
  StatusResponse,
} from '../../src/server/server-api.ts';
import { ServerError } from '../../src/server/server-error.ts';
import { MemoryBackend } from '../../src/storage/index.ts';

/** Above 2^63, so uint64 handling of ids is exercised on every response. */
export const LOCAL_CLUSTER_ID = 0xf00d_cafe_dead_beefn;
export const LOCAL_MEMBER_ID = 0x8765_4321_1234_5678n;
const RAFT_TERM = 2;
const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

interface Lease {
  readonly id: bigint;
  readonly grantedTtl: number;
  expiresAtMs: number;
  timer: NodeJS.Timeout;
}

export interface LocalServerOptions {
  readonly maxRequestBytes?: number;
  readonly maxTxnOps?: number;
}

export class LocalServer implements ServerApi {
  readonly backend = new MemoryBackend();
  readonly kv: KvStore;
  readonly watchable: WatchableStore;
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
  /** Tests flip this to see NOT_SERVING / unhealthy answers. */
  hasLeader = true;
  clientUrls: string[] = [];
  private readonly leases = new Map<bigint, Lease>();
  // Generated ids stay below 2^53: mvcc keeps a key's lease as a Number (see the api report).
  private nextLeaseId = 0x1_0000_0001n;

  constructor(options: LocalServerOptions = {}) {
    this.limits = {
      maxRequestBytes: options.maxRequestBytes ?? 1_572_864,
      maxTxnOps: options.maxTxnOps ?? 128,
    };
    this.kv = new KvStore(this.backend, { maxTxnOps: this.limits.maxTxnOps });
    this.watchable = new WatchableStore(this.kv);
  }

  header(revision = this.kv.currentRevision): ResponseHeader {
    return {
      clusterId: LOCAL_CLUSTER_ID,
      memberId: LOCAL_MEMBER_ID,
      revision,
      raftTerm: RAFT_TERM,
    };
  }

  private requireLeader(): void {
    if (!this.hasLeader) throw new ServerError('no-leader');
  }

  private checkLease(lease: bigint | undefined): void {
    if (lease !== undefined && lease !== 0n && !this.leases.has(lease)) {
      throw new ServerError('lease-not-found');
    }
  }

  private checkOps(ops: readonly RequestOp[] | undefined): void {
    for (const op of ops ?? []) {
      if ('requestPut' in op) this.checkLease(op.requestPut.lease);
      if ('requestTxn' in op) this.checkTxnLeases(op.requestTxn);
    }
  }

  private checkTxnLeases(request: TxnRequest): void {
    this.checkOps(request.success);
    this.checkOps(request.failure);
  }

  async range(request: Parameters<ServerApi['range']>[0]) {
    this.requireLeader();
    const response = this.kv.range(request);
    return { ...response, header: this.header(response.header.revision) };
  }

  async put(request: PutRequest) {
    this.requireLeader();
    this.checkLease(request.lease);
    const response = this.kv.put(request);
    return { ...response, header: this.header(response.header.revision) };
  }

  async deleteRange(request: Parameters<ServerApi['deleteRange']>[0]) {
    this.requireLeader();
    const response = this.kv.deleteRange(request);
    return { ...response, header: this.header(response.header.revision) };
  }

  async txn(request: TxnRequest) {
    this.requireLeader();
    this.checkTxnLeases(request);
    const response = this.kv.txn(request);
    return { ...response, header: this.header(response.header.revision) };
  }

  async compact(request: Parameters<ServerApi['compact']>[0]) {
    this.requireLeader();
    const response = this.kv.compact(request);
    while (this.kv.compactionStep()) {
      // Physical compaction runs to completion before answering, as `physical: true` asks.
    }
    return { header: this.header(response.header.revision) };
  }

  watch(options: Parameters<ServerApi['watch']>[0]): ServerWatch {
    const watcher = this.watchable.watch(options);
    return {
      id: watcher.id,
      cancel: () => this.watchable.cancel(watcher),
      requestProgress: () => void this.watchable.requestProgress(watcher),
      [Symbol.asyncIterator]: () => watcher[Symbol.asyncIterator](),
    };
  }

  private armLease(lease: Lease): void {
    clearTimeout(lease.timer);
    lease.expiresAtMs = Date.now() + lease.grantedTtl * 1000;
    lease.timer = setTimeout(() => void this.expire(lease.id), lease.grantedTtl * 1000);
    lease.timer.unref();
  }

  private expire(id: bigint): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    clearTimeout(lease.timer);
    this.leases.delete(id);
    const keys = this.keysOf(id);
    if (keys.length === 0) return;
    this.kv.txn({
      success: keys.map((key) => ({ requestDeleteRange: { key } })),
    });
  }

  private keysOf(id: bigint): Uint8Array[] {
    const everything = this.kv.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    return everything.kvs.filter((kv) => BigInt(kv.lease) === id).map((kv) => kv.key);
  }

  async leaseGrant(ttlSeconds: number, id: bigint) {
    this.requireLeader();
    if (ttlSeconds > MAX_LEASE_TTL_SECONDS) throw new ServerError('lease-ttl-too-large');
    const leaseId = id === 0n ? this.nextLeaseId++ : id;
    if (this.leases.has(leaseId)) throw new ServerError('lease-exists');
    const grantedTtl = Math.max(ttlSeconds, 1);
    const lease: Lease = {
      id: leaseId,
      grantedTtl,
      expiresAtMs: 0,
      timer: setTimeout(() => {}, 0),
    };
    this.armLease(lease);
    this.leases.set(leaseId, lease);
    return { header: this.header(), id: leaseId, ttl: grantedTtl };
  }

  async leaseRevoke(id: bigint) {
    this.requireLeader();
    if (!this.leases.has(id)) throw new ServerError('lease-not-found');
    this.expire(id);
    return { header: this.header() };
  }

  async leaseKeepAlive(id: bigint) {
    this.requireLeader();
    const lease = this.leases.get(id);
    if (lease === undefined) throw new ServerError('lease-not-found');
    this.armLease(lease);
    return { header: this.header(), ttl: lease.grantedTtl };
  }

  async leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLiveResponse> {
    const lease = this.leases.get(id);
    if (lease === undefined) return { header: this.header(), id, ttl: -1, grantedTtl: 0, keys: [] };
    const ttl = Math.max(0, Math.ceil((lease.expiresAtMs - Date.now()) / 1000) - 1);
    return {
      header: this.header(),
      id,
      ttl,
      grantedTtl: lease.grantedTtl,
      keys: keys ? this.keysOf(id) : [],
    };
  }

  async leaseLeases() {
    return { header: this.header(), leases: [...this.leases.keys()] };
  }

  async memberList() {
    const member: Member = {
      id: LOCAL_MEMBER_ID,
      name: 'local',
      peerUrls: ['http://127.0.0.1:2380'],
      clientUrls: this.clientUrls,
      isLearner: false,
    };
    return { header: this.header(), members: [member] };
  }

  async status(): Promise<StatusResponse> {
    const index = this.backend.consistentIndex();
    const size = this.backend.size();
    return {
      header: this.header(),
      version: '3.5.0',
      dbSize: size.sizeBytes,
      dbSizeInUse: size.sizeInUseBytes,
      leader: this.hasLeader ? LOCAL_MEMBER_ID : 0n,
      raftIndex: index,
      raftTerm: RAFT_TERM,
      raftAppliedIndex: index,
      errors: [],
      isLearner: false,
    };
  }

  async hashKv(revision: number) {
    const { hash, compactRevision, hashRevision } = hashKv(this.kv, revision);
    return { header: this.header(), hash, compactRevision, hashRevision };
  }

  async alarmList() {
    return { header: this.header(), alarms: [] as AlarmMember[] };
  }

  async alarmDisarm() {
    return { header: this.header(), alarms: [] as AlarmMember[] };
  }

  async defragment() {
    await this.backend.reclaimSpace();
    return { header: this.header() };
  }

  /** As SigilMember's: the backend dump followed by its SHA-256. */
  snapshot(): AsyncIterable<Uint8Array> {
    return withSha256Trailer(this.backend.snapshot());
  }

  close(): void {
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    this.leases.clear();
  }
}
