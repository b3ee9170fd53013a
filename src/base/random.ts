/**
 * Seeded randomness. Everything that must replay exactly (election jitter, the simulator's
 * world) draws from a `Random` it was handed, never from Math.random.
 */
export interface Random {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number;
  /** A uniformly distributed integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** A uniformly distributed float in [0, 1). */
  float(): number;
  /** True with probability `probability`. */
  chance(probability: number): boolean;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32 so that nearby
 * seeds give unrelated streams. Small, fast, and good enough for simulation and jitter.
 */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix32();
    this.b = splitmix32();
    this.c = splitmix32();
    this.d = 1;
    // Discard the first outputs: sfc32 mixes its state over its first few rounds.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  int(maxExclusive: number): number {
    if (!(Number.isInteger(maxExclusive) && maxExclusive > 0 && maxExclusive <= 2 ** 32)) {
      throw new RangeError(
        `Random.int: bound must be an integer in [1, 2^32], got ${maxExclusive}`,
      );
    }
    return Math.floor(this.float() * maxExclusive);
  }

  float(): number {
    return this.nextUint32() / 2 ** 32;
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  /** A new generator whose stream is independent of this one's from here on. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}
