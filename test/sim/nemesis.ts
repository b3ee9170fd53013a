/**
 * The fault schedule. During the fault phase it fires an action every so often, drawn by the
 * seed's weights: partitions (symmetric, asymmetric, isolating the leader), crashes (one member or
 * a power cut of a majority, with torn writes), pauses, bursts of loss and duplication,
 * membership changes and leadership transfers. Every fault it starts it also schedules to end, and
 * `healAll` ends them all at once for the liveness phase.
 */
import type { Random } from '../../src/base/index.ts';
import type { ConfState } from '../../src/raft/index.ts';
import type { FaultOptions } from './options-swarm.ts';
import type { SimMember } from './sim-member.ts';
import type { SimNetwork } from './sim-network.ts';
import type { World } from './world.ts';
import { WeightedChoice } from './weighted-choice.ts';

export interface NemesisHost {
  readonly world: World;
  readonly network: SimNetwork;
  /** Every member ever created, removed ones included. */
  readonly members: readonly SimMember[];
  leader(): SimMember | null;
  /** The newest configuration any member has applied. */
  configuration(): ConfState;
  crash(member: SimMember, tornWrite: boolean): void;
  restart(member: SimMember): void;
  /** Creates a new, empty member and asks the leader to add it; null when it could not. */
  addMember(asLearner: boolean): SimMember | null;
  note(line: string): void;
}

/** Members the simulator may create in total, founders included. */
export const MEMBERS_MAX = 10;

type Action = 'partition' | 'crash' | 'pause' | 'membership' | 'transfer' | 'burst';

export class Nemesis {
  private active = false;
  private readonly actions: WeightedChoice<Action>;

  constructor(
    private readonly host: NemesisHost,
    private readonly faults: FaultOptions,
    private readonly random: Random,
  ) {
    this.actions = new WeightedChoice<Action>([
      ['partition', faults.partitionWeight],
      ['crash', faults.crashWeight],
      ['pause', faults.pauseWeight],
      ['membership', faults.membershipWeight],
      ['transfer', faults.transferWeight],
      ['burst', faults.networkBurstWeight],
    ]);
  }

  start(): void {
    if (this.actions.totalWeight === 0) return;
    this.active = true;
    this.scheduleNext();
  }

  /** Ends every fault: links heal, crashed members restart, paused ones resume. */
  healAll(): void {
    this.active = false;
    this.host.network.healAll();
    for (const member of this.host.members) {
      if (member.state === 'crashed') this.host.restart(member);
      else if (member.state === 'paused') member.resume();
    }
    this.host.note('heal all');
  }

  private scheduleNext(): void {
    const delayMs = Math.round(this.faults.intervalMs * (0.5 + this.random.float()));
    this.host.world.schedule(delayMs, () => {
      if (!this.active) return;
      this.fire(this.actions.draw(this.random));
      this.scheduleNext();
    });
  }

  private durationMs(): number {
    return 1 + this.random.int(this.faults.faultDurationMsMax);
  }

  /** Runs `end` after a fault's duration, unless everything was healed first. */
  private later(end: () => void): void {
    this.host.world.schedule(this.durationMs(), () => {
      if (this.active) end();
    });
  }

  private fire(action: Action): void {
    switch (action) {
      case 'partition':
        return this.partition();
      case 'crash':
        return this.crash();
      case 'pause':
        return this.pause();
      case 'membership':
        return this.changeMembership();
      case 'transfer':
        return this.transfer();
      case 'burst':
        return this.burst();
    }
  }

