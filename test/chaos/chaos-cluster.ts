/**
 * A cluster of real `bin/sigild` processes for the chaos suite. Member i listens for peers on
 * its own port but advertises its proxy's port (peer-proxy.ts), so every peer link passes a
 * proxy that can cut it. Each member runs in its own process group (killed by -pid), writes its
 * log to a file in the run directory, and, when the slow-disk shim is available, runs with it
 * preloaded and its own fsync-delay control file.
 *
 * Members are addressed by index; a member's id changes when the membership nemesis removes it
 * and adds it back, and `indexOf` follows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SigilClient } from '../../src/client/index.ts';
import { allocatePort } from '../support/sigild-cluster.ts';
import { sleep } from '../support/wait-for.ts';
import { PeerLinkFaults, PeerProxy } from './peer-proxy.ts';
import type { SlowDiskShim } from './slow-disk/slow-disk.ts';

export interface ChaosClusterOptions {
  readonly members: number;
  readonly runDirectory: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly slowDisk: SlowDiskShim | null;
  /** Extra sigild flags for every member (e.g. a small --snapshot-count). */
  readonly extraArgs: readonly string[];
  /** The sigild executable. */
  readonly sigild: string;
}

export interface ChaosMember {
  readonly index: number;
  readonly name: string;
  readonly endpoint: string;
  /** The advertised peer URL: the member's proxy. */
  readonly peerUrl: string;
  readonly listenPeerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly diskDelayFile: string;
  id: bigint;
  process: ChildProcess | null;
  paused: boolean;
  /** Set while the member is removed from the cluster by the membership nemesis. */
  removed: boolean;
  /** The --initial-cluster and --initial-cluster-state it was last started with. */
  initialCluster: string;
  clusterState: 'new' | 'existing';
}

const running = new Set<number>();
const killGroups = (): void => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
};
process.on('exit', killGroups);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killGroups();
    process.kill(process.pid, signal);
  });
}

const exited = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null;

export class ChaosCluster {
  readonly faults = new PeerLinkFaults();
  private readonly proxies: PeerProxy[] = [];
  private readonly token: string;
  private stopped = false;

  private constructor(
    readonly members: ChaosMember[],
    private readonly options: ChaosClusterOptions,
  ) {
    this.token = `sigil-chaos-${process.pid}-${members[0].endpoint.split(':')[1]}`;
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const members: ChaosMember[] = [];
    for (let index = 0; index < options.members; index++) {
      const [client, listenPeer, proxy] = [
        await allocatePort(),
        await allocatePort(),
        await allocatePort(),
      ];
      const directory = join(options.runDirectory, `member${index}`);
      await mkdir(directory, { recursive: true });
      members.push({
        index,
        name: `chaos${index}`,
        endpoint: `127.0.0.1:${client}`,
        peerUrl: `http://127.0.0.1:${proxy}`,
        listenPeerUrl: `http://127.0.0.1:${listenPeer}`,
        dataDir: join(directory, 'data'),
        logFile: join(directory, 'sigild.log'),
        diskDelayFile: join(directory, 'fsync-delay-ms'),
        id: 0n,
        process: null,
        paused: false,
        removed: false,
        initialCluster: '',
        clusterState: 'new',
      });
    }
    const cluster = new ChaosCluster(members, options);
    try {
      for (const member of members) {
        const proxy = new PeerProxy({
          to: member.index,
          listenPort: Number(new URL(member.peerUrl).port),
          targetPort: Number(new URL(member.listenPeerUrl).port),
          faults: cluster.faults,
          memberIndexOf: (id) => cluster.indexOf(id),
        });
        await proxy.start();
        cluster.proxies.push(proxy);
        if (options.slowDisk !== null) await options.slowDisk.setDelay(member.diskDelayFile, 0);
      }
      const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
      for (const member of members) cluster.spawn(member, initialCluster, 'new');
      await Promise.all(members.map((member) => cluster.learnId(member, 30_000)));
      await cluster.waitForLeader(30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((member) => member.endpoint);
  }

  indexOf(id: bigint): number | undefined {
    return this.members.find((member) => member.id === id && id !== 0n)?.index;
  }

  isRunning(index: number): boolean {
    const child = this.members[index].process;
    return child !== null && !exited(child);
  }

  /** Members that are running and not paused. */
  liveIndexes(): number[] {
    return this.members.filter((m) => this.isRunning(m.index) && !m.paused).map((m) => m.index);
  }

  /** Members that died without being killed by the nemesis (a crash is a finding). */
  crashes(): string[] {
    return this.members
      .filter((member) => member.process !== null && exited(member.process))
      .filter((member) => !this.expectedExits.has(member.process as ChildProcess))
      .map(
        (member) =>
          `${member.name} exited by itself (code ${member.process?.exitCode}, signal ` +
          `${member.process?.signalCode}); log tail:\n${this.logTail(member.index, 3_000)}`,
      );
  }

  private readonly expectedExits = new Set<ChildProcess>();

  logTail(index: number, bytes = 4_000): string {
    try {
      const text = readFileSync(this.members[index].logFile, 'utf8');
      return text.slice(-bytes);
    } catch {
      return '(no log)';
    }
  }

  private spawn(member: ChaosMember, initialCluster: string, state: 'new' | 'existing'): void {
    const args = [
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=http://${member.endpoint}`,
      `--advertise-client-urls=http://${member.endpoint}`,
      `--listen-peer-urls=${member.listenPeerUrl}`,
      `--initial-advertise-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${this.token}`,
      `--initial-cluster-state=${state}`,
      `--heartbeat-interval=${this.options.heartbeatMs}`,
      `--election-timeout=${this.options.electionMs}`,
      '--log-level=warn',
      ...this.options.extraArgs,
    ];
    member.initialCluster = initialCluster;
    member.clusterState = state;
    const log = openSync(member.logFile, 'a');
    const slowDisk = this.options.slowDisk?.environment(member.diskDelayFile) ?? {};
    const child = spawn(this.options.sigild, args, {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, ...slowDisk },
    });
    closeSync(log);
    child.unref();
    const pid = child.pid;
    if (pid !== undefined) {
      running.add(pid);
      child.once('exit', () => running.delete(pid));
    }
    member.process = child;
    member.paused = false;
  }

  private async learnId(member: ChaosMember, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await statusOf(member.endpoint);
      if (status !== null) {
        member.id = status.memberId;
        return;
      }
      if (member.process !== null && exited(member.process)) {
        throw new Error(`${member.name} exited during start:\n${this.logTail(member.index)}`);
      }
      if (Date.now() > deadline) throw new Error(`${member.name} did not start in time`);
      await sleep(100);
    }
  }

