/**
 * etcd's v3 messages as the protocol loader presents them (see proto.ts): field names as in the
 * .proto files, int64/uint64 as decimal strings (inputs may also be numbers), bytes as Buffer,
 * enums by name, absent scalars filled with zero values. Only the messages the client sends or
 * receives are declared; requests list fields as optional because proto3 omits zero values.
 */
export type Int64In = string | number;
export type BytesIn = Uint8Array;

export interface WireHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

export interface WireKeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  lease: string;
}

export type WireSortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type WireSortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface WireRangeRequest {
  key: BytesIn;
  range_end?: BytesIn;
  limit?: Int64In;
  revision?: Int64In;
  sort_order?: WireSortOrder;
  sort_target?: WireSortTarget;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: Int64In;
  max_mod_revision?: Int64In;
  min_create_revision?: Int64In;
  max_create_revision?: Int64In;
}

export interface WireRangeResponse {
  header: WireHeader;
  kvs: WireKeyValue[];
  more: boolean;
  count: string;
}

export interface WirePutRequest {
  key: BytesIn;
  value?: BytesIn;
  lease?: Int64In;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface WirePutResponse {
  header: WireHeader;
  prev_kv?: WireKeyValue | null;
}

export interface WireDeleteRangeRequest {
  key: BytesIn;
  range_end?: BytesIn;
  prev_kv?: boolean;
}

export interface WireDeleteRangeResponse {
  header: WireHeader;
  deleted: string;
  prev_kvs: WireKeyValue[];
}

export type WireRequestOp =
  | { request_range: WireRangeRequest }
  | { request_put: WirePutRequest }
  | { request_delete_range: WireDeleteRangeRequest }
  | { request_txn: WireTxnRequest };

export interface WireResponseOp {
  response?: 'response_range' | 'response_put' | 'response_delete_range' | 'response_txn';
  response_range?: WireRangeResponse;
  response_put?: WirePutResponse;
  response_delete_range?: WireDeleteRangeResponse;
  response_txn?: WireTxnResponse;
}

export type WireCompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type WireCompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

export interface WireCompare {
  result: WireCompareResult;
  target: WireCompareTarget;
  key: BytesIn;
  range_end?: BytesIn;
  version?: Int64In;
  create_revision?: Int64In;
  mod_revision?: Int64In;
  value?: BytesIn;
  lease?: Int64In;
}

export interface WireTxnRequest {
  compare: WireCompare[];
  success: WireRequestOp[];
  failure: WireRequestOp[];
}

export interface WireTxnResponse {
  header: WireHeader;
  succeeded: boolean;
  responses: WireResponseOp[];
}

export interface WireCompactionRequest {
  revision: Int64In;
  physical?: boolean;
}

export interface WireHeaderOnly {
  header: WireHeader;
}

export type WireFilterType = 'NOPUT' | 'NODELETE';

export interface WireWatchCreateRequest {
  key: BytesIn;
  range_end?: BytesIn;
  start_revision?: Int64In;
  progress_notify?: boolean;
  filters?: WireFilterType[];
  prev_kv?: boolean;
  watch_id?: Int64In;
  fragment?: boolean;
}

export type WireWatchRequest =
  | { create_request: WireWatchCreateRequest }
  | { cancel_request: { watch_id: Int64In } }
  | { progress_request: Record<string, never> };

export interface WireEvent {
  type: 'PUT' | 'DELETE';
  kv: WireKeyValue | null;
  prev_kv: WireKeyValue | null;
}

export interface WireWatchResponse {
  header: WireHeader;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: WireEvent[];
}

export interface WireLeaseGrantResponse {
  header: WireHeader;
  ID: string;
  TTL: string;
  error: string;
}

export interface WireLeaseKeepAliveResponse {
  header: WireHeader;
  ID: string;
  TTL: string;
}

export interface WireLeaseTimeToLiveResponse {
  header: WireHeader;
  ID: string;
  TTL: string;
  grantedTTL: string;
  keys: Buffer[];
}

export interface WireLeaseLeasesResponse {
  header: WireHeader;
  leases: { ID: string }[];
}

export interface WireMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface WireMemberListResponse {
  header: WireHeader;
  members: WireMember[];
}

export interface WireStatusResponse {
  header: WireHeader;
  version: string;
  dbSize: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  raftAppliedIndex: string;
  errors: string[];
  dbSizeInUse: string;
  isLearner: boolean;
}

export interface WireHashKVResponse {
  header: WireHeader;
  hash: number;
  compact_revision: string;
  hash_revision: string;
}

export type WireAlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT';

export interface WireAlarmRequest {
  action: 'GET' | 'ACTIVATE' | 'DEACTIVATE';
  memberID?: Int64In;
  alarm?: WireAlarmType;
}

export interface WireAlarmResponse {
  header: WireHeader;
  alarms: { memberID: string; alarm: WireAlarmType }[];
}

export interface WireSnapshotResponse {
  header: WireHeader | null;
  remaining_bytes: string;
  blob: Buffer;
  version: string;
}
