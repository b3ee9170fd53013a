/**
 * The request each workload sends, and the keys it sends it to. Keys follow etcd's own benchmark
 * tool: the key index is written little-endian into a key of exactly `keySize` bytes, drawn at
 * random from the key space or walked sequentially; one random value buffer is reused for every
 * put so that value generation costs nothing during the run.
 */
import { randomBytes } from 'node:crypto';
import { op, type SigilClient } from '../../src/client/index.ts';
import {
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnPutRequest,
  KV_PUT,
  KV_RANGE,
  KV_TXN,
  type LeanGrpcConnection,
} from './lean-grpc.ts';

export const WORKLOADS = ['put', 'range', 'txn-put'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface WorkloadOptions {
  readonly workload: Workload;
  readonly keySize: number;
  readonly valueSize: number;
  readonly keySpaceSize: number;
  readonly sequentialKeys: boolean;
  /** For range: serve from the member's local state (etcd's --consistency s). */
  readonly serializable: boolean;
}

export type Request = (client: SigilClient, sequence: number) => Promise<unknown>;

export function keyOf(index: number, keySize: number): Buffer {
  const key = Buffer.alloc(keySize);
  let rest = index;
  for (let i = 0; i < keySize && rest > 0; i++) {
    key[i] = rest & 0xff;
    rest = Math.floor(rest / 256);
  }
  return key;
}

function keyPicker(options: WorkloadOptions): (sequence: number) => Buffer {
  const keyIndex = options.sequentialKeys
    ? (sequence: number) => sequence % options.keySpaceSize
    : () => Math.floor(Math.random() * options.keySpaceSize);
  return (sequence) => keyOf(keyIndex(sequence), options.keySize);
}

export function makeRequest(options: WorkloadOptions): Request {
  const value = randomBytes(options.valueSize);
  const key = keyPicker(options);
  switch (options.workload) {
    case 'put':
      return (client, sequence) => client.put(key(sequence), value);
    case 'range':
      return (client, sequence) =>
        client.get(key(sequence), { serializable: options.serializable });
    case 'txn-put':
      return (client, sequence) =>
        client
          .txn()
          .success(op.put(key(sequence), value))
          .commit();
  }
}

export type LeanRequest = (connection: LeanGrpcConnection, sequence: number) => Promise<unknown>;

/** The same requests as makeRequest, hand-encoded for the lean HTTP/2 client. */
export function makeLeanRequest(options: WorkloadOptions): LeanRequest {
  const value = randomBytes(options.valueSize);
  const key = keyPicker(options);
  switch (options.workload) {
    case 'put':
      return (connection, sequence) =>
        connection.unary(KV_PUT, encodePutRequest(key(sequence), value));
    case 'range':
      return (connection, sequence) =>
        connection.unary(KV_RANGE, encodeRangeRequest(key(sequence), options.serializable));
    case 'txn-put':
      return (connection, sequence) =>
        connection.unary(KV_TXN, encodeTxnPutRequest(key(sequence), value));
  }
}
