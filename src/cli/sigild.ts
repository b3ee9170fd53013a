/**
 * sigild: the composition root of a Sigil member — the only place that builds real I/O (disk,
 * LMDB, TCP peers, wall clock, pino). It parses etcd's server flags, opens or bootstraps the
 * member, starts the client API, and on SIGINT/SIGTERM stops in order: client API, raft loop
 * (the Ready in progress finishes, so the WAL is flushed), peer transport, backend.
 */
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import { startClientApi, type ClientApi } from '../api/index.ts';
import { asMemberId, SeededRandom } from '../base/index.ts';
import {
  memberConfigDefaults,
  startMember,
  type Logger,
  type SigilMember,
} from '../server/index.ts';
import { LmdbBackend, NodeFileSystem } from '../storage/index.ts';
import { TcpPeerTransport } from '../transport/index.ts';
import { realClock } from './real-clock.ts';
import { parseSigildArgs, type SigildOptions } from './sigild-flags.ts';
import { deriveClusterId, deriveMemberId } from './sigild-ids.ts';

const STOP_DEADLINE_MS = 10_000;

async function run(options: SigildOptions, logger: Logger): Promise<void> {
  const founders = options.initialCluster.map((member) => ({
    id: deriveMemberId(member.peerUrls, options.initialClusterToken),
    name: member.name,
    peerUrls: member.peerUrls,
  }));
  const self = founders.find((member) => member.name === options.name);
  if (self === undefined) throw new Error('this member is not in --initial-cluster');
  const clusterId = deriveClusterId(founders.map((member) => member.id));
  const peerUrl = new URL(options.listenPeerUrls[0]);
  if (options.listenPeerUrls.length > 1) {
    logger.warn({ used: options.listenPeerUrls[0] }, 'only the first --listen-peer-urls is served');
  }
  const random = new SeededRandom(randomInt(2 ** 31));
  const transport = new TcpPeerTransport({
    localId: asMemberId(self.id),
    clusterId,
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
      memberId: self.id,
      clusterId,
      initialCluster: founders,
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
    },
  );
  let member: SigilMember;
  try {
    member = await startMember(config, {
      clock: realClock,
      random,
      fs: new NodeFileSystem(),
      backend,
      transport,
      logger,
      wallClockMs: () => Date.now(),
    });
  } catch (error) {
    await transport.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    throw error;
  }
  let api: ClientApi;
  try {
    api = await startClientApi(member, {
      listenClientUrls: options.listenClientUrls,
      maxRequestBytes: options.maxRequestBytes,
      maxTxnOps: options.maxTxnOps,
      logger,
    });
  } catch (error) {
    await member.stop().catch(() => undefined);
    await backend.close().catch(() => undefined);
    throw error;
  }
  logger.info(
    {
      memberId: self.id.toString(16),
      clusterId: clusterId.toString(16),
      dataDir: options.dataDir,
      clientUrls: options.listenClientUrls,
      peerUrls: options.listenPeerUrls,
    },
    'sigild ready',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({}, 'stopping');
  const deadline = setTimeout(() => {
    logger.error({ deadlineMs: STOP_DEADLINE_MS }, 'graceful stop took too long');
    process.exit(1);
  }, STOP_DEADLINE_MS);
  deadline.unref();
  await api.close();
  await member.stop();
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
