/**
 * KV clients through the ServerApi: put, linearizable get, serializable get and
 * compare-and-swap (a txn comparing the value, or the version 0 for absence) on a few keys,
 * every written value unique. Linearizable operations go into the history the
 * linearizability checker reads; serializable reads are only checked never to return a value
 * nobody wrote. Errors with a code that promises nothing was proposed are refusals; any other
 * error or a timeout leaves a write's outcome unknown.
 */
import type { Random } from '../../../src/base/index.ts';
import { isServerError, type SigilMember } from '../../../src/server/index.ts';
import type { HistoryOperation, KvInput, KvOutput } from '../checkers/linearizability.ts';
import type { ClientChannel } from './client-channel.ts';
import type { MemberProcess } from './member-process.ts';
import type { MemberWorldOptions } from './member-world-options.ts';

/** Codes that mean the request was refused before it was proposed. */
const DEFINITE_REFUSALS = new Set(['no-leader', 'too-many-requests', 'request-too-large']);

export const KV_PREFIX = 'k/';
export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

export interface WorkloadHost {
  readonly channel: ClientChannel;
  readonly processes: readonly MemberProcess[];
  trace(line: string): void;
  /** A revision some response carried: watchers start from around such revisions. */
  sawRevision(revision: number): void;
}

export class KvWorkload {
  readonly history: HistoryOperation[] = [];
  readonly serializableReads: { key: string; value: string | null; member: number }[] = [];
  /** Every value ever sent in a write, per key, acknowledged or not. */
  readonly written = new Map<string, Set<string>>();
  readonly keys: string[];
  private logicalTime = 0;
  private nextOperationId = 1;
  stopping = false;
  refused = 0;
  unknown = 0;

  constructor(
    private readonly host: WorkloadHost,
    private readonly options: MemberWorldOptions,
    private readonly random: Random,
  ) {
    this.keys = Array.from({ length: options.kvKeys }, (_, i) => `${KV_PREFIX}${i}`);
    for (const key of this.keys) this.written.set(key, new Set());
  }

  /** Runs every client to the end of its operations (or until stopped). */
  async run(): Promise<void> {
    const perClient = Math.ceil(this.options.kvOperations / this.options.kvClients);
    const clients = Array.from({ length: this.options.kvClients }, (_, clientId) =>
      this.runClient(clientId, perClient),
    );
    await Promise.all(clients);
  }

  private async runClient(clientId: number, operations: number): Promise<void> {
    const lastSeen = new Map<string, string | null>();
    let writes = 0;
    for (let i = 0; i < operations && !this.stopping; i++) {
      await this.host.channel.sleep(this.random.int(20));
      const key = this.keys[this.random.int(this.keys.length)];
      const roll = this.random.float();
      if (roll < this.options.serializableReadRate) {
        await this.serializableGet(clientId, key);
        continue;
      }
      const kind = this.random.int(3);
      let input: KvInput;
      if (kind === 0) input = { kind: 'get', key };
      else {
        const value = `c${clientId}v${++writes}`;
        this.written.get(key)!.add(value);
        if (kind === 1) input = { kind: 'put', key, value };
        else {
          const expected = this.random.chance(0.8) ? (lastSeen.get(key) ?? null) : null;
          input = { kind: 'cas', key, expected, value };
        }
      }
      const output = await this.execute(clientId, input);
      if (output === undefined) continue;
      if (output !== null && output.kind === 'get') lastSeen.set(key, output.value);
      if (input.kind !== 'get' && output !== null) {
        if (output.kind !== 'cas' || output.succeeded) lastSeen.set(key, input.value);
      }
    }
  }

  /** Linearizable reads of every key, retried until each has an answer (after healing). */
  async finalReads(clientId: number, deadlineMs: () => boolean): Promise<boolean> {
    for (const key of this.keys) {
      for (;;) {
        if (deadlineMs()) return false;
        const output = await this.execute(clientId, { kind: 'get', key });
        if (output !== undefined && output !== null) break;
        await this.host.channel.sleep(this.options.electionMs);
      }
    }
    return true;
  }

  private pickMember(): MemberProcess {
    const processes = this.host.processes;
    return processes[this.random.int(processes.length)];
  }

