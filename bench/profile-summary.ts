/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) by self time: the functions where the process
 * spent its samples, with their share, and the same grouped by source file.
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 40]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const args = process.argv.slice(2);
const file = args.find((arg) => !arg.startsWith('--'));
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 40;
if (file === undefined) {
  process.stderr.write('usage: profile-summary.ts FILE.cpuprofile [--top N]\n');
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

const shortUrl = (url: string): string =>
  url
    .replace(/^file:\/\/.*?\/node_modules\//, 'node_modules/')
    .replace(/^file:\/\/.*?\/(src|bench|test)\//, '$1/')
    .replace(/\?.*$/, '');

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, micros] of selfMicros) {
  const node = byId.get(id);
  if (node === undefined) continue;
  total += micros;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === '(idle)') {
    idle += micros;
    continue;
  }
  const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`;
  const key = `${functionName || '(anonymous)'}${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  const fileKey = url === '' ? `(${functionName})` : shortUrl(url);
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + micros);
}

const busy = total - idle;
const print = (title: string, table: Map<string, number>, limit: number): void => {
  process.stdout.write(`\n${title}\n`);
  const rows = [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  for (const [name, micros] of rows) {
    const share = busy > 0 ? (100 * micros) / busy : 0;
    process.stdout.write(
      `${(micros / 1000).toFixed(0).padStart(8)} ms ${share.toFixed(1).padStart(5)}%  ${name}\n`,
    );
  }
};
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(idle / 1e6).toFixed(1)} s idle, ` +
    `${(busy / 1e6).toFixed(1)} s busy (shares below are of busy time)\n`,
);
print('self time by function', byFunction, top);
print('self time by file', byFile, Math.min(top, 25));
