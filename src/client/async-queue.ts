/**
 * A queue that one producer fills from stream callbacks and one consumer drains with
 * `for await`. It ends normally or with an error; items pushed after the end are dropped.
 *
 * It is not bounded: a watch must not lose events, and pausing the shared gRPC stream would stall
 * every other watcher on it. A consumer that stops reading should cancel its watcher.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: {
    resolve: (result: IteratorResult<T>) => void;
    reject: (error: Error) => void;
  } | null = null;
  private ended = false;
  private failure: Error | null = null;

  get size(): number {
    return this.items.length - this.head;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter !== null) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter.resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** Ends the queue; the consumer still receives the items already queued, then the error. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error ?? null;
    if (this.waiter !== null && this.size === 0) {
      const waiter = this.waiter;
      this.waiter = null;
      if (this.failure) waiter.reject(this.failure);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.items[this.head];
      this.head++;
      // Compact occasionally so a long-lived queue does not keep every consumed item alive.
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      return this.failure
        ? Promise.reject(this.failure)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}
