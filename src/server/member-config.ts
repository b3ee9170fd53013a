/**
 * What a member is configured with (etcd's server flags, already parsed and validated by the
 * composition root) and the I/O it is handed. The member never constructs I/O itself, so the
 * simulator can hand it a virtual clock, a faulty disk and an in-memory network.
 */
import { assert, type Clock, type Random } from '../base/index.ts';
import type { Backend, FileSystem } from '../storage/index.ts';
import type { Logger, PeerTransport } from '../transport/index.ts';
import type { FoundingMember } from './raft-storage.ts';
import type { MemberObserver } from './member-observer.ts';

export type { Logger };

export type AutoCompaction =
  | { readonly mode: 'periodic'; readonly retentionMs: number }
  | { readonly mode: 'revision'; readonly retentionRevisions: number };

export interface MemberConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly initialCluster: readonly FoundingMember[];
  readonly initialClusterState: 'new' | 'existing';
  /** This member's advertised client URLs (published to the member list). */
  readonly clientUrls: readonly string[];
  readonly heartbeatMs: number;
  readonly electionMs: number;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  readonly snapshotCount: number;
  /** Entries kept in memory after a snapshot so slow followers can catch up without one. */
  readonly snapshotCatchUpEntries: number;
  readonly maxSnapshots: number;
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly autoCompaction: AutoCompaction | null;
  /** etcd: 5 s + 2 × election timeout. */
  readonly requestTimeoutMs: number;
  /** The leader promotes a learner as soon as it has caught up (--auto-promote-learners). */
  readonly autoPromoteLearners?: boolean;
  /** Small segments in tests; default 64 MiB. */
  readonly walSegmentBytes?: number;
}

export interface MemberEnvironment {
  readonly clock: Clock;
  readonly random: Random;
  readonly fs: FileSystem;
  readonly backend: Backend;
  readonly transport: PeerTransport;
  readonly logger: Logger;
  /** Wall-clock milliseconds, only to seed request ids (etcd's idutil does the same). */
  readonly wallClockMs: () => number;
  /** Sends a MemberPromote to the leader at `leaderClientUrls` (etcd forwards promotions to
   *  the leader, which alone knows whether the learner has caught up). Without it, a follower
   *  answers "not leader". */
  readonly forwardPromote?: (leaderClientUrls: readonly string[], id: bigint) => Promise<void>;
  /** Asks the member at a peer URL for its cluster info (membership-join.ts); a member that
   *  lost its leader uses it to find out whether it was removed. Absent: it never asks. */
  readonly fetchClusterInfo?: (peerUrl: string) => Promise<Uint8Array>;
  /** Runs background work soon (default setImmediate); the simulator passes its own. */
  readonly schedule?: (task: () => void) => void;
  /** Told of events for metrics; absent: nobody counts them. */
  readonly observer?: MemberObserver;
}

export const ETCD_SNAPSHOT_CATCH_UP_ENTRIES = 5_000;

/** etcd's defaults, for the fields a caller usually does not care about. */
export function memberConfigDefaults(
  required: Pick<
    MemberConfig,
    'name' | 'dataDir' | 'memberId' | 'clusterId' | 'initialCluster' | 'clientUrls'
  >,
  overrides: Partial<MemberConfig> = {},
): MemberConfig {
  const electionMs = overrides.electionMs ?? 1000;
  return {
    initialClusterState: 'new',
    heartbeatMs: 100,
    electionMs,
    snapshotCount: 100_000,
    snapshotCatchUpEntries: ETCD_SNAPSHOT_CATCH_UP_ENTRIES,
    maxSnapshots: 5,
    quotaBackendBytes: 2 * 1024 ** 3,
    maxRequestBytes: 1_572_864,
    maxTxnOps: 128,
    autoCompaction: null,
    requestTimeoutMs: 5000 + 2 * electionMs,
    ...required,
    ...overrides,
  };
}

export function validateMemberConfig(config: MemberConfig): void {
  assert(config.memberId > 0n && config.memberId < 1n << 64n, 'member id is a nonzero u64');
  assert(config.heartbeatMs > 0 && Number.isInteger(config.heartbeatMs), 'heartbeat > 0');
  assert(config.electionMs >= 2 * config.heartbeatMs, 'election timeout ≥ 2 heartbeats');
  assert(config.snapshotCount >= 1, 'snapshot count ≥ 1');
  assert(config.snapshotCatchUpEntries >= 0, 'catch-up entries ≥ 0');
  assert(config.maxSnapshots >= 1, 'keep at least one snapshot');
  assert(config.requestTimeoutMs > 0, 'request timeout > 0');
  assert(
    config.initialCluster.some((member) => member.id === config.memberId),
    'this member is in its initial cluster',
  );
}

/** etcd's minimum lease TTL: ceil(1.5 × election timeout) in seconds (2 s by default). */
export function minLeaseTtlSeconds(
  config: Pick<MemberConfig, 'electionMs' | 'heartbeatMs'>,
): number {
  const electionTicks = Math.round(config.electionMs / config.heartbeatMs);
  const minTtlMs = Math.floor((3 * electionTicks) / 2) * config.heartbeatMs;
  return Math.ceil(minTtlMs / 1000);
}
