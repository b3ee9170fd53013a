/**
 * Flow control for one follower in replicate state: a bounded ring of the last index of each
 * MsgApp sent but not yet acknowledged. When it is full the leader stops sending, so a slow
 * follower cannot make the leader queue an unbounded number of messages.
 */
import { assert, type LogIndex } from '../base/index.ts';

export class Inflights {
  private readonly lastIndexes: number[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, 'inflights capacity must be positive');
    this.lastIndexes = new Array<number>(capacity).fill(0);
  }

  get count(): number {
    return this.size;
  }

  full(): boolean {
    return this.size === this.capacity;
  }

  /** Records a MsgApp whose last entry is `lastIndex`; indexes must increase. */
  add(lastIndex: LogIndex): void {
    assert(!this.full(), 'cannot add to full inflights');
    if (this.size > 0) {
      const newest = this.lastIndexes[(this.start + this.size - 1) % this.capacity];
      assert(lastIndex > newest, 'inflight indexes must increase');
    }
    this.lastIndexes[(this.start + this.size) % this.capacity] = lastIndex;
    this.size++;
  }

  /** Frees every message whose last index is at most `index` (they were acknowledged). */
  freeLessOrEqual(index: LogIndex): void {
    let freed = 0;
    while (freed < this.size && this.lastIndexes[(this.start + freed) % this.capacity] <= index) {
      freed++;
    }
    this.start = (this.start + freed) % this.capacity;
    this.size -= freed;
    assert(this.size >= 0, 'inflights size never goes negative');
    if (this.size === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
  }
}
