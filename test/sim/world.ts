/**
 * The simulated world's clock and event queue. Virtual time is in milliseconds; nothing here
 * reads the real clock. Events that fall on the same millisecond are ordered by a tie-break drawn
 * from the seeded random source, so a seed fixes the interleaving exactly while different seeds
 * explore different interleavings of simultaneous events.
 */
import { assert, type Random } from '../../src/base/index.ts';
import type { TraceRecorder } from './trace.ts';

interface ScheduledEvent {
  readonly atMs: number;
  readonly tieBreak: number;
  readonly sequence: number;
  readonly fire: () => void;
}

/** A binary min-heap ordered by (atMs, tieBreak, sequence); sequence makes the order total. */
class EventHeap {
  private readonly items: ScheduledEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  push(event: ScheduledEvent): void {
    const items = this.items;
    items.push(event);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!before(items[child], items[parent])) break;
      [items[child], items[parent]] = [items[parent], items[child]];
      child = parent;
    }
  }

  pop(): ScheduledEvent | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop() as ScheduledEvent;
    if (items.length > 0) {
      items[0] = last;
      let parent = 0;
      for (;;) {
        const left = parent * 2 + 1;
        const right = left + 1;
        let smallest = parent;
        if (left < items.length && before(items[left], items[smallest])) smallest = left;
        if (right < items.length && before(items[right], items[smallest])) smallest = right;
        if (smallest === parent) break;
        [items[parent], items[smallest]] = [items[smallest], items[parent]];
        parent = smallest;
      }
    }
    return top;
  }
}

function before(left: ScheduledEvent, right: ScheduledEvent): boolean {
  if (left.atMs !== right.atMs) return left.atMs < right.atMs;
  if (left.tieBreak !== right.tieBreak) return left.tieBreak < right.tieBreak;
  return left.sequence < right.sequence;
}

export class World {
  private readonly heap = new EventHeap();
  private sequence = 0;
  private nowMsValue = 0;
  /** Events fired so far: the simulator's notion of a step. */
  steps = 0;
  stopped = false;

  constructor(
    private readonly random: Random,
    readonly trace: TraceRecorder,
  ) {}

  get nowMs(): number {
    return this.nowMsValue;
  }

  /** Runs `fire` `delayMs` from now. A zero delay still runs after the current event. */
  schedule(delayMs: number, fire: () => void): void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, `bad delay ${delayMs}`);
    this.heap.push({
      atMs: this.nowMsValue + Math.round(delayMs),
      tieBreak: this.random.nextUint32(),
      sequence: this.sequence++,
      fire,
    });
  }

  /** Fires the next event; false when the queue is empty or the run was stopped. */
  step(): boolean {
    if (this.stopped) return false;
    const event = this.heap.pop();
    if (event === undefined) return false;
    assert(event.atMs >= this.nowMsValue, 'time went backwards');
    this.nowMsValue = event.atMs;
    this.steps++;
    event.fire();
    return true;
  }

  get pendingEvents(): number {
    return this.heap.size;
  }
}
