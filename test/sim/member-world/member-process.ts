/**
 * One member of the world across its process lifetimes: its disk (a FaultyFileSystem that
 * outlives crashes), its backend (lost or kept by a crash, per the seed's model), and the
 * SigilMember of its current process. A crash is a power cut: unsynced writes are dropped, the
 * process clock and transport die with the process (so its pending async work is frozen, never
 * resumed), and the next start recovers from the snapshot files and the WAL alone.
 */
import { SeededRandom } from '../../../src/base/index.ts';
import {
  memberConfigDefaults,
  startMember,
  type FoundingMember,
  type MemberConfig,
  type SigilMember,
} from '../../../src/server/index.ts';
import { FaultyFileSystem, MemoryBackend } from '../../../src/storage/index.ts';
import type { Logger } from '../../../src/transport/index.ts';
import type { World } from '../world.ts';
import type { MemberWorldOptions } from './member-world-options.ts';
import { ProcessClock } from './process-clock.ts';
import type { SimPeerNetwork, SimPeerTransport } from './sim-peer-transport.ts';

export const CLUSTER_ID = 0x5167c1e5n;
/** Request ids embed a wall-clock timestamp; any fixed origin will do in virtual time. */
const WALL_CLOCK_ORIGIN_MS = 1_700_000_000_000;

export type ProcessState = 'starting' | 'up' | 'crashed';

/** What a power cut leaves of the backend: its state at the last `sync()` (the least LMDB
 *  promises; nothing if it was never synced, then the WAL rebuilds it), all of it (every batch
 *  was durable), or its state at the last checkpoint or sync, whichever is newer (the last
 *  batches' commits had not reached the disk, as with LMDB's asynchronous commits). */
export type BackendFate = 'synced' | 'kept' | 'rolled-back';

/** A MemoryBackend whose `sync()` marks the state a power cut can no longer take away. */
class SyncedMemoryBackend extends MemoryBackend {
  constructor(private readonly synced: (backend: MemoryBackend) => void) {
    super();
  }

  override async sync(): Promise<void> {
    this.synced(this);
  }
}

export interface ProcessHost {
  readonly world: World;
  readonly peerNetwork: SimPeerNetwork;
  readonly options: MemberWorldOptions;
  note(line: string): void;
  /** Counts a member log event (snapshots taken and installed, ...) for the run's coverage. */
  count(event: string): void;
  /** A failure of the code under test that ends the run. */
  violation(property: string, detail: string): void;
}

export class MemberProcess {
  readonly fs: FaultyFileSystem;
  backend: MemoryBackend = this.freshBackend();
  member: SigilMember | null = null;
  state: ProcessState = 'crashed';
  /** Bumped by every start and crash: work of an older process is recognised and dropped. */
  incarnation = 0;
  private clock: ProcessClock | null = null;
  /** The backend as of the last checkpoint or sync, what a 'rolled-back' crash returns to. */
  private checkpointed: Promise<Uint8Array[]> | null = null;
  /** The backend as of the last sync, what a 'synced' crash returns to (null: empty). */
  private synced: Promise<Uint8Array[]> | null = null;
  private restoreBeforeStart: Promise<Uint8Array[]> | null = null;
  private transport: SimPeerTransport | null = null;
  private readonly config: MemberConfig;
  /** Member logs are counted by message, never printed: the trace is what replays. */
  private readonly logger: Logger = {
    debug: () => {},
    info: (_fields, message) => this.host.count(message),
    warn: (_fields, message) => this.host.count(message),
    error: (_fields, message) => this.host.count(message),
  };

  constructor(
    private readonly host: ProcessHost,
    /** The network endpoint (1..n) and the name's number. */
    readonly endpoint: number,
    readonly id: bigint,
    founders: readonly FoundingMember[],
    private readonly random: SeededRandom,
  ) {
    this.fs = new FaultyFileSystem(random.fork());
    const options = host.options;
    const name = `m${endpoint}`;
    this.config = memberConfigDefaults(
      {
        name,
        dataDir: `/data/${name}`,
        memberId: id,
        clusterId: CLUSTER_ID,
        initialCluster: founders,
        clientUrls: [`http://${name}:2379`],
      },
      {
        heartbeatMs: options.heartbeatMs,
        electionMs: options.electionMs,
        snapshotCount: options.snapshotCount,
        snapshotCatchUpEntries: options.snapshotCatchUpEntries,
        walSegmentBytes: options.walSegmentBytes,
        maxSnapshots: 2,
        requestTimeoutMs: 10 * options.electionMs,
      },
    );
  }

