/**
 * The nemesis: one fault at a time, held for a few seconds, then healed, with quiet spells in
 * between, so a quorum is always reachable once the fault is over. Faults:
 *
 *   kill-random, kill-leader   SIGKILL, restart after a while on the same data directory
 *   pause-random, pause-leader SIGSTOP ... SIGCONT
 *   isolate-random, isolate-leader   all peer links of one member cut (blackhole or reset)
 *   split                      a minority cut off from the majority (5 members: 2 | 3)
 *   one-way                    only the leader's messages to one follower, or one follower's
 *                              messages to the leader, are dropped
 *   slow-disk                  every fsync of one member (sometimes the leader) delayed
 *   membership                 remove a member, wipe it, add it back (only when enabled)
 *
 * Meanwhile the compactor compacts at random revisions: behind the newest one, far behind it
 * (often already compacted), and ahead of it (a future revision, which must be refused).
 */
import type { Random } from '../../src/base/index.ts';
import { SigilClient } from '../../src/client/index.ts';
import type { ChaosCluster } from './chaos-cluster.ts';
import { replaceMember } from './membership.ts';

export type FaultName =
  | 'kill-random'
  | 'kill-leader'
  | 'pause-random'
  | 'pause-leader'
  | 'isolate-random'
  | 'isolate-leader'
  | 'split'
  | 'one-way'
  | 'slow-disk'
  | 'membership';

export interface NemesisOptions {
  readonly faults: readonly FaultName[];
  readonly faultMs: { readonly min: number; readonly max: number };
  readonly quietMs: { readonly min: number; readonly max: number };
}

export class NemesisLog {
  private readonly startedMs = Date.now();
  readonly lines: string[] = [];
  readonly counts = new Map<string, number>();

  note(line: string): void {
    const seconds = ((Date.now() - this.startedMs) / 1000).toFixed(1).padStart(6);
    this.lines.push(`${seconds}s ${line}`);
  }

  count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  summary(): string {
    return [...this.counts].map(([what, count]) => `${what} ${count}`).join(', ') || 'none';
  }
}

