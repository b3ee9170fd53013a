/**
 * etcd's stored records, as facts read from etcd 3.4 files:
 * - `key` bucket: key = main revision (8 bytes big-endian) + '_' + sub revision (8 bytes
 *   big-endian), plus a trailing 't' for a deletion; value = mvccpb.KeyValue {key 1,
 *   create_revision 2, mod_revision 3, version 4, value 5, lease 6}. A deletion stores only the key.
 * - `meta` bucket: `consistent_index` (8 bytes big-endian), `scheduledCompactRev` and
 *   `finishedCompactRev` (a revision key with sub 0).
 * - `lease` bucket: key = id (8 bytes big-endian), value = leasepb.Lease {ID 1, TTL 2}.
 * - `members` bucket: key = id in lowercase hex, value = JSON
 *   `{"id":<decimal>,"peerURLs":[…],"isLearner":true?,"name":…,"clientURLs":[…]}`.
 * - `alarm` bucket: key = etcdserverpb.AlarmMember {memberID 1, alarm 2}, empty value.
 * - `cluster` bucket: `clusterVersion` = "3.4.0"; `auth` bucket: `authRevision` (8 bytes).
 */
import { asInt64, ProtobufWriter, readFields } from './protobuf-wire.ts';

export class EtcdRecordError extends Error {
  override readonly name = 'EtcdRecordError';
}

export const ETCD_BUCKETS = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  members: 'members',
  membersRemoved: 'members_removed',
  cluster: 'cluster',
  alarm: 'alarm',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
} as const;

export const META_CONSISTENT_INDEX = 'consistent_index';
export const META_SCHEDULED_COMPACT = 'scheduledCompactRev';
export const META_FINISHED_COMPACT = 'finishedCompactRev';
export const CLUSTER_VERSION_KEY = 'clusterVersion';
/** What etcd 3.4 stores as its cluster version; 3.4 and 3.5 members both accept it. */
export const CLUSTER_VERSION = '3.4.0';
export const AUTH_REVISION_KEY = 'authRevision';
export const AUTH_ENABLED_KEY = 'authEnabled';

const REVISION_KEY_BYTES = 17;
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE = 0x74; // 't'

export interface EtcdRevision {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
}

export function encodeEtcdRevisionKey(main: number, sub: number, tombstone: boolean): Uint8Array {
  const bytes = new Uint8Array(REVISION_KEY_BYTES + (tombstone ? 1 : 0));
  const view = new DataView(bytes.buffer);
  // Revisions are safe integers: two 32-bit halves avoid a bigint per key.
  view.setUint32(0, Math.floor(main / 2 ** 32));
  view.setUint32(4, main >>> 0);
  bytes[8] = SEPARATOR;
  view.setUint32(9, Math.floor(sub / 2 ** 32));
  view.setUint32(13, sub >>> 0);
  if (tombstone) bytes[REVISION_KEY_BYTES] = TOMBSTONE;
  return bytes;
}

export function decodeEtcdRevisionKey(bytes: Uint8Array): EtcdRevision {
  const tombstone = bytes.length === REVISION_KEY_BYTES + 1;
  if (!(bytes.length === REVISION_KEY_BYTES || tombstone) || bytes[8] !== SEPARATOR) {
    throw new EtcdRecordError(`not a revision key: ${Buffer.from(bytes).toString('hex')}`);
  }
  if (tombstone && bytes[REVISION_KEY_BYTES] !== TOMBSTONE) {
    throw new EtcdRecordError('revision key with an unknown mark');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    main: safeNumber(view.getBigUint64(0), 'main revision'),
    sub: safeNumber(view.getBigUint64(9), 'sub revision'),
    tombstone,
  };
}

export interface EtcdKeyValue {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: bigint;
}

/** Tags, lengths and four varints of a KeyValue take at most this much beyond key and value. */
const KEY_VALUE_OVERHEAD_BYTES_MAX = 2 * 6 + 4 * 11;

