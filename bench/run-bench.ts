/**
 * Load generator for any etcd v3 endpoint (Sigil KV or etcd), built on the project's client so
 * both servers are measured by the same tool. Modelled on etcd's `benchmark` command.
 *
 *   npm run bench -- put --endpoints 127.0.0.1:2379 --clients 100 --conns 10 --total 10000
 *   npm run bench -- range --consistency s --json
 */
import { Worker } from 'node:worker_threads';
import { Command, Option } from 'commander';
import { summarizeLatencies, type LatencySummary } from './load/latency-recorder.ts';
import {
  type LoadClient,
  type LoadResult,
  type LoadShare,
  prepareLoad,
} from './load/load-runner.ts';
import { WORKLOADS, type Workload } from './load/workloads.ts';

interface BenchOptions {
  endpoints: string;
  keySize: string;
  valSize: string;
  total: string;
  clients: string;
  conns: string;
  keySpaceSize: string;
  sequentialKeys?: boolean;
  consistency: string;
  workers: string;
  client: LoadClient;
  maxSeconds: string;
  json?: boolean;
}

interface BenchReport {
  readonly workload: Workload;
  readonly endpoints: string[];
  readonly total: number;
  /** Requests that completed (successfully or not): fewer than total when --max-seconds hit. */
  readonly completed: number;
  readonly clients: number;
  readonly conns: number;
  readonly workers: number;
  readonly client: LoadClient;
  readonly keySize: number;
  readonly valueSize: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly latency: LatencySummary;
  /** CPU the load generator itself spent per request (user + system), to bound its overhead. */
  readonly clientCpuMicrosPerRequest: number;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} must be a positive integer`);
  }
  return value;
}

/** Splits `amount` into `parts` near-equal integers (the first ones get the remainder). */
function split(amount: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(amount / parts) + (i < amount % parts ? 1 : 0),
  );
}

/** Runs every share in its own worker thread, starting them together once all are connected. */
async function runInWorkers(shares: LoadShare[]): Promise<LoadResult[]> {
  // Node 20 does not run `--import tsx` in worker threads, so each worker registers tsx itself
  // before loading the TypeScript entry.
  const entry = new URL('./load/bench-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  const workers = shares.map((share) => new Worker(bootstrap, { eval: true, workerData: share }));
  const messageFrom = <T>(worker: Worker): Promise<T> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  try {
    await Promise.all(workers.map((worker) => messageFrom<string>(worker)));
    const results = workers.map((worker) => messageFrom<LoadResult>(worker));
    for (const worker of workers) worker.postMessage('go');
    return await Promise.all(results);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

async function runInThisThread(share: LoadShare): Promise<LoadResult> {
  const load = await prepareLoad(share);
  try {
    return await load.run();
  } finally {
    load.close();
  }
}

async function runBench(workload: Workload, options: BenchOptions): Promise<BenchReport> {
  const total = positiveInteger('total', options.total);
  const clients = positiveInteger('clients', options.clients);
  const conns = positiveInteger('conns', options.conns);
  const workers = positiveInteger('workers', options.workers);
  if (workers > Math.min(clients, conns)) {
    throw new Error('--workers may not exceed --clients or --conns (each worker needs both)');
  }
  const keySize = positiveInteger('key-size', options.keySize);
  const valueSize = Number(options.valSize);
  const endpoints = options.endpoints.split(',').filter((entry) => entry !== '');
  const totals = split(total, workers);
  const clientCounts = split(clients, workers);
  const connCounts = split(conns, workers);
  const shares: LoadShare[] = totals.map((shareTotal, i) => ({
    workload,
    keySize,
    valueSize,
    keySpaceSize: positiveInteger('key-space-size', options.keySpaceSize),
    sequentialKeys: options.sequentialKeys === true,
    serializable: options.consistency === 's',
    endpoints,
    total: shareTotal,
    clients: clientCounts[i],
    conns: connCounts[i],
    firstSequence: totals.slice(0, i).reduce((sum, value) => sum + value, 0),
    maxSeconds: Number(options.maxSeconds),
    client: options.client,
  }));
  const results = workers === 1 ? [await runInThisThread(shares[0])] : await runInWorkers(shares);
  const errors = results.reduce((sum, result) => sum + result.errors, 0);
  const durationSeconds = Math.max(...results.map((result) => result.durationSeconds));
  // process.cpuUsage() is process-wide even inside a worker, and the shares run concurrently, so
  // the largest reading covers the whole run; summing would count it once per worker.
  const cpuMicros = Math.max(...results.map((result) => result.cpuMicros));
  const succeeded = results.reduce((sum, result) => sum + result.latenciesMs.length, 0);
  const completed = succeeded + errors;
  return {
    workload,
    endpoints,
    total,
    completed,
    clients,
    conns,
    workers,
    client: options.client,
    keySize,
    valueSize,
    durationSeconds,
    requestsPerSecond: succeeded / durationSeconds,
    errors,
    firstError: results.find((result) => result.firstError !== null)?.firstError ?? null,
    latency: summarizeLatencies(results.map((result) => result.latenciesMs)),
    clientCpuMicrosPerRequest: cpuMicros / Math.max(1, completed),
  };
}

function printReport(report: BenchReport): void {
  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  const lines = [
    `workload ${report.workload} on ${report.endpoints.join(',')}: ${report.total} requests, ` +
      `(${report.completed} completed), ${report.clients} clients, ${report.conns} conns, ${report.workers} workers (${report.client}), key ${report.keySize} B, value ${report.valueSize} B`,
    `  total      ${report.durationSeconds.toFixed(3)} s`,
    `  requests/s ${report.requestsPerSecond.toFixed(1)}`,
    `  latency    p50 ${ms(report.latency.p50Ms)}  p90 ${ms(report.latency.p90Ms)}  ` +
      `p99 ${ms(report.latency.p99Ms)}  max ${ms(report.latency.maxMs)}  mean ${ms(report.latency.meanMs)}`,
    `  client cpu ${report.clientCpuMicrosPerRequest.toFixed(0)} µs/request`,
    `  errors     ${report.errors}${report.firstError ? ` (first: ${report.firstError})` : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const program = new Command('bench')
  .description('Load generator for etcd v3 endpoints')
  .argument('<workload>', `one of ${WORKLOADS.join(', ')}`)
  .option('--endpoints <list>', 'gRPC endpoints, comma-separated', '127.0.0.1:2379')
  .option('--key-size <bytes>', 'key size', '8')
  .option('--val-size <bytes>', 'value size', '256')
  .option('--total <n>', 'total number of requests', '10000')
  .option('--clients <n>', 'concurrent requests in flight', '1')
  .option('--conns <n>', 'gRPC channels (HTTP/2 connections)', '1')
  .option('--key-space-size <n>', 'number of distinct keys', '1')
  .option('--sequential-keys', 'walk the key space in order instead of at random')
  .addOption(
    new Option('--consistency <l|s>', 'range consistency').choices(['l', 's']).default('l'),
  )
  .option('--workers <n>', 'worker threads sharing the clients and conns', '1')
  .addOption(
    new Option('--client <lean|grpc-js>', 'request path: hand-encoded node:http2, or grpc-js')
      .choices(['lean', 'grpc-js'])
      .default('lean'),
  )
  .option('--max-seconds <s>', 'stop issuing requests after this long (0: no limit)', '0')
  .option('--json', 'print one machine-readable JSON object')
  .action(async (workload: string, options: BenchOptions) => {
    if (!(WORKLOADS as readonly string[]).includes(workload)) {
      throw new Error(`unknown workload ${workload}; choose one of ${WORKLOADS.join(', ')}`);
    }
    const report = await runBench(workload as Workload, options);
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else printReport(report);
    if (report.errors > 0) process.exitCode = 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
