/**
 * GET /metrics on the client URL, as etcd serves it: Prometheus text with etcd's metric names
 * where the meaning is the same, so existing etcd dashboards and alerts work, and the process
 * metrics `etcdctl check datascale` reads (process_resident_memory_bytes). Member state is read
 * from the member's own status at scrape time; nothing is sampled in between.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ServerApi } from '../../server/index.ts';

export interface MetricsEndpoint {
  readonly contentType: string;
  /** The exposition text of every metric, collected now. */
  render(): Promise<string>;
}

export interface MemberMetricsOptions {
  /** etcd's --quota-backend-bytes, reported as etcd_server_quota_backend_bytes. */
  readonly quotaBackendBytes: number;
}

/** The member's metrics in a registry of their own (several members may share a process). */
export function createMemberMetrics(
  server: ServerApi,
  options: MemberMetricsOptions,
): MetricsEndpoint {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });

  const hasLeader = gauge(
    'etcd_server_has_leader',
    'Whether or not a leader exists. 1 is existence, 0 is not.',
  );
  const isLeader = gauge(
    'etcd_server_is_leader',
    'Whether or not this member is a leader. 1 if is, 0 otherwise.',
  );
  const isLearner = gauge(
    'etcd_server_is_learner',
    'Whether or not this member is a learner. 1 if is, 0 otherwise.',
  );
  const serverId = gauge(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    ['server_id'],
  );
  const version = gauge(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
    ['server_version'],
  );
  const committed = gauge(
    'etcd_server_proposals_committed_total',
    'The total number of consensus proposals committed.',
  );
  const applied = gauge(
    'etcd_server_proposals_applied_total',
    'The total number of consensus proposals applied.',
  );
  const quota = gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
  );
  const dbSize = gauge(
    'etcd_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
  );
  const dbSizeDebugging = gauge(
    'etcd_debugging_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
  );
  const dbInUse = gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
  );
  const revision = gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.');
  quota.set(options.quotaBackendBytes);

  /** One status read per scrape, shared by every gauge it feeds. */
  const refresh = async (): Promise<void> => {
    const status = await server.status();
    const self = status.header.memberId;
    hasLeader.set(status.leader === 0n ? 0 : 1);
    isLeader.set(status.leader === self ? 1 : 0);
    isLearner.set(status.isLearner ? 1 : 0);
    serverId.reset();
    serverId.set({ server_id: self.toString(16) }, 1);
    version.reset();
    version.set({ server_version: status.version }, 1);
    committed.set(status.raftIndex);
    applied.set(status.raftAppliedIndex);
    dbSize.set(status.dbSize);
    dbSizeDebugging.set(status.dbSize);
    dbInUse.set(status.dbSizeInUse);
    revision.set(status.header.revision);
  };

  return {
    contentType: registry.contentType,
    render: async () => {
      // A member that cannot answer its status (stopping) still serves its process metrics.
      await refresh().catch(() => hasLeader.set(0));
      return registry.metrics();
    },
  };
}