const between = (random: Random, range: { min: number; max: number }): number =>
  range.min + random.int(Math.max(1, range.max - range.min));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Nemesis {
  private stopping = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly options: NemesisOptions,
    private readonly random: Random,
    readonly log: NemesisLog,
  ) {}

  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Sleeps up to `ms`, returning early when stopped. */
  private async hold(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  async run(): Promise<void> {
    while (!this.stopping) {
      await this.hold(between(this.random, this.options.quietMs));
      if (this.stopping) break;
      const fault = this.options.faults[this.random.int(this.options.faults.length)];
      try {
        await this.inject(fault);
      } catch (error) {
        this.log.note(`${fault} could not be completed: ${(error as Error).message}`);
        this.log.count(`${fault} failed`);
      }
    }
  }

  private async target(leaderOnly: boolean): Promise<number | undefined> {
    const live = this.cluster.liveIndexes().filter((i) => !this.cluster.members[i].removed);
    if (leaderOnly) return this.cluster.agreedLeader();
    return live.length === 0 ? undefined : live[this.random.int(live.length)];
  }

  private async inject(drawn: FaultName): Promise<void> {
    let fault = drawn;
    const cluster = this.cluster;
    const size = cluster.members.length;
    const duration = between(this.random, this.options.faultMs);
    const leaderOnly =
      fault.endsWith('-leader') || (fault === 'slow-disk' && this.random.chance(0.5));
    const removed = this.cluster.members.find((member) => member.removed);
    // A member a failed membership change left out is added back before anything else.
    const victim = removed !== undefined ? removed.index : await this.target(leaderOnly);
    if (removed !== undefined) fault = 'membership';
    if (victim === undefined) {
      this.log.note(`${fault}: no target (no agreed leader)`);
      return;
    }
    this.log.count(fault);
    switch (fault) {
      case 'kill-random':
      case 'kill-leader':
        this.log.note(`${fault}: SIGKILL member ${victim}, down ${duration} ms`);
        await cluster.kill(victim);
        await this.hold(duration);
        await cluster.restart(victim);
        this.log.note(`member ${victim} restarted`);
        return;
      case 'pause-random':
      case 'pause-leader':
        this.log.note(`${fault}: SIGSTOP member ${victim} for ${duration} ms`);
        cluster.pause(victim);
        await this.hold(duration);
        cluster.resume(victim);
        return;
      case 'isolate-random':
      case 'isolate-leader':
      case 'split': {
        const mode = this.random.chance(0.7) ? 'blackhole' : 'reset';
        const minority = fault === 'split' ? this.minorityWith(victim) : [victim];
        const majority = [...Array(size).keys()].filter((i) => !minority.includes(i));
        this.log.note(`${fault}: ${mode} [${minority}] | [${majority}] for ${duration} ms`);
        cluster.faults.cutBetween(minority, majority, mode);
        await this.hold(duration);
        cluster.faults.healAll();
        return;
      }
      case 'one-way': {
        const leader = await cluster.agreedLeader();
        if (leader === undefined) return;
        const followers = [...Array(size).keys()].filter((i) => i !== leader);
        const follower = followers[this.random.int(followers.length)];
        const [from, to] = this.random.chance(0.5) ? [leader, follower] : [follower, leader];
        this.log.note(`one-way: drop ${from} -> ${to} for ${duration} ms`);
        cluster.faults.cutLink(from, to, 'blackhole');
        await this.hold(duration);
        cluster.faults.healAll();
        return;
      }
      case 'slow-disk': {
        const delayMs = 20 + this.random.int(300);
        this.log.note(`slow-disk: member ${victim} fsync +${delayMs} ms for ${duration} ms`);
        await cluster.setDiskDelay(victim, delayMs);
        await this.hold(duration);
        await cluster.setDiskDelay(victim, 0);
        return;
      }
      case 'membership':
        this.log.note(`membership: replacing member ${victim}`);
        this.log.note(await replaceMember(cluster, victim));
        return;
    }
  }

  /** Adds back any member a failed membership change left removed (before the final checks). */
  async restoreRemovedMembers(): Promise<void> {
    for (const member of this.cluster.members.filter((m) => m.removed)) {
      try {
        this.log.note(await replaceMember(this.cluster, member.index));
      } catch (error) {
        this.log.note(`member ${member.index} stays removed: ${(error as Error).message}`);
      }
    }
  }

  /** `victim` plus enough others to make a minority (2 of 5, 1 of 3). */
  private minorityWith(victim: number): number[] {
    const size = this.cluster.members.length;
    const minority = [victim];
    const others = [...Array(size).keys()].filter((i) => i !== victim);
    while (minority.length < Math.floor((size - 1) / 2)) {
      minority.push(others.splice(this.random.int(others.length), 1)[0]);
    }
    return minority;
  }
}

/** Compacts at random revisions until stopped, counting what the members answered. */
export async function runCompactor(
  endpoints: readonly string[],
  latestRevision: () => number,
  random: Random,
  log: NemesisLog,
  isStopping: () => boolean,
): Promise<void> {
  const client = new SigilClient({ endpoints: [...endpoints], commandTimeoutMs: 3_000 });
  try {
    while (!isStopping()) {
      await sleep(500 + random.int(2_000));
      const latest = latestRevision();
      if (latest < 5) continue;
      const roll = random.float();
      const revision =
        roll < 0.5
          ? Math.max(1, latest - random.int(60))
          : roll < 0.75
            ? 1 + random.int(latest)
            : latest + 1 + random.int(100);
      const endpoint = endpoints[random.int(endpoints.length)];
      try {
        await client.compact(revision, { endpoint, physical: random.chance(0.3) });
        log.count('compact ok');
      } catch (error) {
        const text = (error as Error).message;
        if (text.includes('compacted')) log.count('compact refused: already compacted');
        else if (text.includes('future revision')) log.count('compact refused: future revision');
        else log.count('compact failed: unavailable');
      }
    }
  } finally {
    client.close();
  }
}
