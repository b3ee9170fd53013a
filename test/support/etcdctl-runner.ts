/**
 * Runs Debian's etcdctl (ETCDCTL_API=3) against a set of endpoints, as a finished command or as
 * a long-running child (watch, lock, elect) whose output can be awaited, and normalises outputs
 * of two clusters (ids, revisions of raft, sizes, URLs, names, durations) so they can be compared.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { ETCDCTL_BIN } from './etcd-process.ts';
import { waitFor } from './wait-for.ts';

export interface CtlOutput {
  readonly code: number;
  readonly stdout: string;
  /** etcdctl's own last stderr line (client retry logs before it carry timestamps). */
  readonly stderr: string;
}

const ENV = { ...process.env, ETCDCTL_API: '3' };

export function etcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CtlOutput> {
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL_BIN,
      [`--endpoints=${endpoints.join(',')}`, '--command-timeout=5s', ...args],
      { timeout: options.timeoutMs ?? 15_000, env: ENV },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        const lastLine = stderr.trim().split('\n').pop() ?? '';
        resolve({ code, stdout, stderr: lastLine });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** A long-running etcdctl (watch, lock, elect); stop() ends it with SIGINT, then SIGKILL. */
export class EtcdctlProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(endpoints: readonly string[], args: readonly string[]) {
    this.child = spawn(ETCDCTL_BIN, [`--endpoints=${endpoints.join(',')}`, ...args], {
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve(signal === null ? code : null)),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until stdout satisfies `test` (a substring or a predicate). */
  async waitForOutput(test: string | ((stdout: string) => boolean), timeoutMs = 10_000) {
    const ok = typeof test === 'string' ? (s: string) => s.includes(test) : test;
    await waitFor(
      `etcdctl output ${typeof test === 'string' ? JSON.stringify(test) : 'condition'}`,
      () => (ok(this.stdout) ? true : undefined),
      timeoutMs,
    ).catch((error: Error) => {
      error.message += `\nstdout so far:\n${this.stdout}\nstderr:\n${this.stderr.slice(-2_000)}`;
      throw error;
    });
  }

  /** Interrupts the command (as Ctrl-C does) and waits for it to exit, bounded. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.running) {
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    return await this.exited;
  }
}

export interface ClusterNames {
  /** Client endpoints `host:port` in member order. */
  readonly endpoints: readonly string[];
  /** Peer URLs in member order. */
  readonly peerUrls: readonly string[];
  /** Member names in member order. */
  readonly names: readonly string[];
}

/**
 * Replaces what differs by construction between two clusters running the same script: client
 * and peer URLs and member names (by member index), ids (hex and decimal), raft terms and
 * indexes, database sizes, the version string and durations.
 */
export function normalise(text: string, cluster: ClusterNames): string {
  let out = text;
  cluster.endpoints.forEach((endpoint, i) => (out = out.replaceAll(endpoint, `<client${i}>`)));
  cluster.peerUrls.forEach((url, i) => {
    const hostPort = url.replace(/^http:\/\//, '');
    out = out.replaceAll(hostPort, `<peer${i}>`);
  });
  cluster.names.forEach(
    (name, i) => (out = out.replace(new RegExp(`\\b${name}\\b`, 'g'), `<name${i}>`)),
  );
  return (
    out
      .replace(/"(cluster_id|member_id|leader|ID)":\d+/g, '"$1":<id>')
      .replace(/"(raft_term|raftTerm)":\d+/g, '"$1":<term>')
      .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)":\d+/g, '"$1":<n>')
      .replace(/"version":"[^"]*"/g, '"version":"<version>"')
      .replace(/took = [0-9.]+[µmn]?s/g, 'took = <duration>')
      // Member and lease ids, printed with %x (so without leading zeros) or %016x.
      .replace(/\b[0-9a-f]{12,16}\b/g, '<id>')
  );
}
