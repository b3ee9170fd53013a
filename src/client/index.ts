/** The TypeScript client for etcd's v3 API; the public surface of src/client. */
export { SigilClient, type SigilClientOptions, type GetOptions } from './sigil-client.ts';
export type { CallOptions } from './connection-pool.ts';
export {
  type Bytes,
  type KeyValue,
  type ResponseHeader,
  prefixRangeEnd,
  toBytes,
} from './convert.ts';
export { EtcdError, EtcdMessage, GrpcCode, ClientUsageError } from './errors.ts';
export type {
  KeyRangeOptions,
  RangeOptions,
  PutOptions,
  DeleteOptions,
  RangeResult,
  PutResult,
  DeleteResult,
  SortOrder,
  SortTarget,
} from './kv-requests.ts';
export {
  compare,
  op,
  TxnBuilder,
  type Compare,
  type CompareOperator,
  type CompareTarget,
  type Op,
  type OpResult,
  type TxnResult,
} from './txn.ts';
export { Watcher, type WatchEvent, type WatchOptions } from './watch.ts';
export { LeaseClient, LeaseKeeper, type LeaseGrant, type LeaseTimeToLive } from './lease.ts';
export { ClusterClient, type Member, type MemberList } from './cluster.ts';
export { MaintenanceClient, type MemberStatus, type HashKV, type Alarm } from './maintenance.ts';
