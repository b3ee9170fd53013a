/**
 * Shared by the snapshot round-trip tests: a workload that leaves every kind of state a
 * snapshot must carry (overwrites, deletions, a multi-op transaction, leases with keys, a
 * compaction, enough keys for multi-page trees, a value larger than a page), a reader of a
 * cluster's whole observable state, and a bounded start/stop of a server on a given data dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { op, type SigilClient } from '../../src/client/index.ts';

export interface WorkloadResult {
  readonly compactRevision: number;
}

export async function writeWorkload(client: SigilClient): Promise<WorkloadResult> {
  await client.put('a', '1');
  await client.put('b', '2');
  await client.put('a', '3');
  const short = await client.lease.grant(600);
  const long = await client.lease.grant(900);
  await client.put('leased/1', 'x', { lease: short.id });
  await client.put('leased/2', 'y', { lease: short.id });
  await client.put('leased/3', 'z', { lease: long.id });
  await client.delete('b');
  // One revision, three changes: sub-revisions 0..2.
  await client
    .txn()
    .success(op.put('txn/1', 'one'), op.put('txn/2', 'two'), op.delete('a'))
    .commit();
  for (let i = 0; i < 300; i++) {
    await client.put(`bulk/${String(i).padStart(4, '0')}`, `value-${i}-${'v'.repeat(100)}`);
  }
  const middle = await client.put('a', 'back');
  await client.compact(middle.header.revision - 100);
  await client.put('big', 'B'.repeat(20_000));
  await client.delete('bulk/0000');
  await client.put('leased/1', 'x2', { lease: long.id });
  return { compactRevision: middle.header.revision - 100 };
}

export interface KeyState {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string;
}

export interface ClusterState {
  readonly revision: number;
  readonly keys: readonly KeyState[];
  /** Every key as of the compaction revision (history below the present). */
  readonly atCompaction: readonly KeyState[];
  readonly leases: readonly { id: string; grantedTtl: number; keys: readonly string[] }[];
}

async function keysAt(client: SigilClient, revision: number): Promise<KeyState[]> {
  const result = await client.get('', { fromKey: true, revision });
  return result.kvs.map((kv) => ({
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease.toString(16),
  }));
}

/** The state at `revision` (0: now); leases are always the current ones. */
export async function readClusterState(
  client: SigilClient,
  compactRevision: number,
  revision = 0,
): Promise<ClusterState> {
  const now = await client.get('', { fromKey: true, revision });
  const leases = [];
  for (const id of await client.lease.leases()) {
    const ttl = await client.lease.timeToLive(id, { keys: true });
    leases.push({
      id: id.toString(16),
      grantedTtl: ttl.grantedTtl,
      keys: ttl.keys.map((key) => Buffer.from(key).toString()).sort(),
    });
  }
  leases.sort((x, y) => x.id.localeCompare(y.id));
  return {
    revision: revision === 0 ? now.header.revision : revision,
    keys: await keysAt(client, revision),
    atCompaction: await keysAt(client, compactRevision),
    leases,
  };
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ServerProcess {
  readonly process: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `command args` and waits until `clientUrl`/health reports healthy. */
export async function startServer(
  command: string,
  args: readonly string[],
  clientUrl: string,
  readyTimeoutMs = 30_000,
): Promise<ServerProcess> {
  const child = spawn(command, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const server = { process: child, log: () => log, stop };
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${command} exited during start:\n${log}`);
    try {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      if (((await response.json()) as { health?: string }).health === 'true') return server;
    } catch {
      // Not serving yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`${command} not healthy within ${readyTimeoutMs} ms:\n${log}`);
}
