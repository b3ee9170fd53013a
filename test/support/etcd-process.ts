/**
 * Starts a real etcd (one member or a small cluster) on free loopback ports with a temporary data
 * directory, for tests that compare against the reference implementation. Every start is bounded
 * in time and every member is killed by stop(), or at the latest when the test process exits.
 *
 * etcd must be installed (CI installs Debian's etcd-server/etcd-client). When it is missing the
 * helper throws, so the tests fail loudly instead of skipping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 3_000;

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:port`, the form sigilctl and etcdctl accept in --endpoints. */
  readonly clientEndpoint: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly process: ChildProcess;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client endpoints of every member, `host:port`. */
  readonly endpoints: readonly string[];
  /** Everything etcd wrote to stderr, for failure messages. */
  log(): string;
  /** SIGKILLs one member (a crash); its data directory stays until stop(). */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Number of members; default 1. */
  readonly members?: number;
  /** Extra flags for every member, e.g. ['--auto-compaction-retention=1']. */
  readonly extraArgs?: readonly string[];
}

export function assertEtcdInstalled(): void {
  for (const binary of [ETCD_BIN, ETCDCTL_BIN]) {
    if (!existsSync(binary)) {
      throw new Error(
        `${binary} not found: these tests run against a real etcd 3.4+. ` +
          'Install it (apt-get install etcd-server etcd-client) or set ETCD_BIN/ETCDCTL_BIN.',
      );
    }
  }
}

/** A port that was free a moment ago; etcd binds it right after. */
/** Ports this process already handed out: the kernel may offer a just-closed port again. */
const portsGiven = new Set<number>();

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A free loopback port, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await ephemeralPort();
    if (port !== 0 && !portsGiven.has(port)) {
      portsGiven.add(port);
      return port;
    }
  }
  throw new Error('freePort: no fresh port after 100 attempts');
}

/** The flags that start one member of a new cluster; sigild takes etcd's, so both use them. */
export function newClusterMemberFlags(member: {
  readonly name: string;
  readonly dataDir: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly initialCluster: string;
  readonly token: string;
}): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${member.initialCluster}`,
    `--initial-cluster-token=${member.token}`,
    '--initial-cluster-state=new',
    '--log-level=error',
  ];
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function waitHealthy(clientUrl: string, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`etcd exited with ${child.exitCode} during start:\n${log()}`);
    }
    try {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // Not listening yet, or no leader yet: poll again.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`etcd at ${clientUrl} not healthy after ${READY_TIMEOUT_MS} ms:\n${log()}`);
}

async function killMember(member: EtcdMember): Promise<void> {
  const child = member.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

async function stopMember(member: EtcdMember): Promise<void> {
  const child = member.process;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  running.delete(child);
  await rm(member.dataDir, { recursive: true, force: true });
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  assertEtcdInstalled();
  const size = options.members ?? 1;
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const token = `sigil-test-${process.pid}-${ports[0].client}`;
  const initialCluster = ports.map((port, i) => `etcd${i}=http://127.0.0.1:${port.peer}`).join(',');
  let stderr = '';
  const log = (): string => stderr.slice(-4_000);
  const members: EtcdMember[] = [];
  const cluster: EtcdCluster = {
    members,
    endpoints: ports.map((port) => `127.0.0.1:${port.client}`),
    log,
    kill: (index) => killMember(members[index]),
    stop: async () => {
      await Promise.all(members.map(stopMember));
    },
  };
  try {
    for (let i = 0; i < size; i++) {
      const name = `etcd${i}`;
      const clientUrl = `http://127.0.0.1:${ports[i].client}`;
      const peerUrl = `http://127.0.0.1:${ports[i].peer}`;
      const dataDir = await mkdtemp(join(tmpdir(), 'sigil-etcd-'));
      const args = [
        ...newClusterMemberFlags({ name, dataDir, clientUrl, peerUrl, initialCluster, token }),
        '--logger=zap',
        ...(options.extraArgs ?? []),
      ];
      const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      running.add(child);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.length > 64_000) stderr = stderr.slice(-16_000);
      });
      members.push({
        name,
        clientEndpoint: cluster.endpoints[i],
        clientUrl,
        peerUrl,
        dataDir,
        process: child,
      });
    }
    await Promise.all(members.map((member) => waitHealthy(member.clientUrl, member.process, log)));
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
