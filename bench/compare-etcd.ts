/**
 * Sigil KV against etcd 3.4 on this machine, in one run, with the same load generator
 * (bench/run-bench.ts) and the same request shape (8-byte keys, 256-byte values):
 *
 *   (a) put, 100 clients over 10 connections      (b) linearizable range, same concurrency
 *   (c) one client, sequential puts (mean of the   (d) RSS per member after 100,000 keys
 *       p50s at each member)
 *
 * It starts a 3-member Sigil cluster (bin/sigild) on loopback with temporary data directories,
 * measures it, stops it, then does the same with a 3-member etcd cluster, and prints both columns,
 * the ratio and the targets. Every load is bounded in requests and in time. Every process it
 * started is killed by pid and every temporary directory removed, also on failure and Ctrl-C.
 *
 *   npm run bench:compare -- [--only sigil|etcd] [--scale 0.5] [--profile-dir DIR] [--json]
 *                             [--client lean|grpc-js]
 *
 * The load generator's default request path is lean (hand-encoded requests on our own HTTP/2
 * framing, bench/load/lean-grpc.ts): grpc-js spent ~700 µs of CPU per call here and capped both
 * servers near 1,400 req/s, measuring the client instead of the servers.
 *
 * --profile-dir runs the Sigil members with --cpu-prof (one .cpuprofile per member, written when
 * the member stops); bench/profile-summary.ts summarises one by self time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { compiledIsCurrent } from '../scripts/source-manifest.mjs';
import { freePort, newClusterMemberFlags } from '../test/support/etcd-process.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIGILD = join(REPO, 'bin', 'sigild');
const RUN_BENCH = join(REPO, 'bench', 'run-bench.ts');
const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const MEMBERS = 3;
const KEY_BYTES = 8;
const VALUE_BYTES = 256;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const WARM_UP_REQUESTS = 20_000;
/** Sequential puts at each member before the measured ones (see measure()). */
const SEQ_WARM_UP_REQUESTS = 1_000;
/** The second RSS reading, this long after the fill: memory a runtime returns once idle
 *  (sigild's idle heap release, Go's scavenger) shows here, not in the target's 2 s reading. */
const IDLE_RSS_DELAY_MS = 10_000;

type System = 'sigil' | 'etcd';

interface CompareOptions {
  only?: System;
  scale: string;
  rssKeys: string;
  profileDir?: string;
  client: string;
  json?: boolean;
}

interface LoadReport {
  readonly total: number;
  readonly completed: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly latency: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
}

interface SystemResult {
  readonly putRps: number;
  readonly putP99Ms: number;
  readonly rangeRps: number;
  readonly rangeP99Ms: number;
  readonly seqPutP50Ms: number;
  readonly rssMiB: number;
  readonly rssMiBPerMember: number[];
  /** RSS per member after 10 s without load (both runtimes return memory over time). */
  readonly rssIdleMiB: number;
  readonly fillRps: number;
  readonly leader: string;
  readonly loads: Record<string, LoadReport>;
}

