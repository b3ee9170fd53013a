/**
 * Builds the plain objects the encoder (Type.encode) and the JSON gateway serialise. Only
 * non-default fields are set: proto3 leaves zero values off the wire and etcd's gateway leaves
 * them out of its JSON, so one object serves both and stays small.
 */
import type {
  DeleteRangeResponse,
  Event,
  KeyValue,
  PutResponse,
  RangeResponse,
} from '../mvcc/index.ts';
import type { TxnResponse } from '../mvcc/index.ts';
import type { ResponseHeader, WithHeader } from '../server/server-api.ts';
import { longOf, type Long } from './wire-values.ts';

export type WireMessage = Record<string, unknown>;

/** Cluster and member ids rarely change: keep the last conversion instead of redoing it. */
class IdCache {
  private id = -1n;
  private long: Long | undefined;

  get(id: bigint): Long | undefined {
    if (id === 0n) return undefined;
    if (id !== this.id) {
      this.id = id;
      this.long = longOf(id, true);
    }
    return this.long;
  }
}

const clusterIds = new IdCache();
const memberIds = new IdCache();

export function headerMessage(header: ResponseHeader, withRevision = true): WireMessage {
  const message: WireMessage = {};
  const clusterId = clusterIds.get(header.clusterId);
  if (clusterId !== undefined) message.cluster_id = clusterId;
  const memberId = memberIds.get(header.memberId);
  if (memberId !== undefined) message.member_id = memberId;
  if (withRevision && header.revision !== 0) message.revision = header.revision;
  if (header.raftTerm !== 0) message.raft_term = header.raftTerm;
  return message;
}

/** Responses nested in a txn carry only their revision, as etcd's do. */
function innerHeader(revision: number): WireMessage {
  return revision === 0 ? {} : { revision };
}

export function keyValueMessage(kv: KeyValue): WireMessage {
  const message: WireMessage = { key: kv.key };
  if (kv.createRevision !== 0) message.create_revision = kv.createRevision;
  if (kv.modRevision !== 0) message.mod_revision = kv.modRevision;
  if (kv.version !== 0) message.version = kv.version;
  if (kv.value.length !== 0) message.value = kv.value;
  if (kv.lease !== 0n) message.lease = longOf(kv.lease, false);
  return message;
}

function rangeBody(message: WireMessage, response: RangeResponse): WireMessage {
  if (response.kvs.length !== 0) message.kvs = response.kvs.map(keyValueMessage);
  if (response.more) message.more = true;
  if (response.count !== 0) message.count = response.count;
  return message;
}

function putBody(message: WireMessage, response: PutResponse): WireMessage {
  if (response.prevKv !== undefined) message.prev_kv = keyValueMessage(response.prevKv);
  return message;
}

function deleteBody(message: WireMessage, response: DeleteRangeResponse): WireMessage {
  if (response.deleted !== 0) message.deleted = response.deleted;
  if (response.prevKvs.length !== 0) message.prev_kvs = response.prevKvs.map(keyValueMessage);
  return message;
}

function txnBody(message: WireMessage, response: TxnResponse): WireMessage {
  if (response.succeeded) message.succeeded = true;
  if (response.responses.length === 0) return message;
  message.responses = response.responses.map((op): WireMessage => {
    if ('responseRange' in op) {
      const inner = op.responseRange;
      return { response_range: rangeBody({ header: innerHeader(inner.header.revision) }, inner) };
    }
    if ('responsePut' in op) {
      const inner = op.responsePut;
      return { response_put: putBody({ header: innerHeader(inner.header.revision) }, inner) };
    }
    if ('responseDeleteRange' in op) {
      const inner = op.responseDeleteRange;
      return {
        response_delete_range: deleteBody({ header: innerHeader(inner.header.revision) }, inner),
      };
    }
    const inner = op.responseTxn;
    return { response_txn: txnBody({ header: innerHeader(inner.header.revision) }, inner) };
  });
  return message;
}

export function rangeResponseMessage(response: WithHeader<RangeResponse>): WireMessage {
  return rangeBody({ header: headerMessage(response.header) }, response);
}

export function putResponseMessage(response: WithHeader<PutResponse>): WireMessage {
  return putBody({ header: headerMessage(response.header) }, response);
}

export function deleteRangeResponseMessage(response: WithHeader<DeleteRangeResponse>): WireMessage {
  return deleteBody({ header: headerMessage(response.header) }, response);
}

export function txnResponseMessage(response: WithHeader<TxnResponse>): WireMessage {
  return txnBody({ header: headerMessage(response.header) }, response);
}

export function eventMessage(event: Event): WireMessage {
  // PUT is the enum's zero value and stays implicit, as on etcd's wire.
  const message: WireMessage = { kv: keyValueMessage(event.kv) };
  if (event.type === 'DELETE') message.type = 1;
  if (event.prevKv !== undefined) message.prev_kv = keyValueMessage(event.prevKv);
  return message;
}
