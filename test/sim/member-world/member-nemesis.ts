/**
 * The member world's fault schedule: partitions (isolating the leader, one member, a random
 * split, sometimes one-way), crashes (one member, or a power cut of a majority; with torn
 * writes; the backend lost or kept per the seed's model), bursts of loss and duplication, and
 * leadership transfers. Every fault is also scheduled to end; `healAll` ends them all at once.
 */
import { asMemberId, type Random } from '../../../src/base/index.ts';
import type { SimNetwork } from '../sim-network.ts';
import type { World } from '../world.ts';
import type { MemberProcess } from './member-process.ts';
import type { MemberWorldOptions } from './member-world-options.ts';
import { WeightedChoice } from '../weighted-choice.ts';

type Action = 'partition' | 'crash' | 'burst' | 'transfer';

export class MemberNemesis {
  private active = false;
  private readonly actions: WeightedChoice<Action>;

  constructor(
    private readonly world: World,
    private readonly network: SimNetwork,
    private readonly processes: readonly MemberProcess[],
    private readonly options: MemberWorldOptions,
    private readonly random: Random,
    private readonly note: (line: string) => void,
  ) {
    this.actions = new WeightedChoice<Action>([
      ['partition', options.partitionWeight],
      ['crash', options.crashWeight],
      ['burst', options.burstWeight],
      ['transfer', options.transferWeight],
    ]);
  }

  start(): void {
    if (this.actions.totalWeight === 0 || this.options.faultIntervalMs === 0) return;
    this.active = true;
    this.scheduleNext();
  }

  healAll(): void {
    this.active = false;
    this.network.healAll();
    for (const process of this.processes) if (process.state === 'crashed') process.start();
    this.note('heal all');
  }

  leader(): MemberProcess | null {
    let best: MemberProcess | null = null;
    for (const process of this.processes) {
      const member = process.member;
      if (!process.isUp || member === null || !member.isLeader) continue;
      if (best === null || member.raftTerm > best.member!.raftTerm) best = process;
    }
    return best;
  }

  private scheduleNext(): void {
    const delayMs = Math.round(this.options.faultIntervalMs * (0.5 + this.random.float()));
    this.world.schedule(delayMs, () => {
      if (!this.active) return;
      this.fire(this.actions.draw(this.random));
      this.scheduleNext();
    });
  }

  private later(end: () => void): void {
    this.world.schedule(1 + this.random.int(this.options.faultDurationMsMax), () => {
      if (this.active) end();
    });
  }

  private fire(action: Action): void {
    if (action === 'partition') this.partition();
    else if (action === 'crash') this.crash();
    else if (action === 'burst') this.burst();
    else this.transfer();
  }

  private partition(): void {
    const endpoints = this.processes.map((process) => process.endpoint);
    const leader = this.leader();
    const shape = this.random.int(4);
    let side: number[];
    let name: string;
    if (shape === 0 && leader !== null) {
      side = [leader.endpoint];
      name = 'isolate-leader';
    } else if (shape === 1) {
      side = [endpoints[this.random.int(endpoints.length)]];
      name = 'isolate-one';
    } else {
      side = endpoints.filter(() => this.random.chance(0.5));
      name = 'split';
    }
    const rest = endpoints.filter((endpoint) => !side.includes(endpoint));
    if (side.length === 0 || rest.length === 0) return;
    const oneWay = shape === 3 && this.random.chance(0.5);
    this.network.cut(side, rest);
    if (!oneWay) this.network.cut(rest, side);
    this.note(`partition ${name}${oneWay ? ' one-way' : ''} [${side}] | [${rest}]`);
    this.later(() => {
      this.network.healPartitions();
      this.note('partitions healed');
    });
  }

  private crash(): void {
    const running = this.processes.filter((process) => process.state !== 'crashed');
    if (running.length === 0) return;
    let victims: MemberProcess[];
    if (this.random.chance(this.options.powerCutRate)) {
      const count = Math.min(running.length, Math.floor(running.length / 2) + 1);
      const shuffled = [...running];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = this.random.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      victims = shuffled.slice(0, count);
    } else {
      const leader = this.leader();
      victims = [
        leader !== null && this.random.chance(0.5)
          ? leader
          : running[this.random.int(running.length)],
      ];
    }
    for (const victim of victims) {
      const torn = this.random.chance(this.options.tornWriteRate);
      const model = this.options.backendOnCrash;
      const fate =
        model === 'mixed'
          ? (['synced', 'kept', 'rolled-back'] as const)[this.random.int(3)]
          : model;
      victim.crash(torn, fate);
      this.later(() => {
        if (victim.state === 'crashed') victim.start();
      });
    }
  }

  private burst(): void {
    const lossRate = 0.2 + 0.4 * this.random.float();
    const duplicateRate = 0.3 * this.random.float();
    this.network.degrade(lossRate, duplicateRate);
    this.note(`burst loss=${lossRate.toFixed(2)} dup=${duplicateRate.toFixed(2)}`);
    this.later(() => {
      this.network.restoreConditions();
      this.note('burst over');
    });
  }

  private transfer(): void {
    const leader = this.leader();
    if (leader === null || leader.member === null) return;
    const others = this.processes.filter((process) => process !== leader);
    const target = others[this.random.int(others.length)];
    leader.member.raftNode.transferLeader(asMemberId(target.id));
    leader.member.kickRaft();
    this.note(`transfer m${leader.endpoint} -> m${target.endpoint}`);
  }
}
