/**
 * One share of a benchmark run: a client with `conns` channels and `clients` concurrent request
 * loops issuing `total` requests. Runs in the main thread or in a worker thread; the caller merges
 * the shares. Warm-up (connecting every channel) happens before `start` resolves, so connection
 * set-up is never charged to the measured requests.
 */
import { SigilClient } from '../../src/client/index.ts';
import { LeanGrpcConnection, MAINTENANCE_STATUS } from './lean-grpc.ts';
import { makeLeanRequest, makeRequest, type WorkloadOptions } from './workloads.ts';

/** `lean`: hand-encoded requests on node:http2 (bench/load/lean-grpc.ts); `grpc-js`: the
 *  project's client library, as an application would call the server. */
export type LoadClient = 'lean' | 'grpc-js';

export interface LoadShare extends WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly total: number;
  readonly clients: number;
  readonly conns: number;
  /** The sequence number of this share's first request, so sequential keys do not overlap. */
  readonly firstSequence: number;
  /** Stop issuing new requests this long after the start (0 or absent: no time bound). */
  readonly maxSeconds?: number;
  readonly client: LoadClient;
}

export interface LoadResult {
  /** Latency of every successful request, in milliseconds. */
  readonly latenciesMs: Float64Array;
  readonly errors: number;
  readonly firstError: string | null;
  /** CPU the process spent while this share ran (user + system), in microseconds. */
  readonly cpuMicros: number;
  readonly durationSeconds: number;
}

export interface PreparedLoad {
  /** Issues the share's requests; resolves when all have completed. */
  run(): Promise<LoadResult>;
  close(): void;
}

/** Issues one request with sequence number `sequence`. */
type Issue = (sequence: number) => Promise<unknown>;

async function connectGrpcJs(share: LoadShare): Promise<{ issue: Issue; close: () => void }> {
  const client = new SigilClient({
    endpoints: share.endpoints,
    connections: share.conns,
    commandTimeoutMs: 30_000,
  });
  const request = makeRequest(share);
  await Promise.all(Array.from({ length: share.conns }, () => client.maintenance.status()));
  return { issue: (sequence) => request(client, sequence), close: () => client.close() };
}

/** `conns` connections spread over the endpoints, used round-robin per request as the
 *  project's client does, so both clients load the members alike. */
async function connectLean(share: LoadShare): Promise<{ issue: Issue; close: () => void }> {
  const count = Math.max(share.conns, share.endpoints.length);
  const connections = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      LeanGrpcConnection.connect(share.endpoints[i % share.endpoints.length]),
    ),
  );
  // Warm each connection (and check the endpoint speaks etcd's API) before the clock starts.
  await Promise.all(connections.map((c) => c.unary(MAINTENANCE_STATUS, new Uint8Array(0))));
  const request = makeLeanRequest(share);
  let cursor = 0;
  return {
    issue: (sequence) => request(connections[cursor++ % connections.length], sequence),
    close: () => connections.forEach((connection) => connection.close()),
  };
}

export async function prepareLoad(share: LoadShare): Promise<PreparedLoad> {
  const { issue, close } =
    share.client === 'lean' ? await connectLean(share) : await connectGrpcJs(share);
  const run = async (): Promise<LoadResult> => {
    const latenciesMs = new Float64Array(share.total);
    let recorded = 0;
    let issued = 0;
    let errors = 0;
    let firstError: string | null = null;
    const startedNs = process.hrtime.bigint();
    const startedCpu = process.cpuUsage();
    const maxSeconds = share.maxSeconds ?? 0;
    const deadlineNs = maxSeconds > 0 ? startedNs + BigInt(Math.round(maxSeconds * 1e9)) : null;
    const loop = async (): Promise<void> => {
      while (issued < share.total) {
        if (deadlineNs !== null && process.hrtime.bigint() >= deadlineNs) return;
        const sequence = share.firstSequence + issued++;
        const sentNs = process.hrtime.bigint();
        try {
          await issue(sequence);
          latenciesMs[recorded++] = Number(process.hrtime.bigint() - sentNs) / 1e6;
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(share.clients, share.total) }, loop));
    const cpu = process.cpuUsage(startedCpu);
    return {
      latenciesMs: latenciesMs.subarray(0, recorded),
      errors,
      firstError,
      cpuMicros: cpu.user + cpu.system,
      durationSeconds: Number(process.hrtime.bigint() - startedNs) / 1e9,
    };
  };
  return { run, close };
}
