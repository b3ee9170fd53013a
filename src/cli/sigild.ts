/**
 * sigild: the composition root of a Sigil member — the only place that builds real I/O (disk,
 * LMDB, TCP peers, wall clock, pino). It parses etcd's server flags, opens or bootstraps the
 * member (or joins a running cluster, see sigild-identity.ts), starts the client API, and on
 * SIGINT/SIGTERM first hands leadership to the most caught-up voter if it leads, then stops in
 * order: client API, raft loop (the Ready in progress finishes, so the WAL is flushed), peer
 * transport, backend. A member removed from the cluster stops the same way by itself.
 */
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import { MemberMetrics, startClientApi, type ClientApi } from '../api/index.ts';
import { asMemberId, SeededRandom } from '../base/index.ts';
import {
  memberConfigDefaults,
  startMember,
  type Logger,
  type SigilMember,
} from '../server/index.ts';
import { LmdbBackend, NodeFileSystem } from '../storage/index.ts';
import { fetchClusterInfo, TcpPeerTransport } from '../transport/index.ts';
import { startIdleHeapRelease } from './idle-heap-release.ts';
import { realClock } from './real-clock.ts';
import { parseSigildArgs, type SigildOptions } from './sigild-flags.ts';
import { forwardPromote } from './sigild-forwarder.ts';
import { resolveIdentity } from './sigild-identity.ts';

const STOP_DEADLINE_MS = 10_000;
/** At most this long waiting for another voter to take over leadership on SIGTERM. */
const HAND_OVER_MAX_MS = 5_000;
const CLUSTER_INFO_TIMEOUT_MS = 2_000;

async function run(options: SigildOptions, logger: Logger): Promise<void> {
  const fs = new NodeFileSystem();
  const { memberId, clusterId, initialCluster } = await resolveIdentity(options, fs);
  const peerUrl = new URL(options.listenPeerUrls[0]);
  if (options.listenPeerUrls.length > 1) {
    logger.warn({ used: options.listenPeerUrls[0] }, 'only the first --listen-peer-urls is served');
  }
  const random = new SeededRandom(randomInt(2 ** 31));
  let member: SigilMember | null = null;
  const transport = new TcpPeerTransport({
    localId: asMemberId(memberId),
    clusterId,
    clusterInfo: () => member?.clusterInfo() ?? new Uint8Array(0),
    listenHost: peerUrl.hostname,
    listenPort: Number(peerUrl.port),
    clock: realClock,
    random,
    logger,
  });
  const backend = new LmdbBackend({ dataDir: options.dataDir });
  const config = memberConfigDefaults(
    {
      name: options.name,
      dataDir: options.dataDir,
      memberId,
      clusterId,
      initialCluster,
      clientUrls: options.advertiseClientUrls,
    },
    {
      initialClusterState: options.initialClusterState,
      heartbeatMs: options.heartbeatMs,
      electionMs: options.electionMs,
      requestTimeoutMs: 5000 + 2 * options.electionMs,
      snapshotCount: options.snapshotCount,
      maxSnapshots: options.maxSnapshots,
      quotaBackendBytes: options.quotaBackendBytes,
      maxRequestBytes: options.maxRequestBytes,
      maxTxnOps: options.maxTxnOps,
      autoCompaction: options.autoCompaction,
      autoPromoteLearners: options.autoPromoteLearners,
    },
  );
  const metrics = new MemberMetrics({ quotaBackendBytes: config.quotaBackendBytes });
  let started: SigilMember;
  try {
    started = await startMember(config, {
      clock: realClock,
      random,
      fs,
      backend,
      transport,
      logger,
      wallClockMs: () => Date.now(),
      forwardPromote,
      fetchClusterInfo: (peerUrl) => fetchClusterInfo(peerUrl, CLUSTER_INFO_TIMEOUT_MS),
      observer: metrics.observer,
    });
  } catch (error) {
    await transport.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    throw error;
  }
  member = started;
  let api: ClientApi;
  try {
    api = await startClientApi(started, {
      listenClientUrls: options.listenClientUrls,
      maxRequestBytes: options.maxRequestBytes,
      maxTxnOps: options.maxTxnOps,
      logger,
      metrics: metrics.endpoint(started),
    });
  } catch (error) {
    await started.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    throw error;
  }
  logger.info(
    {
      memberId: memberId.toString(16),
      clusterId: clusterId.toString(16),
      dataDir: options.dataDir,
      clientUrls: options.listenClientUrls,
      peerUrls: options.listenPeerUrls,
    },
    'sigild ready',
  );
  const stopIdleHeapRelease = startIdleHeapRelease(options.electionMs, logger);
  const reason = await new Promise<'signal' | 'removed'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
    void started.removed.then(() => resolve('removed'));
  });
  logger.info({ reason }, 'stopping');
  stopIdleHeapRelease();
  const deadline = setTimeout(() => {
    logger.error({ deadlineMs: STOP_DEADLINE_MS }, 'graceful stop took too long');
    process.exit(1);
  }, STOP_DEADLINE_MS);
  deadline.unref();
  if (reason === 'signal') {
    // A planned stop costs the cluster no election timeout: the leader hands over first,
    // while its client API still forwards requests (bounded; then it stops anyway).
    const handOverMs = Math.min(HAND_OVER_MAX_MS, 3 * options.electionMs);
    const handedOver = await started.handOverLeadership(handOverMs);
    if (!handedOver) logger.warn({ handOverMs }, 'no voter took over leadership; stopping anyway');
  }
  await api.close();
  await started.stop();
  await backend.close();
  logger.info({}, 'stopped');
}

const parsed = parseSigildArgs(process.argv.slice(2), process.env);
if (parsed.kind === 'exit') {
  process.stdout.write(parsed.stdout);
  process.stderr.write(parsed.stderr);
  process.exit(parsed.code);
}
const logger = pino(
  { level: parsed.options.logLevel, base: { name: parsed.options.name } },
  pino.destination(2),
);
for (const warning of parsed.warnings) logger.warn({}, warning);
try {
  await run(parsed.options, logger);
  process.exit(0);
} catch (error) {
  logger.error({ err: error }, 'sigild failed');
  process.exit(1);
}
