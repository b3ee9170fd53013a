/**
 * The logging surface the transport needs. It is the subset of pino's API we call, so the
 * composition root passes a pino logger (or a child with the member id bound) unchanged.
 * Structured fields first, message second, one event per call.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const discard = (): void => {};

/** For tests and tools that do not care about the transport's log. */
export const silentLogger: Logger = {
  debug: discard,
  info: discard,
  warn: discard,
  error: discard,
};
