/**
 * Limits and timings of the TCP transport, each with its unit in its name. Defaults follow
 * etcd's rafthttp where it has an equivalent (4096-message stream buffer, 1 s dial timeout is
 * raised to 3 s here because it also covers our handshake).
 */
import { assert } from '../base/index.ts';

export interface TransportLimits {
  /** Messages waiting for one peer beyond this are dropped and counted. */
  readonly queuedMessagesMax: number;
  /** Bytes (estimated) waiting for one peer beyond this are dropped and counted. */
  readonly queuedBytesMax: number;
  /** Connect plus handshake must finish within this, else the attempt counts as failed. */
  readonly handshakeTimeoutMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** At most one unreachable report per peer per interval: raft needs one per outage, not a
   *  flood. The loss of an established stream, the start of an outage, is always reported. */
  readonly unreachableReportIntervalMs: number;
  /** Snapshot data goes out in chunks of this size so heartbeats wait at most one chunk. */
  readonly snapshotChunkBytes: number;
  /** A snapshot stream that makes no progress (or gets no ack) for this long has failed. */
  readonly snapshotStallTimeoutMs: number;
  /** Accepted connections beyond this are closed at once; a cluster needs a handful. */
  readonly inboundConnectionsMax: number;
  /** How often the dialer pings (and each side checks for silence). */
  readonly pingIntervalMs: number;
  /** A connection on which nothing was heard for this long is closed (and redialled). */
  readonly peerIdleTimeoutMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  queuedMessagesMax: 4096,
  queuedBytesMax: 64 * 1024 * 1024,
  handshakeTimeoutMs: 3000,
  backoffInitialMs: 50,
  backoffMaxMs: 3000,
  unreachableReportIntervalMs: 1000,
  snapshotChunkBytes: 256 * 1024,
  snapshotStallTimeoutMs: 10_000,
  inboundConnectionsMax: 256,
  pingIntervalMs: 1000,
  peerIdleTimeoutMs: 5000,
};

export function validateTransportLimits(limits: TransportLimits): void {
  assert(Number.isInteger(limits.queuedMessagesMax) && limits.queuedMessagesMax >= 1, 'queue');
  assert(limits.queuedBytesMax >= 1024, 'queuedBytesMax below 1 KiB');
  assert(limits.handshakeTimeoutMs >= 1, 'handshakeTimeoutMs');
  assert(limits.backoffInitialMs >= 1, 'backoffInitialMs');
  assert(limits.backoffMaxMs >= limits.backoffInitialMs, 'backoffMaxMs below backoffInitialMs');
  assert(limits.unreachableReportIntervalMs >= 0, 'unreachableReportIntervalMs');
  assert(
    Number.isInteger(limits.snapshotChunkBytes) &&
      limits.snapshotChunkBytes >= 1 &&
      limits.snapshotChunkBytes <= 16 * 1024 * 1024,
    'snapshotChunkBytes must be in [1 B, 16 MiB]',
  );
  assert(limits.snapshotStallTimeoutMs >= 1, 'snapshotStallTimeoutMs');
  assert(limits.inboundConnectionsMax >= 1, 'inboundConnectionsMax');
  assert(limits.pingIntervalMs >= 1, 'pingIntervalMs');
  assert(limits.peerIdleTimeoutMs >= 2 * limits.pingIntervalMs, 'idle timeout below 2 pings');
}
