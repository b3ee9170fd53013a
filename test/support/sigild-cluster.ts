/**
 * Starts an N-member Sigil KV cluster as real `bin/sigild` processes on 127.0.0.1, each on free
 * ports with its own temporary data directory, for end-to-end and CLI compatibility tests.
 *
 *   const cluster = await startSigildCluster({ members: 3 });
 *   t.after(() => cluster.stop());
 *
 * Every wait is bounded; stop() sends SIGTERM, then SIGKILL after a bound, and removes the data
 * directories. Members still running when the test process exits are SIGKILLed. On a failed start
 * the members already started are stopped and the error carries the tail of every member's log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SigilClient } from '../../src/client/index.ts';

export const SIGILD_BIN = new URL('../../bin/sigild', import.meta.url).pathname;

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_LIMIT = 64_000;

export interface SigildMember {
  readonly name: string;
  /** `127.0.0.1:port`, as etcdctl, sigilctl and SigilClient take endpoints. */
  readonly endpoint: string;
  /** `http://127.0.0.1:port`, as the etcd3 client takes hosts. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The running process, or null while the member is down. */
  readonly process: ChildProcess | null;
  /** Everything this member wrote to stderr (pino JSON lines), across restarts. */
  log(): string;
}

export interface SigildCluster {
  readonly members: readonly SigildMember[];
  /** Client endpoints of every member, `127.0.0.1:port`. */
  readonly endpoints: readonly string[];
  /** Client URLs of every member, `http://127.0.0.1:port`. */
  readonly clientUrls: readonly string[];
  /** Endpoints of the members that are running now. */
  liveEndpoints(): string[];
  /** The tail of every member's log, for assertion messages. */
  logs(): string;
  /** Members that exited without being asked to (each described), e.g. a crash. */
  crashes(): string[];
  /**
   * Waits until a running member reports a leader that is itself running and agreed on by every
   * running member; returns the leader's index.
   */
  waitForLeader(timeoutMs?: number): Promise<number>;
  /** Sends `signal` (default SIGKILL) to member i and waits until the process has exited. */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts member i again on the same ports and data directory (it must be down). */
  restart(index: number): Promise<void>;
  /** Stops every member (SIGTERM, SIGKILL after a bound) and removes the data directories. */
  stop(): Promise<void>;
}

export interface StartSigildOptions {
  /** Number of members; default 1. */
  readonly members?: number;
  /** --heartbeat-interval in ms; default 100 (etcd's default). */
  readonly heartbeatMs?: number;
  /** --election-timeout in ms; default 1000 (etcd's default). */
  readonly electionMs?: number;
  /** Extra flags for every member. */
  readonly extraArgs?: readonly string[];
  /** Deadline for the members to start and elect a leader; default 30 s. */
  readonly readyTimeoutMs?: number;
}

/**
 * Members still running when this process ends are killed: on a normal exit, and on the signals
 * a test runner or a shell sends (the process then dies of the same signal, as it would have).
 */
const running = new Set<ChildProcess>();
const killRunning = (): void => {
  for (const child of running) child.kill('SIGKILL');
};
process.on('exit', killRunning);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killRunning();
    process.kill(process.pid, signal);
  });
}

