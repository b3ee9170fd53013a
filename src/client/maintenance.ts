/**
 * Maintenance calls. Status, HashKV and Defragment concern one member, so they take the endpoint
 * to ask; without one, the next channel's member answers.
 */
import type { CallOptions, ConnectionPool } from './connection-pool.ts';
import { type ResponseHeader, toBigInt, toHeader, uint64 } from './convert.ts';
import { toEtcdError } from './errors.ts';
import { method } from './proto.ts';
import type {
  Int64In,
  WireAlarmRequest,
  WireAlarmResponse,
  WireAlarmType,
  WireHashKVResponse,
  WireHeaderOnly,
  WireSnapshotResponse,
  WireStatusResponse,
} from './wire.ts';

type Empty = Record<string, never>;
const SERVICE = 'etcdserverpb.Maintenance';
const STATUS = method<Empty, WireStatusResponse>(SERVICE, 'Status');
const HASH_KV = method<{ revision?: Int64In }, WireHashKVResponse>(SERVICE, 'HashKV');
const ALARM = method<WireAlarmRequest, WireAlarmResponse>(SERVICE, 'Alarm');
const DEFRAGMENT = method<Empty, WireHeaderOnly>(SERVICE, 'Defragment');
const SNAPSHOT = method<Empty, WireSnapshotResponse>(SERVICE, 'Snapshot');

export interface MemberStatus {
  readonly header: ResponseHeader;
  readonly version: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly errors: string[];
  readonly isLearner: boolean;
}

export interface HashKV {
  readonly header: ResponseHeader;
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

export interface Alarm {
  readonly memberId: bigint;
  readonly alarm: WireAlarmType;
}

export class MaintenanceClient {
  constructor(private readonly pool: ConnectionPool) {}

  async status(options: CallOptions = {}): Promise<MemberStatus> {
    const response = await this.pool.unary(STATUS, {}, { idempotent: true, ...options });
    return {
      header: toHeader(response.header),
      version: response.version,
      dbSize: Number(response.dbSize),
      dbSizeInUse: Number(response.dbSizeInUse),
      leader: toBigInt(response.leader),
      raftIndex: Number(response.raftIndex),
      raftTerm: Number(response.raftTerm),
      raftAppliedIndex: Number(response.raftAppliedIndex),
      errors: response.errors,
      isLearner: response.isLearner,
    };
  }

  /** Hash of the MVCC keyspace up to `revision` (0 = newest), to compare members. */
  async hashKV(revision = 0, options: CallOptions = {}): Promise<HashKV> {
    const request = revision ? { revision } : {};
    const response = await this.pool.unary(HASH_KV, request, { idempotent: true, ...options });
    return {
      header: toHeader(response.header),
      hash: response.hash,
      compactRevision: Number(response.compact_revision),
      hashRevision: Number(response.hash_revision),
    };
  }

  async alarmList(options: CallOptions = {}): Promise<Alarm[]> {
    const request: WireAlarmRequest = { action: 'GET', alarm: 'NONE' };
    const response = await this.pool.unary(ALARM, request, { idempotent: true, ...options });
    return response.alarms.map((entry) => ({
      memberId: toBigInt(entry.memberID),
      alarm: entry.alarm,
    }));
  }

  /** Clears an alarm; memberId 0n and alarm NONE clear every alarm, like `etcdctl alarm disarm`. */
  async alarmDisarm(
    memberId = 0n,
    alarm: WireAlarmType = 'NONE',
    options: CallOptions = {},
  ): Promise<Alarm[]> {
    const request: WireAlarmRequest = { action: 'DEACTIVATE', memberID: uint64(memberId), alarm };
    const response = await this.pool.unary(ALARM, request, options);
    return response.alarms.map((entry) => ({
      memberId: toBigInt(entry.memberID),
      alarm: entry.alarm,
    }));
  }

  async defragment(options: CallOptions = {}): Promise<ResponseHeader> {
    const response = await this.pool.unary(DEFRAGMENT, {}, options);
    return toHeader(response.header);
  }

  /** Streams the member's backend snapshot as chunks of bytes. */
  async *snapshot(
    options: CallOptions & {
      /** Called with each message's remaining_bytes (database bytes still to come). */
      readonly onRemainingBytes?: (remainingBytes: number) => void;
    } = {},
  ): AsyncGenerator<Buffer> {
    const stream = this.pool.serverStream(SNAPSHOT, {}, options);
    try {
      for await (const chunk of stream as AsyncIterable<WireSnapshotResponse>) {
        options.onRemainingBytes?.(Number(chunk.remaining_bytes));
        if (chunk.blob.length > 0) yield chunk.blob;
      }
    } catch (error) {
      throw toEtcdError(error, SNAPSHOT.path);
    } finally {
      stream.cancel();
    }
  }
}
