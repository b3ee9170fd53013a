/**
 * Simulated clients: each runs one operation at a time (put, get or compare-and-swap on a few
 * keys, every written value unique), sends it to the member it believes leads, and gives up after
 * a timeout as real clients do. A refusal is definite (the request was never proposed); a timeout
 * is not (the write may still take effect), so it enters the history with an unknown outcome.
 * The next attempt is a new operation with a new id, never a resend.
 */
import { assert, type Random } from '../../src/base/index.ts';
import type { HistoryOperation, KvInput, KvOutput } from './checkers/linearizability.ts';
import type { KvCommand } from './kv-state-machine.ts';
import type { SimOptions } from './options-swarm.ts';
import type { ClientReply, ClientRequest } from './sim-member.ts';
import type { World } from './world.ts';

export interface WorkloadHost {
  readonly world: World;
  /** Members a client may contact (every member not removed). */
  memberIds(): readonly number[];
  /** Sends `request` to `member`; the reply, if any, comes back through `Workload.onReply`. */
  sendRequest(member: number, request: ClientRequest): void;
  /** A client was told its write at `index`@`term` succeeded. */
  onAcknowledged(index: number, term: number): void;
}

interface InFlight {
  readonly operationId: number;
  readonly requestId: number;
  readonly input: KvInput;
  readonly callAt: number;
  readonly member: number;
}

class SimClient {
  inFlight: InFlight | null = null;
  remaining: number;
  leaderGuess = -1;
  writes = 0;
  /** The last value this client saw per key, to aim compare-and-swap at something plausible. */
  readonly lastSeen = new Map<string, string | null>();

  constructor(
    readonly clientId: number,
    operations: number,
    /** The final reader retries until it has read every key once. */
    readonly finalKeys: string[] | null,
  ) {
    this.remaining = operations;
  }
}

export class Workload {
  readonly history: HistoryOperation[] = [];
  private readonly clients: SimClient[] = [];
  private readonly keys: string[];
  private logicalTime = 0;
  private nextRequestId = 1;
  private nextOperationId = 1;
  private stopping = false;
  private finalReader: SimClient | null = null;
  private onFinalReadsDone: (() => void) | null = null;
  /** Operations answered with a definite refusal (not in the history). */
  refused = 0;
  timedOut = 0;

  constructor(
    private readonly host: WorkloadHost,
    private readonly options: SimOptions,
    private readonly random: Random,
  ) {
    this.keys = Array.from({ length: options.keyCount }, (_, i) => `k${i}`);
    const perClient = Math.ceil(options.operationCount / options.clientCount);
    for (let i = 0; i < options.clientCount; i++)
      this.clients.push(new SimClient(i, perClient, null));
  }

  start(): void {
    for (const client of this.clients) this.scheduleNext(client);
  }

  /** True once every regular client has used up its operations. */
  get regularClientsDone(): boolean {
    return this.clients.every((client) => client.remaining === 0 && client.inFlight === null);
  }

  /** Stops the regular clients and reads every key once through a linearizable read. */
  startFinalReads(done: () => void): void {
    assert(this.finalReader === null, 'final reads start once');
    this.stopping = true;
    const reader = new SimClient(this.clients.length, Infinity, [...this.keys]);
    this.finalReader = reader;
    this.onFinalReadsDone = done;
    this.clients.push(reader);
    this.issue(reader);
  }

  /** Outstanding operations at the end of the run have unknown outcomes. */
  finish(): void {
    for (const client of this.clients) {
      const inFlight = client.inFlight;
      if (inFlight === null) continue;
      client.inFlight = null;
      this.record(client, inFlight, null);
    }
  }

  private scheduleNext(client: SimClient, backoffMs = 0): void {
    const thinkMs =
      this.options.thinkMsMax === 0 ? 0 : this.random.int(this.options.thinkMsMax + 1);
    this.host.world.schedule(thinkMs + backoffMs, () => this.issue(client));
  }

  private issue(client: SimClient): void {
    if (client.inFlight !== null) return;
    if (client.finalKeys === null && (this.stopping || client.remaining === 0)) return;
    if (client.finalKeys !== null && client.finalKeys.length === 0) return;
    const input = this.drawInput(client);
    const members = this.host.memberIds();
    if (members.length === 0) return;
    const member =
      client.leaderGuess >= 0 && members.includes(client.leaderGuess)
        ? client.leaderGuess
        : members[this.random.int(members.length)];
    const inFlight: InFlight = {
      operationId: this.nextOperationId++,
      requestId: this.nextRequestId++,
      input,
      callAt: this.logicalTime++,
      member,
    };
    client.inFlight = inFlight;
    client.remaining--;
    this.host.world.trace.record(
      this.host.world.nowMs,
      `call c${client.clientId} op${inFlight.operationId} ${describeInput(input)} -> m${member}`,
    );
    this.host.sendRequest(member, this.toRequest(client, inFlight));
    const timeoutMs = this.options.clientTimeoutMs;
    this.host.world.schedule(timeoutMs, () => this.onTimeout(client, inFlight.requestId));
  }

