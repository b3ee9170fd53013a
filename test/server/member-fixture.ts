/**
 * Members under test: each on its own FaultyFileSystem and MemoryBackend, all on one
 * MemoryPeerNetwork and one ManualClock, so a test controls time, disks and links.
 */
import { asMemberId, SeededRandom, type MemberId } from '../../src/base/index.ts';
import { FaultyFileSystem, MemoryBackend } from '../../src/storage/index.ts';
import { silentLogger, type Logger } from '../../src/transport/index.ts';
import {
  memberConfigDefaults,
  startMember,
  type MemberConfig,
  type SigilMember,
} from '../../src/server/index.ts';
import { MemoryPeerNetwork } from '../support/memory-peer-network.ts';
import { advanceUntil, drive, ManualClock, settle } from '../support/test-clock.ts';

export const CLUSTER_ID = 0xc105e7n;

export interface Slot {
  readonly id: MemberId;
  readonly name: string;
  fs: FaultyFileSystem;
  backend: MemoryBackend;
  member: SigilMember | null;
}

export class TestCluster {
  readonly clock = new ManualClock();
  readonly network = new MemoryPeerNetwork();
  readonly slots: Slot[] = [];
  private seed = 1;

  constructor(
    size: number,
    private readonly overrides: Partial<MemberConfig> = {},
    private readonly logger: Logger = silentLogger,
  ) {
    for (let i = 0; i < size; i++) {
      this.slots.push({
        id: asMemberId(BigInt(0x1000 + i)),
        name: `m${i}`,
        fs: new FaultyFileSystem(new SeededRandom(100 + i)),
        backend: new MemoryBackend(),
        member: null,
      });
    }
  }

  static async start(size: number, overrides: Partial<MemberConfig> = {}): Promise<TestCluster> {
    const cluster = new TestCluster(size, overrides);
    await Promise.all(cluster.slots.map((_, i) => cluster.startMember(i)));
    await cluster.waitForLeader();
    return cluster;
  }

  config(i: number): MemberConfig {
    const slot = this.slots[i];
    return memberConfigDefaults(
      {
        name: slot.name,
        dataDir: `/data/${slot.name}`,
        memberId: slot.id,
        clusterId: CLUSTER_ID,
        initialCluster: this.slots.map((other) => ({
          id: other.id,
          name: other.name,
          peerUrls: [`http://${other.name}:2380`],
        })),
        clientUrls: [`http://${slot.name}:2379`],
      },
      { walSegmentBytes: 64 * 1024, ...this.overrides },
    );
  }

  async startMember(i: number): Promise<SigilMember> {
    const slot = this.slots[i];
    const member = await startMember(this.config(i), {
      clock: this.clock,
      random: new SeededRandom(this.seed++),
      fs: slot.fs,
      backend: slot.backend,
      transport: this.network.transport(slot.id),
      logger: this.logger,
      wallClockMs: () => 1_700_000_000_000 + this.clock.nowMs(),
    });
    slot.member = member;
    return member;
  }

  member(i: number): SigilMember {
    const member = this.slots[i].member;
    if (member === null) throw new Error(`member ${i} is not running`);
    return member;
  }

  running(): SigilMember[] {
    return this.slots.flatMap((slot) => (slot.member === null ? [] : [slot.member]));
  }

  leaderIndex(): number {
    return this.slots.findIndex((slot) => slot.member?.isLeader === true);
  }

  async waitForLeader(): Promise<SigilMember> {
    await advanceUntil(
      this.clock,
      () => {
        const leaderIndex = this.leaderIndex();
        if (leaderIndex < 0) return false;
        const leaderId = this.slots[leaderIndex].id;
        return this.running().every((member) => member.leaderId === leaderId);
      },
      { what: 'a leader all running members agree on' },
    );
    return this.member(this.leaderIndex());
  }

  /** Power cut of member i: unsynced disk writes are lost; `loseBackend` also drops its
   *  backend (as if the state machine's file were lost and had to be rebuilt from the WAL). */
  async crash(i: number, options: { loseBackend?: boolean } = {}): Promise<void> {
    const slot = this.slots[i];
    slot.fs.crash({ keepUnsynced: 'none', tornWrite: false });
    const member = slot.member;
    slot.member = null;
    await member?.stop().catch(() => undefined);
    if (options.loseBackend === true) slot.backend = new MemoryBackend();
  }

  async stop(i: number): Promise<void> {
    const member = this.slots[i].member;
    this.slots[i].member = null;
    await member?.stop();
  }

  async stopAll(): Promise<void> {
    for (let i = 0; i < this.slots.length; i++) await this.stop(i);
    await settle();
  }

  drive<T>(promise: Promise<T>, maxMs?: number): Promise<T> {
    return drive(this.clock, promise, maxMs === undefined ? {} : { maxMs });
  }

  until(condition: () => boolean, what: string, maxMs = 30_000): Promise<void> {
    return advanceUntil(this.clock, condition, { what, maxMs });
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (value: Uint8Array): string => new TextDecoder().decode(value);
