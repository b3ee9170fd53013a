/**
 * The simulated network between members, and between clients and members. Every message gets a
 * delay drawn per send (so messages on one link reorder), may be dropped or duplicated, and is
 * dropped outright when its directed link is cut. Partitions are sets of cut directed links, so
 * asymmetric partitions (A hears B, B does not hear A) are as easy as symmetric ones.
 */
import type { Random } from '../../src/base/index.ts';
import type { NetworkOptions } from './options-swarm.ts';
import type { World } from './world.ts';

/** Endpoints: members by their numeric id, clients by -(client index + 1). */
export type Endpoint = number;

export type DropReason = 'loss' | 'partition';

export class SimNetwork {
  private readonly cutLinks = new Set<string>();
  private conditions: NetworkOptions;
  /** While healed, links never drop, duplicate or hold back messages. */
  private healed = false;

  constructor(
    private readonly world: World,
    private readonly random: Random,
    private readonly baseline: NetworkOptions,
  ) {
    this.conditions = baseline;
  }

  /**
   * Sends one message from `source` to `target`: `deliver` runs once per copy that arrives,
   * `dropped` once per copy lost (so with duplication both may run). Client traffic passes
   * `mayDuplicate` false: it runs over one TCP connection per request, which never delivers a
   * request twice, and a duplicate would turn a definite refusal into a write that happened.
   */
  send(
    source: Endpoint,
    target: Endpoint,
    deliver: () => void,
    dropped: (reason: DropReason) => void,
    mayDuplicate = true,
  ): void {
    if (this.cutLinks.has(linkKey(source, target))) {
      dropped('partition');
      return;
    }
    const conditions = this.conditions;
    if (!this.healed && this.random.chance(conditions.lossRate)) {
      dropped('loss');
      return;
    }
    this.world.schedule(this.delayMs(), () => this.arrive(source, target, deliver, dropped));
    if (mayDuplicate && !this.healed && this.random.chance(conditions.duplicateRate)) {
      this.world.schedule(this.delayMs(), () => this.arrive(source, target, deliver, dropped));
    }
  }

  /** Cuts every link from a member of `sources` to a member of `targets`. */
  cut(sources: readonly Endpoint[], targets: readonly Endpoint[]): void {
    for (const source of sources) {
      for (const target of targets)
        if (source !== target) this.cutLinks.add(linkKey(source, target));
    }
  }

  healPartitions(): void {
    this.cutLinks.clear();
  }

  /** A burst of bad weather: heavier loss and duplication until `restoreConditions`. */
  degrade(lossRate: number, duplicateRate: number): void {
    this.conditions = { ...this.baseline, lossRate, duplicateRate };
  }

  restoreConditions(): void {
    this.conditions = this.baseline;
  }

  /** The end of the fault phase: every link works and nothing is lost from here on. */
  healAll(): void {
    this.cutLinks.clear();
    this.conditions = this.baseline;
    this.healed = true;
  }

  get cutLinkCount(): number {
    return this.cutLinks.size;
  }

  private arrive(
    source: Endpoint,
    target: Endpoint,
    deliver: () => void,
    dropped: (reason: DropReason) => void,
  ): void {
    // A link cut while the message was in flight loses it, as a broken connection would.
    if (this.cutLinks.has(linkKey(source, target))) dropped('partition');
    else deliver();
  }

  private delayMs(): number {
    const { delayMinMs, delayMaxMs, lateRate } = this.conditions;
    let delay = delayMinMs + this.random.int(delayMaxMs - delayMinMs + 1);
    if (!this.healed && this.random.chance(lateRate))
      delay += this.random.int(20 * (delayMaxMs + 1));
    return delay;
  }
}

const linkKey = (source: Endpoint, target: Endpoint): string => `${source}>${target}`;