export function encodeEtcdKeyValue(kv: EtcdKeyValue): Uint8Array {
  const writer = new ProtobufWriter(kv.key.length + kv.value.length + KEY_VALUE_OVERHEAD_BYTES_MAX);
  writer.bytesField(1, kv.key);
  writer.varintField(2, kv.createRevision);
  writer.varintField(3, kv.modRevision);
  writer.varintField(4, kv.version);
  writer.bytesField(5, kv.value);
  writer.varintField(6, kv.lease);
  return writer.finish();
}

export function decodeEtcdKeyValue(bytes: Uint8Array): EtcdKeyValue {
  let key: Uint8Array = new Uint8Array(0);
  let value: Uint8Array = new Uint8Array(0);
  const numbers = [0, 0, 0, 0];
  let lease = 0n;
  for (const field of readFields(bytes)) {
    if (field.field === 1 || field.field === 5) {
      if (field.wire !== 'bytes') throw new EtcdRecordError('KeyValue: key/value is not bytes');
      if (field.field === 1) key = field.value;
      else value = field.value;
    } else if (field.field >= 2 && field.field <= 4) {
      if (field.wire !== 'varint') throw new EtcdRecordError('KeyValue: revision is not a varint');
      numbers[field.field] = safeNumber(asInt64(field.value), 'KeyValue revision or version');
    } else if (field.field === 6) {
      if (field.wire !== 'varint') throw new EtcdRecordError('KeyValue: lease is not a varint');
      // Signed: etcd 3.4 grants any nonzero int64 id a client asks for, negative ones too.
      lease = asInt64(field.value);
    }
  }
  return {
    key,
    createRevision: numbers[2],
    modRevision: numbers[3],
    version: numbers[4],
    value,
    lease,
  };
}

export interface EtcdLease {
  readonly id: bigint;
  readonly ttlSeconds: number;
}

export function encodeEtcdLease(lease: EtcdLease): Uint8Array {
  const writer = new ProtobufWriter();
  writer.varintField(1, lease.id);
  writer.varintField(2, lease.ttlSeconds);
  return writer.finish();
}

export function decodeEtcdLease(bytes: Uint8Array): EtcdLease {
  let id = 0n;
  let ttlSeconds = 0;
  for (const field of readFields(bytes)) {
    if (field.wire !== 'varint') continue;
    if (field.field === 1) id = asInt64(field.value);
    if (field.field === 2) ttlSeconds = safeNumber(asInt64(field.value), 'lease TTL');
  }
  return { id, ttlSeconds };
}

export function encodeEtcdAlarm(memberId: bigint, alarm: number): Uint8Array {
  const writer = new ProtobufWriter();
  writer.varintField(1, memberId);
  writer.varintField(2, alarm);
  return writer.finish();
}

export interface EtcdMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** etcd's member JSON (Go's encoding of membership.Member): the id as a bare decimal number,
 *  which JSON.stringify cannot write for ids above 2^53. */
export function encodeEtcdMember(member: EtcdMember): Uint8Array {
  const parts = [`"id":${member.id.toString(10)}`, `"peerURLs":${JSON.stringify(member.peerUrls)}`];
  if (member.isLearner) parts.push('"isLearner":true');
  if (member.name !== '') parts.push(`"name":${JSON.stringify(member.name)}`);
  if (member.clientUrls.length > 0) parts.push(`"clientURLs":${JSON.stringify(member.clientUrls)}`);
  return new TextEncoder().encode(`{${parts.join(',')}}`);
}

export const etcdMemberKey = (id: bigint): Uint8Array => new TextEncoder().encode(id.toString(16));

export function encodeUint64BigEndian(value: number | bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

export function decodeUint64BigEndian(bytes: Uint8Array, what: string): number {
  if (bytes.length !== 8)
    throw new EtcdRecordError(`${what}: expected 8 bytes, got ${bytes.length}`);
  return safeNumber(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0), what);
}

function safeNumber(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new EtcdRecordError(`${what} out of range: ${value}`);
  }
  return Number(value);
}