  /** The index of the leader that every live member agrees on, waiting up to `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.agreedLeader();
      if (leader !== undefined) return leader;
      if (Date.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** The leader as the live members see it, if they agree and it is live; else undefined. */
  async agreedLeader(): Promise<number | undefined> {
    const live = this.liveIndexes().filter((index) => !this.members[index].removed);
    const seen = await Promise.all(live.map((i) => statusOf(this.members[i].endpoint)));
    const first = seen[0]?.leader;
    if (first === undefined || first === 0n) return undefined;
    if (!seen.every((status) => status !== null && status.leader === first)) return undefined;
    const index = this.indexOf(first);
    return index !== undefined && live.includes(index) ? index : undefined;
  }

  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.members[index];
    const child = member.process;
    if (child === null || exited(child)) return;
    this.expectedExits.add(child);
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(child, signal);
    if (member.paused) signalGroup(child, 'SIGCONT');
    const bound = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
    await done;
    clearTimeout(bound);
    member.paused = false;
  }

  /** Starts a stopped member again on its data directory (it rejoins as it was). */
  async restart(index: number): Promise<void> {
    if (this.stopped) return;
    const member = this.members[index];
    if (this.isRunning(index)) throw new Error(`${member.name} is running`);
    // The same flags as its first start: a data directory that exists makes them moot for etcd,
    // but a member must never be started with flags that describe another cluster.
    this.spawn(member, member.initialCluster, member.clusterState);
    await this.learnId(member, 30_000);
  }

  pause(index: number): void {
    const member = this.members[index];
    if (member.process === null || !this.isRunning(index) || member.paused) return;
    signalGroup(member.process, 'SIGSTOP');
    member.paused = true;
  }

  resume(index: number): void {
    const member = this.members[index];
    if (member.process === null || !member.paused) return;
    signalGroup(member.process, 'SIGCONT');
    member.paused = false;
  }

  async setDiskDelay(index: number, delayMs: number): Promise<boolean> {
    if (this.options.slowDisk === null) return false;
    await this.options.slowDisk.setDelay(this.members[index].diskDelayFile, delayMs);
    return true;
  }

  /** Stops and wipes member `index`; the membership nemesis has removed it from the cluster. */
  async wipe(index: number): Promise<void> {
    await this.kill(index);
    await rm(this.members[index].dataDir, { recursive: true, force: true });
    this.members[index].id = 0n;
  }

  /** Starts a wiped member that was added back with MemberAdd as `id`, joining the cluster. */
  async join(index: number, id: bigint, initialCluster: string): Promise<void> {
    const member = this.members[index];
    member.id = id;
    this.spawn(member, initialCluster, 'existing');
    await this.learnId(member, 60_000);
  }

  proxyCounters(): { accepted: number; reset: number; blackholed: number } {
    const total = { accepted: 0, reset: 0, blackholed: 0 };
    for (const proxy of this.proxies) {
      total.accepted += proxy.counters.accepted;
      total.reset += proxy.counters.reset;
      total.blackholed += proxy.counters.blackholed;
    }
    return total;
  }

  /** Kills every member (process group, by pid) and stops the proxies. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.members.map((member) => this.kill(member.index)));
    await Promise.all(this.proxies.map((proxy) => proxy.stop()));
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

export interface MemberStatusSummary {
  readonly memberId: bigint;
  readonly leader: bigint;
  readonly revision: number;
  readonly raftIndex: number;
  readonly appliedIndex: number;
}

/** Status of one member, or null when it does not answer within a second. */
export async function statusOf(endpoint: string): Promise<MemberStatusSummary | null> {
  const client = new SigilClient({
    endpoints: [endpoint],
    dialTimeoutMs: 500,
    commandTimeoutMs: 1_000,
  });
  try {
    const status = await client.maintenance.status({ endpoint });
    return {
      memberId: status.header.memberId,
      leader: status.leader,
      revision: status.header.revision,
      raftIndex: status.raftIndex,
      appliedIndex: status.raftAppliedIndex,
    };
  } catch {
    return null;
  } finally {
    client.close();
  }
}