  private drawInput(client: SimClient): KvInput {
    if (client.finalKeys !== null) return { kind: 'get', key: client.finalKeys[0] };
    const key = this.keys[this.random.int(this.keys.length)];
    const roll = this.random.int(100);
    if (roll < 35) return { kind: 'get', key };
    const value = `c${client.clientId}v${++client.writes}`;
    if (roll < 70) return { kind: 'put', key, value };
    // Mostly compare against what this client last saw, sometimes against absence.
    const expected = this.random.chance(0.8) ? (client.lastSeen.get(key) ?? null) : null;
    return { kind: 'cas', key, expected, value };
  }

  private toRequest(client: SimClient, inFlight: InFlight): ClientRequest {
    const { input, requestId } = inFlight;
    if (input.kind === 'get') {
      return { kind: 'read', requestId, clientId: client.clientId, key: input.key };
    }
    const command: KvCommand =
      input.kind === 'put'
        ? { op: 'put', requestId, key: input.key, value: input.value }
        : { op: 'cas', requestId, key: input.key, expected: input.expected, value: input.value };
    return { kind: 'write', requestId, clientId: client.clientId, command };
  }

  onReply(reply: ClientReply): void {
    const client = this.clients[reply.clientId];
    const inFlight = client.inFlight;
    if (inFlight === null || inFlight.requestId !== reply.requestId) return; // Too late.
    client.inFlight = null;
    const outcome = reply.outcome;
    this.host.world.trace.record(
      this.host.world.nowMs,
      `reply c${client.clientId} op${inFlight.operationId} ${outcome.ok ? describeOutput(outcome.output) : `refused ${outcome.reason}`}`,
    );
    if (!outcome.ok) {
      this.refused++;
      client.leaderGuess = outcome.leaderHint > 0 ? outcome.leaderHint : -1;
      // The operation never happened; the client backs off, as real clients do while a
      // cluster elects, and moves on (a final reader tries the same key again).
      const electionMs = this.options.tickMs * this.options.electionTicks;
      this.scheduleNext(client, 1 + this.random.int(electionMs));
      return;
    }
    client.leaderGuess = inFlight.member;
    this.record(client, inFlight, outcome.output);
    if (inFlight.input.kind !== 'get') this.host.onAcknowledged(outcome.index, outcome.term);
    this.noteSeen(client, inFlight.input, outcome.output);
    if (client.finalKeys !== null) {
      client.finalKeys.shift();
      if (client.finalKeys.length === 0) {
        this.onFinalReadsDone?.();
        return;
      }
    }
    this.scheduleNext(client);
  }

  private onTimeout(client: SimClient, requestId: number): void {
    const inFlight = client.inFlight;
    if (inFlight === null || inFlight.requestId !== requestId) return;
    client.inFlight = null;
    this.timedOut++;
    this.host.world.trace.record(
      this.host.world.nowMs,
      `timeout c${client.clientId} op${inFlight.operationId}`,
    );
    this.record(client, inFlight, null);
    client.leaderGuess = -1;
    this.scheduleNext(client);
  }

  private noteSeen(client: SimClient, input: KvInput, output: KvOutput): void {
    if (output.kind === 'get') client.lastSeen.set(input.key, output.value);
    else if (input.kind === 'put') client.lastSeen.set(input.key, input.value);
    else if (input.kind === 'cas' && output.kind === 'cas' && output.succeeded) {
      client.lastSeen.set(input.key, input.value);
    }
  }

  private record(client: SimClient, inFlight: InFlight, output: KvOutput | null): void {
    this.history.push({
      clientId: client.clientId,
      operationId: inFlight.operationId,
      input: inFlight.input,
      output,
      callAt: inFlight.callAt,
      returnAt: output === null ? Infinity : this.logicalTime++,
    });
  }
}

function describeInput(input: KvInput): string {
  if (input.kind === 'get') return `get ${input.key}`;
  if (input.kind === 'put') return `put ${input.key}=${input.value}`;
  return `cas ${input.key} ${input.expected ?? '-'}->${input.value}`;
}

function describeOutput(output: KvOutput): string {
  if (output.kind === 'get') return `value ${output.value ?? '-'}`;
  if (output.kind === 'cas') return output.succeeded ? 'swapped' : 'not swapped';
  return 'ok';
}