  get isUp(): boolean {
    return this.state === 'up' && this.member !== null;
  }

  start(): void {
    const world = this.host.world;
    const incarnation = ++this.incarnation;
    this.state = 'starting';
    const drift = this.host.options.clockDriftMax * (2 * this.random.float() - 1);
    const clock = new ProcessClock(world, 1 + drift, this.random.int(1_000_000));
    this.clock = clock;
    const transport = this.host.peerNetwork.transport(this.id);
    this.transport = transport;
    const random = this.random.fork();
    this.host.note(`start m${this.endpoint} (process ${incarnation})`);
    const restore = this.restoreBeforeStart;
    this.restoreBeforeStart = null;
    const backend = this.backend;
    const restored =
      restore === null
        ? Promise.resolve()
        : restore.then((chunks) =>
            backend.restore(
              (async function* () {
                yield* chunks;
              })(),
            ),
          );
    restored
      .then(() =>
        startMember(this.config, {
          clock,
          random,
          fs: this.fs,
          backend,
          transport,
          logger: this.logger,
          wallClockMs: () => WALL_CLOCK_ORIGIN_MS + world.nowMs,
          schedule: clock.schedule,
        }),
      )
      .then(
        (member) => {
          if (incarnation !== this.incarnation) {
            void member.stop().catch(() => undefined);
            return;
          }
          this.member = member;
          this.state = 'up';
          this.host.note(`up m${this.endpoint} applied ${member.appliedIndex}`);
        },
        (error: unknown) => {
          if (incarnation !== this.incarnation) return;
          this.host.violation('recovery', `m${this.endpoint} failed to start: ${describe(error)}`);
        },
      );
  }

  /** The backend's current state becomes what a 'rolled-back' crash keeps. */
  checkpoint(): void {
    if (!this.isUp) return;
    this.checkpointed = capture(this.backend);
  }

  private freshBackend(): MemoryBackend {
    return new SyncedMemoryBackend((backend) => {
      // A sync of a dead process's backend (its frozen work resuming) makes nothing durable.
      if (backend !== this.backend) return;
      this.synced = capture(backend);
      this.checkpointed = this.synced;
    });
  }

  /** Power cut. `torn`: a random prefix of unsynced writes survives, the last one torn. */
  crash(torn: boolean, backendFate: BackendFate): void {
    this.incarnation++;
    this.state = 'crashed';
    this.clock?.kill();
    this.transport?.kill();
    this.fs.crash({ keepUnsynced: torn ? 'random' : 'none', tornWrite: torn });
    const member = this.member;
    this.member = null;
    // Stop only releases the dead process's waiters; its clock is dead, so nothing it still
    // had in flight (a WAL write, an apply) resumes.
    void member?.stop().catch(() => undefined);
    if (backendFate !== 'kept') this.backend = this.freshBackend();
    if (backendFate === 'synced') this.checkpointed = this.synced;
    if (backendFate !== 'kept') this.restoreBeforeStart = this.checkpointed;
    this.host.note(`crash m${this.endpoint}${torn ? ' (torn)' : ''} backend ${backendFate}`);
  }

  /** A member that stopped itself (fatal error) while its process is up: a bug. */
  failure(): unknown {
    return this.member?.failed ?? null;
  }
}

/** The backend's state now (MemoryBackend.snapshot() copies its records when called). */
function capture(backend: MemoryBackend): Promise<Uint8Array[]> {
  const stream = backend.snapshot();
  return (async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  })();
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const frame =
      (error.stack ?? '')
        .split('\n')
        .find((line) => line.includes('/src/') && !line.includes('/src/base/assert.ts')) ?? '';
    return `${error.name}: ${error.message}${frame === '' ? '' : ` (${frame.trim()})`}`;
  }
  return String(error);
}