  /** Runs one operation; undefined when refused (not in the history), null when unknown. */
  private async execute(clientId: number, input: KvInput): Promise<KvOutput | null | undefined> {
    const target = this.pickMember();
    const operationId = this.nextOperationId++;
    const callAt = this.logicalTime++;
    this.host.trace(
      `call c${clientId} op${operationId} ${describeInput(input)} -> m${target.endpoint}`,
    );
    const outcome = await this.host.channel.call(
      clientId,
      target,
      (member) => invoke(member, input),
      this.options.clientTimeoutMs,
    );
    let output: KvOutput | null | undefined;
    if (outcome.kind === 'ok') {
      this.host.sawRevision(outcome.value.revision);
      output = outcome.value.output;
    } else if (outcome.kind === 'refused') output = undefined;
    else if (outcome.kind === 'error' && isServerError(outcome.error)) {
      output = DEFINITE_REFUSALS.has(outcome.error.code) ? undefined : null;
    } else if (outcome.kind === 'error') {
      // Not a ServerError: an MVCC error or a bug; either way the client learned nothing.
      this.host.trace(`unexpected error c${clientId} op${operationId}: ${String(outcome.error)}`);
      output = null;
    } else output = null;
    const label = outcome.kind === 'error' ? `error ${errorCode(outcome.error)}` : outcome.kind;
    this.host.trace(`reply c${clientId} op${operationId} ${label}`);
    if (output === undefined) {
      this.refused++;
      return undefined;
    }
    if (output === null) {
      this.unknown++;
      // A read that learned nothing tells nothing; a write may or may not have happened.
      if (input.kind === 'get') return null;
    }
    this.history.push({
      clientId,
      operationId,
      input,
      output,
      callAt,
      returnAt: output === null ? Infinity : this.logicalTime++,
    });
    return output;
  }

  private async serializableGet(clientId: number, key: string): Promise<void> {
    const target = this.pickMember();
    const outcome = await this.host.channel.call(
      clientId,
      target,
      async (member) => {
        const response = await member.range({ key: encode(key), serializable: true });
        return response.kvs.length === 0 ? null : decode(response.kvs[0].value);
      },
      this.options.clientTimeoutMs,
    );
    if (outcome.kind !== 'ok') return;
    this.serializableReads.push({ key, value: outcome.value, member: target.endpoint });
  }

  /** Serializable reads may be stale, never invented: each value must have been written. */
  checkSerializableReads(): string | null {
    for (const read of this.serializableReads) {
      if (read.value === null) continue;
      if (!this.written.get(read.key)?.has(read.value)) {
        return `m${read.member} returned ${read.key}=${read.value}, a value never written`;
      }
    }
    return null;
  }
}

async function invoke(
  member: SigilMember,
  input: KvInput,
): Promise<{ output: KvOutput; revision: number }> {
  const key = encode(input.key);
  if (input.kind === 'get') {
    const response = await member.range({ key });
    const value = response.kvs.length === 0 ? null : decode(response.kvs[0].value);
    return { output: { kind: 'get', value }, revision: response.header.revision };
  }
  if (input.kind === 'put') {
    const response = await member.put({ key, value: encode(input.value) });
    return { output: { kind: 'put' }, revision: response.header.revision };
  }
  const compare =
    input.expected === null
      ? { result: 'EQUAL' as const, target: 'VERSION' as const, key, version: 0 }
      : { result: 'EQUAL' as const, target: 'VALUE' as const, key, value: encode(input.expected) };
  const response = await member.txn({
    compare: [compare],
    success: [{ requestPut: { key, value: encode(input.value) } }],
  });
  return {
    output: { kind: 'cas', succeeded: response.succeeded },
    revision: response.header.revision,
  };
}

export function errorCode(error: unknown): string {
  if (isServerError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return 'unknown';
}

function describeInput(input: KvInput): string {
  if (input.kind === 'get') return `get ${input.key}`;
  if (input.kind === 'put') return `put ${input.key}=${input.value}`;
  return `cas ${input.key} ${input.expected ?? '-'}->${input.value}`;
}