  private live(): SimMember[] {
    return this.host.members.filter((member) => member.state !== 'removed');
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.random.int(items.length)];
  }

  private partition(): void {
    const members = this.live().map((member) => member.numericId);
    if (members.length < 2) return;
    const leader = this.host.leader();
    const shape = this.random.int(4);
    let side: number[];
    let name: string;
    if (shape === 0 && leader !== null) {
      side = [leader.numericId];
      name = 'isolate-leader';
    } else if (shape <= 1) {
      side = [this.pick(members)];
      name = 'isolate-one';
    } else {
      side = members.filter(() => this.random.chance(0.5));
      name = 'split';
    }
    const rest = members.filter((id) => !side.includes(id));
    if (side.length === 0 || rest.length === 0) return;
    const asymmetric = shape === 3 || this.random.chance(0.2);
    this.host.network.cut(side, rest);
    if (!asymmetric) this.host.network.cut(rest, side);
    this.host.note(`partition ${name}${asymmetric ? ' one-way' : ''} [${side}] | [${rest}]`);
    if (asymmetric) this.host.note(`asymmetric partition [${side}] cannot reach [${rest}]`);
    this.later(() => {
      this.host.network.healPartitions();
      this.host.note('partitions healed');
    });
  }

  private crash(): void {
    const running = this.live().filter(
      (member) => member.state === 'up' || member.state === 'paused',
    );
    if (running.length === 0) return;
    let victims: SimMember[];
    if (this.random.chance(this.faults.correlatedCrashRate)) {
      // A power cut: a majority (or everyone) goes down at once.
      const count = Math.min(
        running.length,
        Math.floor(running.length / 2) + 1 + this.random.int(2),
      );
      victims = shuffle(running, this.random).slice(0, count);
    } else {
      const leader = this.host.leader();
      victims = [leader !== null && this.random.chance(0.5) ? leader : this.pick(running)];
    }
    for (const victim of victims) {
      this.host.crash(victim, this.random.chance(this.faults.tornWriteRate));
      this.later(() => {
        if (victim.state === 'crashed') this.host.restart(victim);
      });
    }
  }

  private pause(): void {
    const up = this.live().filter((member) => member.state === 'up');
    if (up.length === 0) return;
    const leader = this.host.leader();
    const victim = leader !== null && this.random.chance(0.5) ? leader : this.pick(up);
    victim.pause();
    this.host.note(`pause ${victim.numericId}`);
    this.later(() => {
      if (victim.state !== 'paused') return;
      victim.resume();
      this.host.note(`resume ${victim.numericId}`);
    });
  }

  private changeMembership(): void {
    const leader = this.host.leader();
    if (leader === null) return;
    const configuration = this.host.configuration();
    const roll = this.random.int(4);
    const canGrow = this.host.members.length < MEMBERS_MAX;
    if (roll === 0 && canGrow) {
      this.host.addMember(true);
    } else if (roll === 1 && canGrow) {
      this.host.addMember(false);
    } else if (roll === 2 && configuration.learners.length > 0) {
      const learner = this.pick(configuration.learners);
      const result = leader.proposeConfChange({
        type: 'add-voter',
        memberId: learner,
        context: new Uint8Array(0),
      });
      this.host.note(`promote ${learner}: ${result.ok ? 'proposed' : result.reason}`);
    } else {
      const everyone = [...configuration.voters, ...configuration.learners];
      if (configuration.voters.length <= 1 || everyone.length === 0) return;
      const target = this.pick(everyone);
      const result = leader.proposeConfChange({
        type: 'remove-member',
        memberId: target,
        context: new Uint8Array(0),
      });
      this.host.note(`remove ${target}: ${result.ok ? 'proposed' : result.reason}`);
    }
  }

  private transfer(): void {
    const leader = this.host.leader();
    if (leader === null) return;
    const others = this.host.configuration().voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const target = this.pick(others);
    const result = leader.transferLeader(target);
    this.host.note(
      `transfer ${leader.numericId} -> ${target}: ${result.ok ? 'asked' : result.reason}`,
    );
  }

  private burst(): void {
    const lossRate = 0.2 + 0.4 * this.random.float();
    const duplicateRate = 0.3 * this.random.float();
    this.host.network.degrade(lossRate, duplicateRate);
    this.host.note(`burst loss=${lossRate.toFixed(2)} dup=${duplicateRate.toFixed(2)}`);
    this.later(() => {
      this.host.network.restoreConditions();
      this.host.note('burst over');
    });
  }
}

/** A Fisher–Yates shuffle driven by the seed. */
function shuffle<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
