/**
 * Concurrent KV clients for a chaos run: linearizable reads, puts and compare-and-swaps (a txn
 * comparing the value, or version 0 for "absent") on a small set of keys, every written value
 * unique. Each operation goes to a member picked at random, over that client's own connections.
 *
 * Keys rotate so the linearizability checker's per-key histories stay small: slot s uses key
 * `k/<s>/<generation>` and moves to the next generation after `operationsPerKey` operations
 * (Jepsen's "independent keys"). Successful writes are timestamped, so the run can report the
 * longest stretch without one.
 */
import type { Random } from '../../src/base/index.ts';
import { compare, EtcdError, op, SigilClient } from '../../src/client/index.ts';
import type { KvInput, KvOutput } from '../sim/checkers/linearizability.ts';
import type { HistoryRecorder } from './history.ts';

export const KEY_PREFIX = 'k/';

export interface KvWorkloadOptions {
  readonly clients: number;
  readonly slots: number;
  readonly operationsPerKey: number;
  /** Deadline of one operation. */
  readonly operationTimeoutMs: number;
  /** Pause between a client's operations, drawn from [0, thinkMs). */
  readonly thinkMs: number;
  /** Fraction of reads, puts and cas; they need not sum to 1 (they are weights). */
  readonly mix: { readonly get: number; readonly put: number; readonly cas: number };
}

export function slotKey(slot: number, generation: number): string {
  return `${KEY_PREFIX}${slot}/${String(generation).padStart(6, '0')}`;
}

export class KvWorkload {
  private readonly generation: number[];
  private readonly operationsOnKey: number[];
  private stopping = false;
  private readonly clients: SigilClient[] = [];
  /** Completion times (ms) of successful writes, in order. */
  readonly writeCompletionsMs: number[] = [];
  /** Every value a client ever tried to write, per key (acknowledged or not). */
  readonly attempted = new Map<string, Set<string>>();

  constructor(
    private readonly endpoints: readonly string[],
    private readonly history: HistoryRecorder,
    private readonly options: KvWorkloadOptions,
    private readonly random: Random,
  ) {
    this.generation = Array.from({ length: options.slots }, () => 0);
    this.operationsOnKey = Array.from({ length: options.slots }, () => 0);
  }

  /** Runs every client until stop() is called. */
  async run(): Promise<void> {
    const runs: Promise<void>[] = [];
    for (let clientId = 0; clientId < this.options.clients; clientId++) {
      const client = new SigilClient({
        endpoints: [...this.endpoints],
        dialTimeoutMs: 1_000,
        commandTimeoutMs: this.options.operationTimeoutMs,
      });
      this.clients.push(client);
      runs.push(this.runClient(clientId, client));
    }
    await Promise.all(runs);
    for (const client of this.clients) client.close();
  }

  stop(): void {
    this.stopping = true;
  }

  /** Every key the workload has used so far. */
  keysUsed(): string[] {
    const keys: string[] = [];
    for (let slot = 0; slot < this.options.slots; slot++) {
      for (let generation = 0; generation <= this.generation[slot]; generation++) {
        keys.push(slotKey(slot, generation));
      }
    }
    return keys;
  }

  private nextKey(): string {
    const slot = this.random.int(this.options.slots);
    if (++this.operationsOnKey[slot] > this.options.operationsPerKey) {
      this.generation[slot]++;
      this.operationsOnKey[slot] = 1;
    }
    return slotKey(slot, this.generation[slot]);
  }

  private drawInput(
    clientId: number,
    key: string,
    serial: number,
    lastSeen: Map<string, string | null>,
  ): KvInput {
    const { get, put, cas } = this.options.mix;
    const roll = this.random.float() * (get + put + cas);
    if (roll < get) return { kind: 'get', key };
    const value = `c${clientId}-${serial}`;
    let values = this.attempted.get(key);
    if (values === undefined) this.attempted.set(key, (values = new Set()));
    values.add(value);
    if (roll < get + put) return { kind: 'put', key, value };
    const expected = this.random.chance(0.85) ? (lastSeen.get(key) ?? null) : `c${clientId}-none`;
    return { kind: 'cas', key, expected, value };
  }

  private async runClient(clientId: number, client: SigilClient): Promise<void> {
    const lastSeen = new Map<string, string | null>();
    let serial = 0;
    while (!this.stopping) {
      if (this.options.thinkMs > 0) await sleep(this.random.int(this.options.thinkMs));
      const key = this.nextKey();
      const input = this.drawInput(clientId, key, ++serial, lastSeen);
      const endpoint = this.endpoints[this.random.int(this.endpoints.length)];
      const record = this.history.invoke(clientId, input);
      try {
        const { output, revision } = await execute(client, endpoint, input);
        this.history.complete(record, output, revision);
        if (output.kind === 'get') lastSeen.set(key, output.value);
        else if (input.kind !== 'get' && (output.kind !== 'cas' || output.succeeded)) {
          lastSeen.set(key, input.value);
          this.writeCompletionsMs.push(Date.now());
        }
      } catch (error) {
        this.history.fail(record, EtcdError.is(error) ? error.message : String(error));
      }
    }
  }
}

async function execute(
  client: SigilClient,
  endpoint: string,
  input: KvInput,
): Promise<{ output: KvOutput; revision: number }> {
  if (input.kind === 'get') {
    const result = await client.get(input.key, { endpoint });
    const value = result.kvs.length === 0 ? null : result.kvs[0].value.toString();
    return { output: { kind: 'get', value }, revision: result.header.revision };
  }
  if (input.kind === 'put') {
    const result = await client.put(input.key, input.value, { endpoint });
    return { output: { kind: 'put' }, revision: result.header.revision };
  }
  const guard =
    input.expected === null
      ? compare(input.key, 'version', '=', 0)
      : compare(input.key, 'value', '=', input.expected);
  const result = await client
    .txn({ endpoint })
    .when(guard)
    .success(op.put(input.key, input.value))
    .commit();
  return {
    output: { kind: 'cas', succeeded: result.succeeded },
    revision: result.header.revision,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
