/**
 * Parses sigild's command line and environment into validated options. Precedence: a flag on
 * the command line, then SIGIL_<FLAG>, then ETCD_<FLAG> (etcd's own variables, so an etcd
 * environment file works unchanged), then the default. Unknown flags and malformed values are
 * errors (exit code 2, as Go's flag package); etcd flags Sigil does not implement are accepted
 * with a warning naming them.
 */
import { Command, CommanderError, Option } from 'commander';
import {
  envSuffixOf,
  IMPLEMENTED_FLAGS,
  UNIMPLEMENTED_FLAGS,
  type FlagSpec,
} from './sigild-flag-specs.ts';

export const USAGE_EXIT_CODE = 2;
export const SIGILD_VERSION = '0.1.0';
export const ETCD_API_VERSION = '3.5.0';

export type AutoCompactionOption =
  | { readonly mode: 'periodic'; readonly retentionMs: number }
  | { readonly mode: 'revision'; readonly retentionRevisions: number };

export interface InitialClusterMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface SigildOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly initialCluster: readonly InitialClusterMember[];
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly snapshotCount: number;
  readonly maxSnapshots: number;
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly autoCompaction: AutoCompactionOption | null;
  readonly logLevel: LogLevel;
  readonly autoPromoteLearners: boolean;
}

export type ParseOutcome =
  | { readonly kind: 'run'; readonly options: SigildOptions; readonly warnings: readonly string[] }
  | {
      readonly kind: 'exit';
      readonly code: number;
      readonly stdout: string;
      readonly stderr: string;
    };

export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 ** 3;

class FlagError extends Error {}

export function parseSigildArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParseOutcome {
  let stdout = '';
  let stderr = '';
  const program = new Command('sigild')
    .description("Sigil KV member: a Raft-replicated key-value store serving etcd's v3 API")
    .version(
      `sigild Version: ${SIGILD_VERSION}\netcd API Version: ${ETCD_API_VERSION}`,
      '--version',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void (stdout += text),
      writeErr: (text) => void (stderr += text),
    })
    .allowExcessArguments(false);
  for (const spec of [...IMPLEMENTED_FLAGS, ...UNIMPLEMENTED_FLAGS]) {
    const flags = spec.kind === 'bool' ? `--${spec.name} [bool]` : `--${spec.name} <value>`;
    program.addOption(new Option(flags, spec.description));
  }
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      const code = error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
      return { kind: 'exit', code, stdout, stderr: stderr || `${error.message}\n` };
    }
    throw error;
  }
  const warnings: string[] = [];
  const lookup = (spec: FlagSpec): string | undefined => {
    const key = spec.name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    if (program.getOptionValueSource(key) === 'cli') {
      const value = program.getOptionValue(key) as string | boolean;
      return value === true ? 'true' : String(value);
    }
    const suffix = envSuffixOf(spec.name);
    return env[`SIGIL_${suffix}`] ?? env[`ETCD_${suffix}`];
  };
  const unimplemented = UNIMPLEMENTED_FLAGS.filter((spec) => lookup(spec) !== undefined);
  if (unimplemented.length > 0) {
    const names = unimplemented.map((spec) => `--${spec.name}`).join(', ');
    warnings.push(`ignoring etcd flags Sigil does not implement yet: ${names}`);
  }
  const known = new Set(
    [...IMPLEMENTED_FLAGS, ...UNIMPLEMENTED_FLAGS].map((spec) => envSuffixOf(spec.name)),
  );
  for (const variable of Object.keys(env)) {
    const match = /^(ETCD|SIGIL)_(.+)$/.exec(variable);
    if (match !== null && !known.has(match[2])) {
      warnings.push(`unrecognized environment variable ${variable}`);
    }
  }
  const value = (name: string): string => {
    const spec = IMPLEMENTED_FLAGS.find((candidate) => candidate.name === name);
    if (spec === undefined) throw new Error(`no flag --${name}`);
    return lookup(spec) ?? spec.defaultValue ?? '';
  };
  try {
    return { kind: 'run', options: resolveOptions(value), warnings };
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    return { kind: 'exit', code: USAGE_EXIT_CODE, stdout, stderr: `sigild: ${error.message}\n` };
  }
}

