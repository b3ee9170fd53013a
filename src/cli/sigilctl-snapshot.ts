/**
 * `sigilctl snapshot save|status|restore`, as etcdctl 3.4's. `save` streams Maintenance.Snapshot
 * into FILE.part, checks the SHA-256 the stream ends with, then fsyncs and renames, so a failed
 * or interrupted save never leaves a file that looks complete. `status` prints etcdctl's figures
 * after checking the hash and every page. `restore` lives in sigilctl-snapshot-restore.ts.
 */
import { rmSync, renameSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { snapshotStatus, type SnapshotStatus, verifySnapshotFile } from '../backup/index.ts';
import { SigilClient } from '../client/index.ts';
import { registerSnapshotRestore } from './sigilctl-snapshot-restore.ts';
import { humanizeBytes, parseDurationMs, renderTable } from './sigilctl-text.ts';

/** Where the commands write (sigilctl-program's CliIo; declared here to avoid an import cycle). */
export interface SnapshotIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves when the user interrupts (a save in progress is abandoned). */
  readonly interrupted: Promise<void>;
}

interface GlobalFlags {
  endpoints: string;
  dialTimeout: string;
  writeOut: string;
}

export interface SnapshotCommandOptions {
  /** Whether stderr is a terminal (progress is drawn only then). */
  readonly stderrIsTty?: () => boolean;
}

/** One line of progress, redrawn in place: `[#####.....]  45% 12 MB / 27 MB`. */
export function progressLine(receivedBytes: number, totalBytes: number): string {
  const width = 30;
  if (totalBytes <= 0) return `\r${humanizeBytes(receivedBytes)}`;
  const fraction = Math.min(1, receivedBytes / totalBytes);
  const filled = Math.round(fraction * width);
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  return `\r[${bar}] ${percent}% ${humanizeBytes(receivedBytes)} / ${humanizeBytes(totalBytes)}`;
}

async function saveSnapshot(
  io: SnapshotIo,
  globals: GlobalFlags,
  path: string,
  showProgress: boolean,
): Promise<void> {
  const endpoints = globals.endpoints.split(',').filter((entry) => entry !== '');
  if (endpoints.length !== 1) {
    throw new Error(
      `snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`,
    );
  }
  const client = new SigilClient({
    endpoints,
    dialTimeoutMs: parseDurationMs(globals.dialTimeout),
  });
  const partPath = `${path}.part`;
  const file = await open(partPath, 'w', 0o600);
  let interrupted = false;
  void io.interrupted.then(() => {
    interrupted = true;
  });
  let received = 0;
  let total = 0;
  try {
    // The first message tells the database size: its bytes plus what remains after it.
    let remaining = -1;
    const chunks = client.maintenance.snapshot({
      onRemainingBytes: (bytes) => {
        remaining = bytes;
      },
    });
    for await (const chunk of chunks) {
      if (interrupted) throw new Error('snapshot save interrupted');
      if (total === 0 && remaining >= 0) total = remaining + chunk.length;
      await file.write(chunk);
      received += chunk.length;
      if (showProgress) io.stderr(progressLine(Math.min(received, total), total));
    }
    if (showProgress) io.stderr('\n');
    await file.sync();
    await file.close();
    // The stream ends with the SHA-256 of the database: check what reached the disk.
    verifySnapshotFile(partPath, 'require');
    renameSync(partPath, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    rmSync(partPath, { force: true });
    throw error;
  } finally {
    client.close();
  }
  io.stdout(`Snapshot saved at ${path}\n`);
}

export function formatSnapshotStatus(status: SnapshotStatus, format: string): string {
  if (format === 'json') {
    // etcdctl marshals every field, zeros included.
    return JSON.stringify({
      hash: status.hash,
      revision: status.revision,
      totalKey: status.totalKey,
      totalSize: status.totalSize,
    });
  }
  const hash = status.hash.toString(16);
  const size = humanizeBytes(status.totalSize);
  if (format === 'table') {
    return renderTable(
      ['hash', 'revision', 'total keys', 'total size'].map((title) => title.toUpperCase()),
      [[hash, String(status.revision), String(status.totalKey), size]],
    );
  }
  return `${hash}, ${status.revision}, ${status.totalKey}, ${size}`;
}

export function registerSnapshotCommands(
  program: Command,
  io: SnapshotIo,
  options: SnapshotCommandOptions = {},
): void {
  const stderrIsTty = options.stderrIsTty ?? (() => process.stderr.isTTY === true);
  const snapshot = program.command('snapshot').description('Manages etcd node snapshots');
  snapshot
    .command('save <filename>')
    .description('Stores an etcd node backend snapshot to a given file')
    .action(async (path: string, _flags, command: Command) => {
      await saveSnapshot(io, command.optsWithGlobals<GlobalFlags>(), path, stderrIsTty());
    });
  snapshot
    .command('status <filename>')
    .description('Gets backend snapshot status of a given file')
    .action((path: string, _flags, command: Command) => {
      const { writeOut } = command.optsWithGlobals<GlobalFlags>();
      io.stdout(`${formatSnapshotStatus(snapshotStatus(path), writeOut)}\n`);
    });
  registerSnapshotRestore(snapshot, io);
}
