/**
 * The event trace: every event that changes the world is hashed in order, so two runs of one
 * seed can be compared by a single number (the determinism test), and with --trace the lines are
 * kept and printed for a failing seed.
 */
export class TraceRecorder {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;
  readonly lines: string[] | null;

  constructor(keepLines: boolean) {
    this.lines = keepLines ? [] : null;
  }

  /** Hashes `line` (cyrb53-style, two independent 32-bit lanes). */
  record(nowMs: number, line: string): void {
    const text = `${nowMs} ${line}`;
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    h1 = Math.imul(h1 ^ 10, 2654435761);
    h2 = Math.imul(h2 ^ 10, 1597334677);
    this.h1 = h1;
    this.h2 = h2;
    if (this.lines !== null) this.lines.push(text);
  }

  /** A hex digest of everything recorded so far. */
  digest(): string {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
  }
}
