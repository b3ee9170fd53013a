/**
 * What a member tells an observer as it happens, for the counters and histograms of
 * GET /metrics (src/api/metrics) that its status cannot give at scrape time. Every call is
 * cheap and synchronous; a member without an observer skips them.
 */
export interface MemberObserver {
  /** A leader was learnt that differs from the one before (etcd_server_leader_changes_seen_total). */
  leaderChanged(): void;
}
