/**
 * A sigild process that joins a running cluster of test/support/sigild-cluster.ts, as an
 * operator would after `member add`: `--initial-cluster-state existing` and an
 * --initial-cluster naming the running members and itself. Bounded waits; stop() sends SIGTERM
 * (SIGKILL after a bound) and removes the data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocatePort, SIGILD_BIN, type SigildCluster } from '../support/sigild-cluster.ts';

const STOP_TIMEOUT_MS = 5_000;

export interface SigildJoiner {
  readonly name: string;
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  log(): string;
  /** Starts the same member again on its ports and data dir (after it exited). */
  restart(): SigildJoiner;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Ports for a member about to be added; its peer URL is what `member add` needs. */
export async function reserveJoiner(
  name: string,
): Promise<{ name: string; endpoint: string; peerUrl: string; dataDir: string }> {
  const endpoint = `127.0.0.1:${await allocatePort()}`;
  const peerUrl = `http://127.0.0.1:${await allocatePort()}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'sigil-joiner-'));
  return { name, endpoint, peerUrl, dataDir };
}

export function startJoiner(
  cluster: SigildCluster,
  reserved: { name: string; endpoint: string; peerUrl: string; dataDir: string },
  extraArgs: readonly string[] = [],
): SigildJoiner {
  const initialCluster = [
    ...cluster.members.map((member) => `${member.name}=${member.peerUrl}`),
    `${reserved.name}=${reserved.peerUrl}`,
  ].join(',');
  const args = [
    `--name=${reserved.name}`,
    `--data-dir=${join(reserved.dataDir, 'data')}`,
    `--listen-client-urls=http://${reserved.endpoint}`,
    `--advertise-client-urls=http://${reserved.endpoint}`,
    `--listen-peer-urls=${reserved.peerUrl}`,
    `--initial-advertise-peer-urls=${reserved.peerUrl}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=existing',
    '--log-level=info',
    ...extraArgs,
  ];
  const launch = (): SigildJoiner => {
    let stderr = '';
    const child = spawn(SIGILD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.unref();
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-64_000);
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    process.once('exit', () => child.kill('SIGKILL'));
    return {
      ...reserved,
      process: child,
      exited,
      log: () => stderr,
      restart: launch,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          const bound = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(bound);
        }
        await rm(reserved.dataDir, { recursive: true, force: true });
      },
    };
  };
  return launch();
}
