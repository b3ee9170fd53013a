/** A fault schedule's menu: actions with weights, drawn in proportion to them. */
import type { Random } from '../../src/base/index.ts';

export class WeightedChoice<T> {
  readonly totalWeight: number;

  constructor(private readonly weights: readonly (readonly [T, number])[]) {
    this.totalWeight = weights.reduce((sum, [, weight]) => sum + weight, 0);
  }

  /** One action; consumes exactly one draw of `random` (seeds replay identically). */
  draw(random: Random): T {
    let roll = random.int(this.totalWeight);
    for (const [action, weight] of this.weights) {
      if (roll < weight) return action;
      roll -= weight;
    }
    return this.weights[this.weights.length - 1][0];
  }
}