/** Ports handed out by this process, so clusters started at the same time never share one. */
const portsTaken = new Set<number>();
/** Below Linux's ephemeral range (32768+), so ports that others get by binding 0 never clash. */
const PORT_RANGE = { min: 20_000, max: 32_000 };

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that is free now and that this process has not handed out before. */
export async function allocatePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(PORT_RANGE.min, PORT_RANGE.max);
    if (portsTaken.has(port)) continue;
    portsTaken.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exitedAlready(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves once `child` has exited (immediately if it already has). */
function exitOf(child: ChildProcess): Promise<void> {
  if (exitedAlready(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

class Member implements SigildMember {
  process: ChildProcess | null = null;
  /** Set by kill(): the exit that follows is expected, not a crash to report. */
  stopping = false;
  private stderr = '';

  constructor(
    readonly name: string,
    readonly endpoint: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    private readonly args: readonly string[],
  ) {}

  get clientUrl(): string {
    return `http://${this.endpoint}`;
  }

  log(): string {
    return this.stderr;
  }

  start(): void {
    if (this.process !== null && !exitedAlready(this.process)) {
      throw new Error(`${this.name} is already running (pid ${this.process.pid})`);
    }
    this.stopping = false;
    const child = spawn(SIGILD_BIN, [...this.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    // A member left running by a failed test must not keep the test process alive; the exit
    // handler above kills it.
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > LOG_LIMIT * 2) this.stderr = this.stderr.slice(-LOG_LIMIT);
    });
    this.process = child;
  }

  running(): boolean {
    return this.process !== null && !exitedAlready(this.process);
  }

  /** A description of how the process ended, if it ended without being asked to. */
  crashed(): string | null {
    const child = this.process;
    if (child === null || this.stopping || !exitedAlready(child)) return null;
    return `${this.name} exited unexpectedly (code ${child.exitCode}, signal ${child.signalCode})`;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (child === null || exitedAlready(child)) return;
    this.stopping = true;
    const exited = exitOf(child);
    child.kill(signal);
    const bound = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(bound);
  }
}

/** The member's own view: the leader id it reports, or null when it is down or has none. */
async function leaderSeenBy(member: Member): Promise<bigint | null> {
  const client = new SigilClient({
    endpoints: [member.endpoint],
    dialTimeoutMs: 500,
    commandTimeoutMs: 1_000,
  });
  try {
    const status = await client.maintenance.status({ endpoint: member.endpoint });
    return status.leader === 0n ? null : status.leader;
  } catch {
    return null;
  } finally {
    client.close();
  }
}

async function waitForPublished(members: readonly Member[], deadline: number): Promise<void> {
  const client = new SigilClient({
    endpoints: members.map((member) => member.endpoint),
    dialTimeoutMs: 500,
    commandTimeoutMs: 1_000,
  });
  try {
    for (;;) {
      try {
        const list = await client.cluster.memberList({ linearizable: true });
        const published = list.members.filter((member) => member.clientUrls.length > 0);
        if (published.length === members.length) return;
      } catch {
        // No leader at this moment: ask again.
      }
      if (Date.now() > deadline) throw new Error('members did not publish their client URLs');
      await sleep(100);
    }
  } finally {
    client.close();
  }
}

/** Starts of a cluster that may fail on a port clash before one succeeds. */
const PORT_CLASH_ATTEMPTS = 3;

export async function startSigildCluster(options: StartSigildOptions = {}): Promise<SigildCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSigildClusterOnce(options);
    } catch (error) {
      // Ports are found free by binding and releasing them, so a test in another process can
      // take one before the member binds it. That clash, and only that, earns fresh ports.
      const clash = error instanceof Error && error.message.includes('EADDRINUSE');
      if (!clash || attempt >= PORT_CLASH_ATTEMPTS) throw error;
    }
  }
}

