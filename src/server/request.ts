/**
 * The internal requests a member proposes through raft, and their entry encoding.
 *
 * Encoding: one version byte, then JSON with two tagged forms so nothing is lost: bytes as
 * {"$b": base64} and 64-bit integers as {"$n": decimal}. JSON costs some bytes and CPU over a
 * hand-written binary codec, but it is self-describing, trivially extended with new request
 * kinds, and the same on every member (entries must decode identically forever).
 */
import { assert, BugError } from '../base/index.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  TxnRequest,
} from '../mvcc/index.ts';
import type { AlarmType } from './server-api.ts';

export type InternalRequest =
  | { readonly kind: 'put'; readonly put: PutRequest }
  | { readonly kind: 'deleteRange'; readonly deleteRange: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly txn: TxnRequest }
  | { readonly kind: 'compact'; readonly compact: CompactionRequest }
  | { readonly kind: 'leaseGrant'; readonly id: bigint; readonly ttlSeconds: number }
  | { readonly kind: 'leaseRevoke'; readonly id: bigint }
  /** A keepalive that reached a follower: applied, it renews the lease on the leader. */
  | { readonly kind: 'leaseRenew'; readonly id: bigint }
  | {
      readonly kind: 'alarm';
      readonly action: 'activate' | 'deactivate';
      readonly memberId: bigint;
      readonly alarm: AlarmType;
    }
  /** A member announces its name and client URLs (etcd's publish). */
  | {
      readonly kind: 'memberAttributes';
      readonly memberId: bigint;
      readonly name: string;
      readonly clientUrls: readonly string[];
    };

export interface ProposedRequest {
  /** Unique per cluster (see request-id.ts); matches an applied entry to its waiter. */
  readonly id: bigint;
  readonly request: InternalRequest;
}

const CODEC_VERSION = 1;

/** Tags bytes and bigints. Done before JSON.stringify because a Buffer (which callers may
 *  pass for a Uint8Array) would otherwise be turned into {type, data} by its toJSON. */
function tagged(value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) {
    return { $b: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(tagged);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (field !== undefined) out[key] = tagged(field);
    }
    return out;
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 1) return value;
  if (typeof record.$n === 'string') return BigInt(record.$n);
  if (typeof record.$b === 'string') return new Uint8Array(Buffer.from(record.$b, 'base64'));
  return value;
}

export function encodeRequest(proposed: ProposedRequest): Uint8Array {
  assert(proposed.id > 0n, 'a request id is positive');
  const json = JSON.stringify(tagged(proposed));
  const body = Buffer.from(json, 'utf8');
  const bytes = new Uint8Array(1 + body.length);
  bytes[0] = CODEC_VERSION;
  bytes.set(body, 1);
  return bytes;
}

/** Decodes a committed entry; anything malformed in a committed log is a bug. */
export function decodeRequest(bytes: Uint8Array): ProposedRequest {
  if (bytes.length < 2 || bytes[0] !== CODEC_VERSION) {
    throw new BugError(`unknown request encoding (version byte ${bytes[0]})`);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1).toString('utf8');
  const decoded = JSON.parse(text, reviver) as ProposedRequest;
  if (typeof decoded.id !== 'bigint' || typeof decoded.request?.kind !== 'string') {
    throw new BugError('a committed request lacks its id or kind');
  }
  return decoded;
}
