/**
 * The server flags sigild understands, with etcd 3.5's names and defaults
 * (shared/ETCD-COMPAT.md §3e). Flags etcd has but Sigil does not implement yet are accepted,
 * so existing launch scripts keep working, and named in a warning at start-up.
 */

export type FlagKind = 'string' | 'bool';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly description: string;
  /** Textual default; `{name}` style defaults that depend on other flags are filled later. */
  readonly defaultValue?: string;
}

export const IMPLEMENTED_FLAGS: readonly FlagSpec[] = [
  {
    name: 'name',
    kind: 'string',
    description: 'human-readable name for this member',
    defaultValue: 'default',
  },
  {
    name: 'data-dir',
    kind: 'string',
    description: 'path to the data directory (default "<name>.sigil")',
  },
  {
    name: 'listen-client-urls',
    kind: 'string',
    description: 'URLs to listen on for client traffic',
    defaultValue: 'http://127.0.0.1:2379',
  },
  {
    name: 'advertise-client-urls',
    kind: 'string',
    description: 'client URLs to advertise to the cluster (default: --listen-client-urls)',
  },
  {
    name: 'listen-peer-urls',
    kind: 'string',
    description: 'URLs to listen on for peer traffic',
    defaultValue: 'http://127.0.0.1:2380',
  },
  {
    name: 'initial-advertise-peer-urls',
    kind: 'string',
    description: "this member's peer URLs to advertise (default: --listen-peer-urls)",
  },
  {
    name: 'initial-cluster',
    kind: 'string',
    description:
      'initial cluster configuration for bootstrapping (default "<name>=<initial-advertise-peer-urls>")',
  },
  {
    name: 'initial-cluster-state',
    kind: 'string',
    description: 'initial cluster state: new or existing',
    defaultValue: 'new',
  },
  {
    name: 'initial-cluster-token',
    kind: 'string',
    description: 'initial cluster token for bootstrapping',
    defaultValue: 'etcd-cluster',
  },
  {
    name: 'heartbeat-interval',
    kind: 'string',
    description: 'time (in milliseconds) of a heartbeat interval',
    defaultValue: '100',
  },
  {
    name: 'election-timeout',
    kind: 'string',
    description: 'time (in milliseconds) for an election to timeout',
    defaultValue: '1000',
  },
  {
    name: 'snapshot-count',
    kind: 'string',
    description: 'number of committed transactions to trigger a snapshot to disk',
    defaultValue: '100000',
  },
  {
    name: 'max-snapshots',
    kind: 'string',
    description: 'maximum number of snapshot files to retain',
    defaultValue: '5',
  },
  {
    name: 'quota-backend-bytes',
    kind: 'string',
    description: 'raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB)',
    defaultValue: '0',
  },
  {
    name: 'max-request-bytes',
    kind: 'string',
    description: 'maximum client request size in bytes the server will accept',
    defaultValue: '1572864',
  },
  {
    name: 'max-txn-ops',
    kind: 'string',
    description: 'maximum number of operations permitted in a transaction',
    defaultValue: '128',
  },
  {
    name: 'auto-compaction-mode',
    kind: 'string',
    description: "interpret 'auto-compaction-retention' as periodic (duration) or revision",
    defaultValue: 'periodic',
  },
  {
    name: 'auto-compaction-retention',
    kind: 'string',
    description: 'auto compaction retention (0 = off; periodic: hours or a duration like 30m)',
    defaultValue: '0',
  },
  {
    name: 'auto-promote-learners',
    kind: 'bool',
    description: 'the leader promotes a learner to voter once its log has caught up (Sigil)',
    defaultValue: 'false',
  },
  {
    name: 'log-level',
    kind: 'string',
    description: 'log level: debug, info, warn, error, panic, or fatal',
    defaultValue: 'info',
  },
];

export const UNIMPLEMENTED_FLAGS: readonly FlagSpec[] = [
  ...[
    'wal-dir',
    'discovery',
    'discovery-srv',
    'max-wals',
    'cert-file',
    'key-file',
    'peer-cert-file',
    'peer-key-file',
    'trusted-ca-file',
    'peer-trusted-ca-file',
    'client-crl-file',
    'cipher-suites',
    'tls-min-version',
    'tls-max-version',
    'auth-token',
    'bcrypt-cost',
    'auth-token-ttl',
    'listen-metrics-urls',
    'metrics',
    'logger',
    'log-outputs',
    'experimental-watch-progress-notify-interval',
  ].map((name): FlagSpec => ({
    name,
    kind: 'string',
    description: 'accepted for etcd compatibility; not implemented',
  })),
  ...[
    'strict-reconfig-check',
    'pre-vote',
    'client-cert-auth',
    'peer-client-cert-auth',
    'auto-tls',
    'peer-auto-tls',
    'enable-pprof',
    'force-new-cluster',
    'experimental-enable-lease-checkpoint',
  ].map((name): FlagSpec => ({
    name,
    kind: 'bool',
    description: 'accepted for etcd compatibility; not implemented',
  })),
];

/** ETCD_DATA_DIR / SIGIL_DATA_DIR for --data-dir. */
export const envSuffixOf = (flag: string): string => flag.toUpperCase().replaceAll('-', '_');
