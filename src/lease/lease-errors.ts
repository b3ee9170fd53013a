/**
 * Expected lessor failures. The lessor sits below src/server and cannot use ServerError; the
 * server maps these codes one to one onto its own (same names, etcd's messages).
 */
export type LeaseErrorCode = 'lease-not-found' | 'lease-exists' | 'lease-ttl-too-large';

export class LeaseError extends Error {
  override readonly name = 'LeaseError';
  constructor(readonly code: LeaseErrorCode) {
    super(code);
  }
}

export const isLeaseError = (error: unknown): error is LeaseError => error instanceof LeaseError;
