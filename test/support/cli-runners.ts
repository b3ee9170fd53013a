/**
 * Runs etcdctl (a real process) and sigilctl (in-process, through the same entry function the
 * binary uses) with the same arguments, so CLI tests can compare their outputs side by side.
 */
import { execFile } from 'node:child_process';
import { runSigilctl } from '../../src/cli/sigilctl-program.ts';
import { ETCDCTL_BIN } from './etcd-process.ts';

export interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

const CLI_TIMEOUT_MS = 10_000;

export function runEtcdctl(
  args: readonly string[],
  timeoutMs = CLI_TIMEOUT_MS,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      ETCDCTL_BIN,
      [...args],
      { timeout: timeoutMs, env: { ...process.env, ETCDCTL_API: '3' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

/** Runs a sigilctl command line in this process; `interrupt` ends a running watch. */
export async function runSigilctlInProcess(
  args: readonly string[],
  interrupt: Promise<void> = new Promise<void>(() => undefined),
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runSigilctl(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    interrupted: interrupt,
  });
  return { stdout, stderr, code };
}

/** The last non-empty line of stderr: etcdctl prints client log lines before its `Error:` line. */
export function lastErrorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? '';
}