// ---------------------------------------------------------------- process and temp-dir tracking

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killEverythingNow(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', killEverythingNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`compare-etcd: ${signal}, killing every process it started\n`);
    killEverythingNow();
    process.exit(130);
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** SIGTERM (so profiles and logs are flushed), SIGKILL after a deadline; by pid only. */
async function stopProcess(child: ChildProcess, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------------- clusters

interface Member {
  readonly name: string;
  readonly endpoint: string;
  readonly clientUrl: string;
  readonly process: ChildProcess;
}

interface Cluster {
  readonly system: System;
  readonly members: Member[];
  readonly dataDirs: string[];
  log(): string;
}

async function startCluster(system: System, profileDir: string | undefined): Promise<Cluster> {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < MEMBERS; i++)
    ports.push({ client: await freePort(), peer: await freePort() });
  const token = `compare-${system}-${process.pid}-${ports[0].client}`;
  const initialCluster = ports
    .map((port, i) => `${system}${i}=http://127.0.0.1:${port.peer}`)
    .join(',');
  let stderr = '';
  const cluster: Cluster = { system, members: [], dataDirs: [], log: () => stderr.slice(-4000) };
  for (let i = 0; i < MEMBERS; i++) {
    const name = `${system}${i}`;
    const clientUrl = `http://127.0.0.1:${ports[i].client}`;
    const peerUrl = `http://127.0.0.1:${ports[i].peer}`;
    const dataDir = makeTempDir(`sigil-compare-${name}-`);
    cluster.dataDirs.push(dataDir);
    const args = newClusterMemberFlags({
      name,
      dataDir,
      clientUrl,
      peerUrl,
      initialCluster,
      token,
    });
    const env = { ...process.env };
    if (system === 'sigil' && profileDir !== undefined) {
      env.SIGILD_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${join(profileDir, name)}`;
    }
    const child =
      system === 'sigil'
        ? spawn(SIGILD, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
        : spawn(ETCD_BIN, [...args, '--logger=zap'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    track(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += `[${name}] ${chunk.toString()}`;
      if (stderr.length > 64_000) stderr = stderr.slice(-16_000);
    });
    cluster.members.push({
      name,
      endpoint: `127.0.0.1:${ports[i].client}`,
      clientUrl,
      process: child,
    });
  }
  try {
    await Promise.all(cluster.members.map((member) => waitHealthy(member, cluster)));
  } catch (error) {
    await stopCluster(cluster);
    throw error;
  }
  return cluster;
}

async function waitHealthy(member: Member, cluster: Cluster): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (member.process.exitCode !== null) {
      throw new Error(`${member.name} exited with ${member.process.exitCode}:\n${cluster.log()}`);
    }
    try {
      const response = await fetch(`${member.clientUrl}/health`, {
        signal: AbortSignal.timeout(1000),
      });
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // Not listening yet or no leader yet.
    }
    await sleep(100);
  }
  throw new Error(`${member.name} not healthy after ${READY_TIMEOUT_MS} ms:\n${cluster.log()}`);
}

async function stopCluster(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.members.map((member) => stopProcess(member.process)));
  for (const dir of cluster.dataDirs) removeTempDir(dir);
}

/** The leader's name, from the gateway's maintenance status (etcd and Sigil both serve it). */
async function leaderName(cluster: Cluster): Promise<string> {
  const ids = new Map<string, string>();
  let leader = '';
  for (const member of cluster.members) {
    try {
      const response = await fetch(`${member.clientUrl}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(2000),
      });
      const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
      if (body.header?.member_id !== undefined) ids.set(body.header.member_id, member.name);
      leader = body.leader ?? leader;
    } catch {
      // Reported as unknown below.
    }
  }
  return ids.get(leader) ?? 'unknown';
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

// ------------------------------------------------------------------------------------- loads

interface LoadSpec {
  readonly workload: 'put' | 'range';
  readonly total: number;
  readonly maxSeconds: number;
  readonly clients: number;
  readonly conns: number;
  readonly keySpaceSize: number;
  readonly sequentialKeys?: boolean;
}

/** Which request path the load generator uses (run-bench.ts --client); lean by default. */
let loadClient = 'lean';

