/**
 * WAL group-commit benchmark on the real disk: 64 concurrent appenders each append 300-byte
 * entries, awaiting each one, until `totalRecords` are durable. Reports records/s, records per
 * fsync, append latency percentiles, and the raw fsync latency of the same disk for scale.
 *
 *   node --import tsx bench/storage/wal-bench.ts [totalRecords]
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { asLogIndex, asTerm } from '../../src/base/index.ts';
import type { Entry } from '../../src/raft/types.ts';
import {
  createWal,
  NodeFileSystem,
  walDirectory,
  type FileHandle,
  type FileSystem,
  type OpenMode,
} from '../../src/storage/index.ts';

const appenderCount = 64;
const entryBytes = 300;
const rawFsyncSamples = 500;

/** Counts fsyncs the WAL really issues (batches plus segment preparation). */
class CountingFileSystem extends NodeFileSystem {
  syncs = 0;
  syncMs = 0;
  writeMs = 0;
  override async open(path: string, mode: OpenMode): Promise<FileHandle> {
    const handle = await super.open(path, mode);
    const sync = handle.sync.bind(handle);
    const write = handle.write.bind(handle);
    handle.sync = async () => {
      this.syncs++;
      const start = performance.now();
      await sync();
      this.syncMs += performance.now() - start;
    };
    const writeAndSync = handle.writeAndSync.bind(handle);
    handle.write = async (data, position) => {
      const start = performance.now();
      await write(data, position);
      this.writeMs += performance.now() - start;
    };
    // The WAL's hot path: one call that writes and fdatasyncs (counted as write + sync time).
    handle.writeAndSync = async (data, position) => {
      this.syncs++;
      const start = performance.now();
      await writeAndSync(data, position);
      this.syncMs += performance.now() - start;
    };
    return handle;
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

async function measureRawFsync(directory: string): Promise<number[]> {
  const file = await open(join(directory, 'fsync-probe'), 'w');
  const block = Buffer.alloc(entryBytes, 1);
  const latencies: number[] = [];
  await file.write(Buffer.alloc(1 << 20), 0, 1 << 20, 0);
  await file.sync();
  for (let i = 0; i < rawFsyncSamples; i++) {
    const start = performance.now();
    await file.write(block, 0, block.length, (i * entryBytes) % (1 << 20));
    await file.datasync();
    latencies.push(performance.now() - start);
  }
  await file.close();
  return latencies.sort((left, right) => left - right);
}

async function runAppenders(fs: FileSystem, directory: string, totalRecords: number) {
  const { wal } = await createWal(fs, walDirectory(directory), new Uint8Array(8));
  const data = new Uint8Array(entryBytes).fill(0x5a);
  const latencies = new Float64Array(totalRecords);
  let issued = 0;
  const appender = async (): Promise<void> => {
    while (issued < totalRecords) {
      const index = ++issued;
      const entry: Entry = { index: asLogIndex(index), term: asTerm(1), type: 'normal', data };
      const start = performance.now();
      await wal.save(null, [entry]);
      latencies[index - 1] = performance.now() - start;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: appenderCount }, appender));
  const elapsedMs = performance.now() - start;
  const stats = { ...wal.stats() };
  await wal.close();
  return { elapsedMs, stats, latencies: Array.from(latencies).sort((left, right) => left - right) };
}

export async function runWalBench(totalRecords = 200_000): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'sigil-wal-bench-'));
  try {
    const raw = await measureRawFsync(directory);
    const fs = new CountingFileSystem();
    const syncsBefore = fs.syncs;
    const run = await runAppenders(fs, directory, totalRecords);
    const fsyncs = fs.syncs - syncsBefore;
    const format = (ms: number): string => `${ms.toFixed(3)} ms`;
    const lines = [
      `wal-bench: ${totalRecords} records of ${entryBytes} B, ${appenderCount} appenders, dir ${directory}`,
      `  throughput          ${Math.round(totalRecords / (run.elapsedMs / 1000))} records/s (${(run.elapsedMs / 1000).toFixed(2)} s)`,
      `  records per batch   ${(run.stats.records / run.stats.batches).toFixed(1)} (${run.stats.batches} batches)`,
      `  records per fsync   ${(totalRecords / fsyncs).toFixed(1)} (${fsyncs} fsyncs incl. segment preparation)`,
      `  time in fsync       ${(fs.syncMs / 1000).toFixed(2)} s (incl. write+fsync calls), in plain writes ${(fs.writeMs / 1000).toFixed(2)} s`,
      `  append latency      p50 ${format(percentile(run.latencies, 0.5))}  p99 ${format(percentile(run.latencies, 0.99))}`,
      `  raw fsync latency   p50 ${format(percentile(raw, 0.5))}  p99 ${format(percentile(raw, 0.99))} (${entryBytes} B write + fdatasync)`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argument = process.argv[2];
  await runWalBench(argument === undefined ? undefined : Number.parseInt(argument, 10));
}