function resolveOptions(value: (name: string) => string): SigildOptions {
  const name = value('name');
  if (name === '') throw new FlagError('--name must not be empty');
  const listenClientUrls = parseUrls('listen-client-urls', value('listen-client-urls'));
  const listenPeerUrls = parseUrls('listen-peer-urls', value('listen-peer-urls'));
  const advertised = value('advertise-client-urls');
  const advertisedPeers = value('initial-advertise-peer-urls');
  const initialAdvertisePeerUrls =
    advertisedPeers === ''
      ? listenPeerUrls
      : parseUrls('initial-advertise-peer-urls', advertisedPeers);
  const clusterText = value('initial-cluster');
  const initialCluster =
    clusterText === ''
      ? [{ name, peerUrls: initialAdvertisePeerUrls }]
      : parseInitialCluster(clusterText);
  checkThisMember(name, initialCluster, initialAdvertisePeerUrls);
  const state = value('initial-cluster-state');
  if (state !== 'new' && state !== 'existing') {
    throw new FlagError(`--initial-cluster-state must be "new" or "existing", got "${state}"`);
  }
  const heartbeatMs = parseInteger('heartbeat-interval', value('heartbeat-interval'), 1);
  const electionMs = parseInteger('election-timeout', value('election-timeout'), 1);
  if (electionMs < 5 * heartbeatMs) {
    throw new FlagError(
      `--election-timeout[${electionMs}ms] should be at least 5 times --heartbeat-interval[${heartbeatMs}ms]`,
    );
  }
  if (electionMs > 50_000) throw new FlagError('--election-timeout must be at most 50000 (ms)');
  const quota = parseInteger('quota-backend-bytes', value('quota-backend-bytes'), 0);
  const dataDir = value('data-dir');
  return {
    name,
    dataDir: dataDir === '' ? `${name}.sigil` : dataDir,
    listenClientUrls,
    advertiseClientUrls:
      advertised === '' ? listenClientUrls : parseUrls('advertise-client-urls', advertised),
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: state,
    initialClusterToken: value('initial-cluster-token'),
    heartbeatMs,
    electionMs,
    snapshotCount: parseInteger('snapshot-count', value('snapshot-count'), 1),
    maxSnapshots: parseInteger('max-snapshots', value('max-snapshots'), 1),
    quotaBackendBytes: quota === 0 ? DEFAULT_QUOTA_BACKEND_BYTES : quota,
    maxRequestBytes: parseInteger('max-request-bytes', value('max-request-bytes'), 1),
    maxTxnOps: parseInteger('max-txn-ops', value('max-txn-ops'), 1),
    autoCompaction: parseAutoCompaction(
      value('auto-compaction-mode'),
      value('auto-compaction-retention'),
    ),
    logLevel: parseLogLevel(value('log-level')),
    autoPromoteLearners: parseBool('auto-promote-learners', value('auto-promote-learners')),
  };
}

function parseBool(flag: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0' || text === '') return false;
  throw new FlagError(`invalid value "${text}" for --${flag}: want true or false`);
}

function parseInteger(flag: string, text: string, minimum: number): number {
  const parsed = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < minimum) {
    throw new FlagError(`invalid value "${text}" for --${flag}: want an integer ≥ ${minimum}`);
  }
  return parsed;
}

export function parseUrls(flag: string, text: string): string[] {
  const urls = text.split(',').map((part) => part.trim());
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FlagError(`invalid URL "${url}" in --${flag}`);
    }
    if (parsed.protocol === 'https:') {
      throw new FlagError(
        `--${flag}: https URLs need TLS, which Sigil does not support yet (${url})`,
      );
    }
    if (parsed.protocol !== 'http:') {
      throw new FlagError(`--${flag}: URL scheme must be http, got "${url}"`);
    }
    if (parsed.hostname === '' || parsed.port === '') {
      throw new FlagError(`--${flag}: URL must have a host and a port, got "${url}"`);
    }
    if (parsed.pathname !== '/' && parsed.pathname !== '') {
      throw new FlagError(`--${flag}: URL must not have a path, got "${url}"`);
    }
  }
  return urls;
}

export function parseInitialCluster(text: string): InitialClusterMember[] {
  const members = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) throw new FlagError(`--initial-cluster: "${part}" is not name=url`);
    const name = part.slice(0, at).trim();
    const [url] = parseUrls('initial-cluster', part.slice(at + 1));
    members.set(name, [...(members.get(name) ?? []), url]);
  }
  const seen = new Set<string>();
  for (const urls of members.values()) {
    for (const url of urls) {
      if (seen.has(url)) throw new FlagError(`--initial-cluster: URL ${url} appears twice`);
      seen.add(url);
    }
  }
  return [...members].map(([name, peerUrls]) => ({ name, peerUrls }));
}

function checkThisMember(
  name: string,
  cluster: readonly InitialClusterMember[],
  advertised: readonly string[],
): void {
  const self = cluster.find((member) => member.name === name);
  if (self === undefined) {
    throw new FlagError(`--initial-cluster has no member named "${name}" (--name)`);
  }
  const sortedSelf = [...self.peerUrls].sort().join(',');
  const sortedAdvertised = [...advertised].sort().join(',');
  if (sortedSelf !== sortedAdvertised) {
    throw new FlagError(
      `--initial-cluster has ${name}=${self.peerUrls.join(',')} but --initial-advertise-peer-urls is ${advertised.join(',')}`,
    );
  }
}

function parseAutoCompaction(mode: string, retention: string): AutoCompactionOption | null {
  if (mode !== 'periodic' && mode !== 'revision') {
    throw new FlagError(`--auto-compaction-mode must be "periodic" or "revision", got "${mode}"`);
  }
  if (retention === '' || retention === '0') return null;
  if (mode === 'revision') {
    return { mode, retentionRevisions: parseInteger('auto-compaction-retention', retention, 1) };
  }
  // etcd: a bare number is hours; otherwise a Go duration such as 30m or 1h30m.
  if (/^\d+$/.test(retention)) return { mode, retentionMs: Number(retention) * 3_600_000 };
  const retentionMs = parseGoDurationMs(retention);
  if (retentionMs === null || retentionMs <= 0) {
    throw new FlagError(
      `invalid --auto-compaction-retention "${retention}": want hours or a duration like 30m`,
    );
  }
  return { mode, retentionMs };
}

const DURATION_UNITS_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

export function parseGoDurationMs(text: string): number | null {
  const pattern = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]];
    consumed = pattern.lastIndex;
  }
  return consumed === text.length && text.length > 0 ? total : null;
}

function parseLogLevel(text: string): LogLevel {
  if (text === 'debug' || text === 'info' || text === 'warn' || text === 'error') return text;
  if (text === 'dpanic' || text === 'panic' || text === 'fatal') return 'fatal';
  throw new FlagError(
    `--log-level must be debug, info, warn, error, panic or fatal, got "${text}"`,
  );
}
