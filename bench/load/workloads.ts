/**
 * The request each workload sends, and the keys it sends it to. Keys follow etcd's own benchmark
 * tool: the key index is written little-endian into a key of exactly `keySize` bytes, drawn at
 * random from the key space or walked sequentially; one random value buffer is reused for every
 * put so that value generation costs nothing during the run.
 */
import { randomBytes } from 'node:crypto';
import { op, type SigilClient } from '../../src/client/index.ts';

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

export function makeRequest(options: WorkloadOptions): Request {
  const value = randomBytes(options.valueSize);
  const keyIndex = options.sequentialKeys
    ? (sequence: number) => sequence % options.keySpaceSize
    : () => Math.floor(Math.random() * options.keySpaceSize);
  const key = (sequence: number): Buffer => keyOf(keyIndex(sequence), options.keySize);
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
