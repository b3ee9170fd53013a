/**
 * GET /metrics on the client URL, as etcd serves it: Prometheus text with etcd's metric names
 * where the meaning is the same, so existing etcd dashboards and alerts work, and the process
 * metrics `etcdctl check datascale` reads (process_resident_memory_bytes). Member state is read
 * from the member's own status at scrape time; nothing is sampled in between.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { MemberObserver, ServerApi } from '../../server/index.ts';

export interface MetricsEndpoint {
  readonly contentType: string;
  /** The exposition text of every metric, collected now. */
  render(): Promise<string>;
}

export interface MemberMetricsOptions {
  /** etcd's --quota-backend-bytes, reported as etcd_server_quota_backend_bytes. */
  readonly quotaBackendBytes: number;
}

/**
 * One member's metrics, in a registry of their own (several members may share a process).
 * Created before the member so its observer can be handed to it; `endpoint(member)` then serves
 * them together with what the member's status says at scrape time.
 */
export class MemberMetrics {
  private readonly registry = new Registry();
  private readonly leaderChanges: Counter;
  readonly observer: MemberObserver;

  constructor(private readonly options: MemberMetricsOptions) {
    collectDefaultMetrics({ register: this.registry });
    this.leaderChanges = new Counter({
      name: 'etcd_server_leader_changes_seen_total',
      help: 'Times this member learnt of a new leader.',
      registers: [this.registry],
    });
    this.observer = { leaderChanged: () => this.leaderChanges.inc() };
  }

  endpoint(server: ServerApi): MetricsEndpoint {
    const registry = this.registry;
    const gauge = (name: string, help: string, labelNames: string[] = []): Gauge =>
      new Gauge({ name, help, labelNames, registers: [registry] });
    const hasLeader = gauge(
      'etcd_server_has_leader',
      '1 while this member knows a leader, else 0.',
    );
    const isLeader = gauge('etcd_server_is_leader', '1 while this member leads, else 0.');
    const isLearner = gauge(
      'etcd_server_is_learner',
      '1 while this member is a non-voting learner, else 0.',
    );
    const serverId = gauge(
      'etcd_server_id',
      'Always 1; the server_id label carries this member id in hex.',
      ['server_id'],
    );
    const version = gauge(
      'etcd_server_version',
      'Always 1; the server_version label carries the etcd version reported.',
      ['server_version'],
    );
    const committed = gauge(
      'etcd_server_proposals_committed_total',
      'Raft index committed (every committed entry, as etcd counts it).',
    );
    const applied = gauge(
      'etcd_server_proposals_applied_total',
      'Raft index applied to the state machine.',
    );
    const quota = gauge(
      'etcd_server_quota_backend_bytes',
      'The --quota-backend-bytes above which NOSPACE is raised.',
    );
    const dbSize = gauge(
      'etcd_mvcc_db_total_size_in_bytes',
      'Bytes the backend file takes on disk.',
    );
    const dbSizeDebugging = gauge(
      'etcd_debugging_mvcc_db_total_size_in_bytes',
      'Bytes the backend file takes on disk.',
    );
    const dbInUse = gauge(
      'etcd_mvcc_db_total_size_in_use_in_bytes',
      'Bytes of the backend file holding live data (the rest is reusable).',
    );
    const revision = gauge(
      'etcd_debugging_mvcc_current_revision',
      'The store revision after the last applied write.',
    );
    quota.set(this.options.quotaBackendBytes);

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
}
