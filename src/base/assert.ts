/**
 * Assertions that stay on in production. A broken invariant means the member's state can no
 * longer be trusted; stopping loudly is safer than serving wrong data (TigerStyle: programmer
 * errors crash, operating errors are handled).
 */
export class BugError extends Error {
  override readonly name = 'BugError';
}

/** The message is built on every call, failing or not: on hot paths keep it a constant string
 *  (a template literal formatting a number or bigint per call cost measurable CPU). */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new BugError(message);
}

/** Marks a branch the type system proves unreachable; reaching it anyway is a bug. */
export function assertNever(value: never, message = 'unexpected value'): never {
  throw new BugError(`${message}: ${String(value)}`);
}