async function runLoad(endpoints: string[], spec: LoadSpec): Promise<LoadReport> {
  const args = [
    '--import',
    'tsx',
    RUN_BENCH,
    spec.workload,
    `--endpoints=${endpoints.join(',')}`,
    `--clients=${spec.clients}`,
    `--conns=${spec.conns}`,
    `--total=${spec.total}`,
    `--max-seconds=${spec.maxSeconds}`,
    `--key-size=${KEY_BYTES}`,
    `--val-size=${VALUE_BYTES}`,
    `--key-space-size=${spec.keySpaceSize}`,
    '--consistency=l',
    `--client=${loadClient}`,
    '--json',
    ...(spec.sequentialKeys === true ? ['--sequential-keys'] : []),
  ];
  const child = track(
    spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // The generator stops issuing at maxSeconds; allow for start-up and requests in flight.
  const hardLimit = setTimeout(() => child.kill('SIGKILL'), (spec.maxSeconds + 30) * 1000);
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  clearTimeout(hardLimit);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) {
    throw new Error(`load ${spec.workload} failed (exit ${code}): ${stderr.slice(-2000)}`);
  }
  const report = JSON.parse(line) as LoadReport;
  if (report.errors > 0) {
    process.stderr.write(
      `  ${spec.workload}: ${report.errors} errors (first: ${report.firstError})\n`,
    );
  }
  return report;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

function describe(name: string, report: LoadReport): string {
  return (
    `${name}: ${report.completed}/${report.total} in ${report.durationSeconds.toFixed(1)} s, ` +
    `${report.requestsPerSecond.toFixed(0)} req/s, p50 ${report.latency.p50Ms.toFixed(2)} ms, ` +
    `p99 ${report.latency.p99Ms.toFixed(2)} ms`
  );
}

async function measure(cluster: Cluster, scale: number, rssKeys: number): Promise<SystemResult> {
  const endpoints = cluster.members.map((member) => member.endpoint);
  const n = (count: number): number => Math.max(1, Math.round(count * scale));
  const loads: Record<string, LoadReport> = {};
  const run = async (name: string, spec: LoadSpec, at = endpoints): Promise<LoadReport> => {
    const report = await runLoad(at, spec);
    loads[name] = report;
    log(`${cluster.system} ${describe(name, report)}`);
    return report;
  };
  const wide = { clients: 100, conns: 10 };
  // Warm-up (connections, first WAL segment, and JIT) on keys the fill below overwrites anyway.
  // Not scaled: V8 optimises a function only after it has run a while, and a member's first
  // ~15,000 requests cost it about twice the CPU of later ones (leader 548 -> 146 us per put
  // over its first 17,500). etcd is compiled ahead of time. A member serves for days, so both
  // are measured warm, after the same warm-up; the warm-up's own figures show the cold start.
  await run('warm-up', {
    workload: 'put',
    total: WARM_UP_REQUESTS,
    maxSeconds: 40,
    ...wide,
    keySpaceSize: rssKeys,
  });
  const put = await run('put', {
    workload: 'put',
    total: n(30_000),
    maxSeconds: 30,
    ...wide,
    keySpaceSize: rssKeys,
  });
  // One sequential client at each member in turn, and the mean of their p50s: a client may
  // connect to any member, a follower forwards to the leader (one hop more), and which member
  // leads is the election's choice. Measured at the first endpoint only, the figure compared
  // one system's leader with the other's follower in most runs.
  log(`${cluster.system} leader: ${await leaderName(cluster)}`);
  const sequential = (total: number): LoadSpec => ({
    workload: 'put',
    total,
    maxSeconds: 20,
    clients: 1,
    conns: 1,
    keySpaceSize: rssKeys,
  });
  // Sequential puts run code the 100-client load hardly runs (a raft Ready per request, the
  // commit-update hold timer, a socket write per message): on a leader they went 2.17 -> 1.84 ms
  // p50 over their first ~3,000 (V8 optimised ~30 functions meanwhile). Same warm-up for both,
  // at every member.
  for (const member of cluster.members) {
    await run(`seq-put warm-up at ${member.name}`, sequential(SEQ_WARM_UP_REQUESTS), [
      member.endpoint,
    ]);
  }
  const seqP50s: number[] = [];
  for (const member of cluster.members) {
    const seq = await run(`seq-put at ${member.name}`, sequential(n(2000)), [member.endpoint]);
    seqP50s.push(seq.latency.p50Ms);
  }
  // Every one of the 100,000 keys written (sequentially), then RSS: etcd's and our memory both
  // grow with the key count, so the fill is not bounded by the scale.
  const fill = await run('fill', {
    workload: 'put',
    total: rssKeys,
    maxSeconds: 240,
    ...wide,
    keySpaceSize: rssKeys,
    sequentialKeys: true,
  });
  if (fill.completed < rssKeys) log(`warning: the fill wrote only ${fill.completed} keys`);
  await sleep(2000);
  const rss = cluster.members.map((member) => rssMiB(member.process.pid ?? 0));
  await sleep(IDLE_RSS_DELAY_MS - 2000);
  const rssIdle = cluster.members.map((member) => rssMiB(member.process.pid ?? 0));
  // Reads run code the puts never warmed: the first 15,000 linearizable ranges on a member
  // went 5,500 -> 7,500 -> 8,400 req/s over three consecutive runs. Same warm-up for both.
  await run('range warm-up', {
    workload: 'range',
    total: WARM_UP_REQUESTS,
    maxSeconds: 40,
    ...wide,
    keySpaceSize: rssKeys,
  });
  const range = await run('range', {
    workload: 'range',
    total: n(30_000),
    maxSeconds: 30,
    ...wide,
    keySpaceSize: rssKeys,
  });
  return {
    putRps: put.requestsPerSecond,
    putP99Ms: put.latency.p99Ms,
    rangeRps: range.requestsPerSecond,
    rangeP99Ms: range.latency.p99Ms,
    seqPutP50Ms: seqP50s.reduce((sum, p50) => sum + p50, 0) / seqP50s.length,
    rssMiB: rss.reduce((sum, value) => sum + value, 0) / rss.length,
    rssMiBPerMember: rss,
    rssIdleMiB: rssIdle.reduce((sum, value) => sum + value, 0) / rssIdle.length,
    fillRps: fill.requestsPerSecond,
    leader: await leaderName(cluster),
    loads,
  };
}

// ------------------------------------------------------------------------------------ report

interface Row {
  readonly label: string;
  readonly pick: (result: SystemResult) => number;
  readonly unit: string;
  /** The target on sigil/etcd, and whether the ratio must be at least or at most it. */
  readonly target: number;
  readonly higherIsBetter: boolean;
}

const ROWS: Row[] = [
  {
    label: 'put throughput',
    pick: (r) => r.putRps,
    unit: 'req/s',
    target: 1.0,
    higherIsBetter: true,
  },
  { label: 'put p99', pick: (r) => r.putP99Ms, unit: 'ms', target: 1.0, higherIsBetter: false },
  {
    label: 'range (l) throughput',
    pick: (r) => r.rangeRps,
    unit: 'req/s',
    target: 1.0,
    higherIsBetter: true,
  },
  {
    label: 'range (l) p99',
    pick: (r) => r.rangeP99Ms,
    unit: 'ms',
    target: Infinity,
    higherIsBetter: false,
  },
  {
    label: 'seq put p50',
    pick: (r) => r.seqPutP50Ms,
    unit: 'ms',
    target: 1.2,
    higherIsBetter: false,
  },
  {
    label: 'RSS/member after fill',
    pick: (r) => r.rssMiB,
    unit: 'MiB',
    target: 1.5,
    higherIsBetter: false,
  },
  {
    label: 'RSS/member, 10 s idle',
    pick: (r) => r.rssIdleMiB,
    unit: 'MiB',
    target: Infinity,
    higherIsBetter: false,
  },
  {
    label: 'fill throughput',
    pick: (r) => r.fillRps,
    unit: 'req/s',
    target: Infinity,
    higherIsBetter: true,
  },
];

function formatTable(results: Partial<Record<System, SystemResult>>): string {
  const cell = (value: number | undefined): string =>
    value === undefined ? '-' : value >= 100 ? value.toFixed(0) : value.toFixed(2);
  const header = ['metric', 'unit', 'sigil', 'etcd', 'sigil/etcd', 'target', 'ok'];
  const lines = [header];
  for (const row of ROWS) {
    const sigil = results.sigil === undefined ? undefined : row.pick(results.sigil);
    const etcd = results.etcd === undefined ? undefined : row.pick(results.etcd);
    const ratio = sigil !== undefined && etcd !== undefined && etcd > 0 ? sigil / etcd : undefined;
    const target = Number.isFinite(row.target)
      ? `${row.higherIsBetter ? '>=' : '<='} ${row.target.toFixed(1)}x`
      : '(info)';
    const ok =
      ratio === undefined || !Number.isFinite(row.target)
        ? ''
        : (row.higherIsBetter ? ratio >= row.target : ratio <= row.target)
          ? 'yes'
          : 'NO';
    lines.push([
      row.label,
      row.unit,
      cell(sigil),
      cell(etcd),
      ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
      target,
      ok,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  return lines.map((line) => line.map((value, i) => value.padEnd(widths[i])).join('  ')).join('\n');
}

async function compare(options: CompareOptions): Promise<void> {
  const scale = Number(options.scale);
  if (!(scale > 0)) throw new Error('--scale must be positive');
  const systems: System[] = options.only === undefined ? ['sigil', 'etcd'] : [options.only];
  const results: Partial<Record<System, SystemResult>> = {};
  const loadBefore = loadavg();
  if (systems.includes('sigil') && !compiledIsCurrent(REPO)) {
    // bin/sigild then runs the sources through tsx: measured, ~15 MB more RSS per member and
    // slower requests, so such figures do not compare with those of a compiled build.
    log('warning: dist/ is not compiled from the current sources; run `npm run build:dist` first');
  }
  for (const system of systems) {
    log(`starting a ${MEMBERS}-member ${system} cluster`);
    const cluster = await startCluster(system, options.profileDir);
    try {
      results[system] = await measure(cluster, scale, Number(options.rssKeys));
      log(`${system} leader: ${results[system].leader}`);
    } finally {
      await stopCluster(cluster);
    }
  }
  const loadAfter = loadavg();
  const average = (values: number[]): string => values.map((value) => value.toFixed(2)).join(' ');
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ results, loadBefore, loadAfter })}\n`);
    return;
  }
  process.stdout.write(
    `Sigil KV vs etcd 3.4, ${MEMBERS} members each on loopback, ${KEY_BYTES} B keys, ${VALUE_BYTES} B values, ` +
      `100 clients / 10 conns (seq put: 1/1 at each member, mean p50), scale ${scale}, load client ${loadClient}\n` +
      `load average before ${average(loadBefore)}, after ${average(loadAfter)}\n\n` +
      `${formatTable(results)}\n`,
  );
}

const program = new Command('compare-etcd')
  .description('Sigil KV against etcd 3.4 on this machine, same loads, one run')
  .option('--only <system>', 'measure only sigil or etcd')
  .option('--scale <factor>', 'multiply the request counts of the timed loads', '1')
  .option('--rss-keys <n>', 'keys written before RSS is read', '100000')
  .option('--profile-dir <dir>', 'run Sigil members with --cpu-prof into this directory')
  .option('--client <lean|grpc-js>', 'load generator request path (see run-bench.ts)', 'lean')
  .option('--json', 'print one machine-readable JSON object')
  .action(async (options: CompareOptions) => {
    if (options.only !== undefined && options.only !== 'sigil' && options.only !== 'etcd') {
      throw new Error('--only must be sigil or etcd');
    }
    if (options.client !== 'lean' && options.client !== 'grpc-js') {
      throw new Error('--client must be lean or grpc-js');
    }
    loadClient = options.client;
    if (options.profileDir !== undefined) options.profileDir = resolve(options.profileDir);
    await compare(options);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`compare-etcd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  killEverythingNow();
}
