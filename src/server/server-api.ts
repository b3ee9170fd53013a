/**
 * The narrow surface the client API (src/api) sees of a member. src/api decodes requests,
 * calls these methods and encodes what they return; it never reaches into raft, storage or the
 * MVCC store directly. Every response carries the header etcd clients expect.
 *
 * Expected failures are thrown as `ServerError` (a stable code plus etcd's exact message);
 * src/api/etcd-errors.ts maps the code to the gRPC status once. Anything else is a bug.
 */
import type {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WatchOptions,
  WatchResponse,
} from '../mvcc/index.ts';

/** etcdserverpb.ResponseHeader. Ids are full 64-bit values. */
export interface ResponseHeader {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly raftTerm: number;
}

export type WithHeader<T extends { header: unknown }> = Omit<T, 'header'> & {
  readonly header: ResponseHeader;
};

export interface Member {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** What a membership change answers: the member list after it. */
export interface MembersAnswer {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

export interface StatusResponse {
  readonly header: ResponseHeader;
  /** The etcd version this member reports (clients choose their API path from it). */
  readonly version: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly errors: readonly string[];
  readonly isLearner: boolean;
}

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly id: bigint;
  readonly ttl: number;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly id: bigint;
  /** Remaining seconds; -1 when the lease does not exist (etcd's convention). */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Uint8Array[];
}

export type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT';

export interface AlarmMember {
  readonly memberId: bigint;
  readonly alarm: AlarmType;
}

export interface HashKvResult {
  readonly header: ResponseHeader;
  readonly hash: number;
  readonly compactRevision: number;
  /** The revision the hash covers (etcd 3.6's hash_revision): the request's, or the current. */
  readonly hashRevision: number;
}

/** A watch registered with a member; responses arrive through the async iterator. */
export interface ServerWatch extends AsyncIterable<WatchResponse> {
  readonly id: number;
  cancel(): void;
  /** Asks for a progress notification (an empty response at the current revision). */
  requestProgress(): void;
}

export interface ServerApi {
  /** The header for responses that carry no revision of their own (current revision). */
  header(): ResponseHeader;

  range(request: RangeRequest): Promise<WithHeader<RangeResponse>>;
  put(request: PutRequest): Promise<WithHeader<PutResponse>>;
  deleteRange(request: DeleteRangeRequest): Promise<WithHeader<DeleteRangeResponse>>;
  txn(request: TxnRequest): Promise<WithHeader<TxnResponse>>;
  compact(request: CompactionRequest): Promise<{ readonly header: ResponseHeader }>;

  watch(options: WatchOptions & { readonly watchId?: number }): ServerWatch;

  leaseGrant(ttlSeconds: number, id: bigint): Promise<LeaseGrantResponse>;
  leaseRevoke(id: bigint): Promise<{ readonly header: ResponseHeader }>;
  /** Renews a lease; resolves with its TTL in seconds. Only the leader renews. */
  leaseKeepAlive(id: bigint): Promise<{ readonly header: ResponseHeader; readonly ttl: number }>;
  leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<{ readonly header: ResponseHeader; readonly leases: readonly bigint[] }>;

  memberList(linearizable: boolean): Promise<{
    readonly header: ResponseHeader;
    readonly members: readonly Member[];
  }>;

  /** Membership changes and leadership transfer; a server without them (a single in-memory
   *  test server) leaves them out and the API answers Unimplemented. */
  memberAdd?(
    peerUrls: readonly string[],
    isLearner: boolean,
  ): Promise<
    MembersAnswer & {
      readonly member: Member;
    }
  >;
  memberRemove?(id: bigint): Promise<MembersAnswer>;
  memberUpdate?(id: bigint, peerUrls: readonly string[]): Promise<MembersAnswer>;
  memberPromote?(id: bigint): Promise<MembersAnswer>;
  moveLeader?(targetId: bigint): Promise<{ readonly header: ResponseHeader }>;

  status(): Promise<StatusResponse>;
  hashKv(revision: number): Promise<HashKvResult>;
  alarmList(): Promise<{
    readonly header: ResponseHeader;
    readonly alarms: readonly AlarmMember[];
  }>;
  alarmDisarm(
    alarm: AlarmMember,
  ): Promise<{ readonly header: ResponseHeader; readonly alarms: readonly AlarmMember[] }>;
  defragment(): Promise<{ readonly header: ResponseHeader }>;
  /** The whole state as a stream of chunks: the backend's dump (Backend.snapshot()) followed
   *  by its 32-byte SHA-256. Maintenance.Snapshot turns it into etcd's format (src/backup). */
  snapshot(): AsyncIterable<Uint8Array>;

  /** Limits the API enforces before a request reaches the member. */
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
}

export type { KeyValue };
