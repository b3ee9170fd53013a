/**
 * A request's header fields by lower-case name (pseudo-headers included), first value of each.
 * A request carries a handful of fields and the server reads a few of them once, so a scan of
 * the decoded list is cheaper than an object keyed by the freshly decoded names, which V8 keeps
 * as a hash table (10 µs of every unary call on a busy member, profiled).
 */
import type { HeaderField } from './hpack.ts';

export class RequestHeaders {
  constructor(private readonly fields: readonly HeaderField[]) {}

  get(name: string): string | undefined {
    for (const field of this.fields) if (field.name === name) return field.value;
    return undefined;
  }

  /** A request needs :method, and :path unless it is a CONNECT (RFC 9113 §8.3.1). */
  isWellFormedRequest(): boolean {
    const method = this.get(':method');
    return method !== undefined && (method === 'CONNECT' || this.get(':path') !== undefined);
  }
}
