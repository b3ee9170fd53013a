/**
 * Request ids, unique across the cluster without coordination (etcd's idutil.Generator): the
 * low 16 bits of the member id, then 40 bits of wall-clock milliseconds at start-up, then an
 * 8-bit counter that carries into the timestamp. Restarting later starts from a later
 * timestamp, so ids from before a restart are not reused.
 */
import { assert } from '../base/index.ts';

const TIMESTAMP_BITS = 40n;
const COUNTER_BITS = 8n;
const SUFFIX_BITS = TIMESTAMP_BITS + COUNTER_BITS;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;

export class RequestIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, wallClockMs: number) {
    assert(Number.isSafeInteger(wallClockMs) && wallClockMs >= 0, 'wall clock is a natural');
    this.prefix = (memberId & 0xffffn) << SUFFIX_BITS;
    const timestamp = BigInt(wallClockMs) & ((1n << TIMESTAMP_BITS) - 1n);
    this.suffix = timestamp << COUNTER_BITS;
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & SUFFIX_MASK;
    const id = this.prefix | this.suffix;
    assert(id > 0n && id < 1n << 64n, 'request ids are nonzero u64');
    return id;
  }
}
