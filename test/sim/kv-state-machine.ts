/**
 * The small key-value state machine the simulated members replicate. Commands carry the client's
 * request id; a request applied twice (a duplicated MsgProp, say) takes effect once, as with etcd
 * client sessions, so the history stays about the operations clients actually issued.
 */
import { assert, utf8Decode, utf8Encode } from '../../src/base/index.ts';

export type KvCommand =
  | { readonly op: 'put'; readonly requestId: number; readonly key: string; readonly value: string }
  | {
      readonly op: 'cas';
      readonly requestId: number;
      readonly key: string;
      readonly expected: string | null;
      readonly value: string;
    }
  /** Written after the network heals, to prove the cluster commits again (liveness). */
  | { readonly op: 'probe'; readonly requestId: number };

export type KvResult =
  | { readonly op: 'put' }
  | { readonly op: 'cas'; readonly succeeded: boolean }
  | { readonly op: 'probe' };

export const encodeKvCommand = (command: KvCommand): Uint8Array =>
  utf8Encode(JSON.stringify(command));

export function decodeKvCommand(data: Uint8Array): KvCommand {
  const command = JSON.parse(utf8Decode(data)) as KvCommand;
  assert(typeof command.requestId === 'number', 'command without a request id');
  return command;
}

interface KvSnapshot {
  readonly values: [string, string][];
  readonly results: [number, KvResult][];
}

export class KvStateMachine {
  private readonly values = new Map<string, string>();
  /** The result of every request applied, by request id, to answer duplicates identically. */
  private readonly results = new Map<number, KvResult>();

  apply(command: KvCommand): KvResult {
    const previous = this.results.get(command.requestId);
    if (previous !== undefined) return previous;
    let result: KvResult;
    switch (command.op) {
      case 'put':
        this.values.set(command.key, command.value);
        result = { op: 'put' };
        break;
      case 'cas': {
        const succeeded = (this.values.get(command.key) ?? null) === command.expected;
        if (succeeded) this.values.set(command.key, command.value);
        result = { op: 'cas', succeeded };
        break;
      }
      case 'probe':
        result = { op: 'probe' };
        break;
    }
    this.results.set(command.requestId, result);
    return result;
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    const snapshot: KvSnapshot = { values: [...this.values], results: [...this.results] };
    return utf8Encode(JSON.stringify(snapshot));
  }

  static restore(data: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine();
    if (data.length === 0) return machine;
    const snapshot = JSON.parse(utf8Decode(data)) as KvSnapshot;
    for (const [key, value] of snapshot.values) machine.values.set(key, value);
    for (const [requestId, result] of snapshot.results) machine.results.set(requestId, result);
    return machine;
  }
}