async function startSigildClusterOnce(options: StartSigildOptions): Promise<SigildCluster> {
  const size = options.members ?? 1;
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) {
    ports.push({ client: await allocatePort(), peer: await allocatePort() });
  }
  const token = `sigil-e2e-${process.pid}-${ports[0].client}`;
  const initialCluster = ports
    .map((port, i) => `sigil${i}=http://127.0.0.1:${port.peer}`)
    .join(',');
  const members: Member[] = [];
  const ids = new Map<bigint, number>();
  let stopped = false;

  const logs = (): string =>
    members
      .map(
        (member) =>
          `----- ${member.name} (${member.endpoint}) -----\n${member.log().slice(-6_000)}`,
      )
      .join('\n');

  const stopAll = async (): Promise<void> => {
    stopped = true;
    await Promise.all(members.map((member) => member.kill('SIGTERM')));
    await Promise.all(
      members.map((member) => rm(member.dataDir, { recursive: true, force: true })),
    );
  };

  const waitForLeader = async (timeoutMs = readyTimeoutMs): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no member answered';
    for (;;) {
      const live = members.filter((member) => member.running());
      const seen = await Promise.all(live.map(leaderSeenBy));
      const leader = seen[0];
      if (live.length > 0 && leader !== null && seen.every((id) => id === leader)) {
        const index = ids.get(leader);
        if (index !== undefined && members[index].running()) return index;
        last = `leader ${leader.toString(16)} is not a running member`;
      } else {
        last = `leaders seen: ${seen.map((id) => (id === null ? 'none' : id.toString(16))).join(', ')}`;
      }
      for (const member of members) {
        const crash = member.crashed();
        if (crash !== null) throw new Error(`${crash}\n${logs()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no leader within ${timeoutMs} ms (${last})\n${logs()}`);
      }
      await sleep(100);
    }
  };

  try {
    for (let i = 0; i < size; i++) {
      const name = `sigil${i}`;
      const endpoint = `127.0.0.1:${ports[i].client}`;
      const peerUrl = `http://127.0.0.1:${ports[i].peer}`;
      const dataDir = await mkdtemp(join(tmpdir(), 'sigil-e2e-'));
      const args = [
        `--name=${name}`,
        `--data-dir=${join(dataDir, 'data')}`,
        `--listen-client-urls=http://${endpoint}`,
        `--advertise-client-urls=http://${endpoint}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        `--heartbeat-interval=${options.heartbeatMs ?? 100}`,
        `--election-timeout=${options.electionMs ?? 1000}`,
        '--log-level=info',
        ...(options.extraArgs ?? []),
      ];
      members.push(new Member(name, endpoint, peerUrl, dataDir, args));
    }
    for (const member of members) member.start();
    // Member ids as the members report them (derived from peer URLs and the token).
    const deadline = Date.now() + readyTimeoutMs;
    await Promise.all(
      members.map(async (member, i) => {
        for (;;) {
          const client = new SigilClient({
            endpoints: [member.endpoint],
            dialTimeoutMs: 500,
            commandTimeoutMs: 1_000,
          });
          try {
            const status = await client.maintenance.status({ endpoint: member.endpoint });
            ids.set(status.header.memberId, i);
            return;
          } catch {
            // Not listening yet.
          } finally {
            client.close();
          }
          const crash = member.crashed();
          if (crash !== null) throw new Error(crash);
          if (Date.now() > deadline) throw new Error(`${member.name} did not start in time`);
          await sleep(100);
        }
      }),
    );
    await waitForLeader(Math.max(1_000, deadline - Date.now()));
    // Ready when every member has published its client URLs (member list shows them), as
    // etcd's members do once they have joined.
    await waitForPublished(members, deadline);
  } catch (error) {
    await stopAll();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`sigild cluster did not start: ${message}\n${logs()}`, { cause: error });
  }

  return {
    members,
    endpoints: members.map((member) => member.endpoint),
    clientUrls: members.map((member) => member.clientUrl),
    liveEndpoints: () => members.filter((member) => member.running()).map((m) => m.endpoint),
    logs,
    crashes: () => members.map((member) => member.crashed()).filter((c) => c !== null),
    waitForLeader,
    kill: (index, signal = 'SIGKILL') => members[index].kill(signal),
    restart: async (index) => {
      if (stopped) throw new Error('the cluster was stopped');
      members[index].start();
      const deadline = Date.now() + readyTimeoutMs;
      while ((await leaderSeenBy(members[index])) === null) {
        const crash = members[index].crashed();
        if (crash !== null) throw new Error(`${crash}\n${logs()}`);
        if (Date.now() > deadline) {
          throw new Error(`${members[index].name} did not rejoin in time\n${logs()}`);
        }
        await sleep(100);
      }
    },
    stop: stopAll,
  };
}

/**
 * Runs a test body; if it throws, the error message gets the tail of every member's log, so a
 * failure in CI shows what the servers were doing.
 */
export async function withClusterLogs<T>(
  cluster: SigildCluster,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Error) {
      error.message += `\n${cluster.crashes().join('\n')}\n${cluster.logs()}`;
    }
    throw error;
  }
}
