/**
 * Expected MVCC failures: a stable `code` for programs and etcd's exact client-visible message
 * (clients string-match it). src/api maps `code` to the gRPC status.
 */
export const MVCC_ERROR_MESSAGES = {
  'empty-key': 'etcdserver: key is not provided',
  'key-not-found': 'etcdserver: key not found',
  'value-provided': 'etcdserver: value is provided',
  'lease-provided': 'etcdserver: lease is provided',
  'too-many-ops': 'etcdserver: too many operations in txn request',
  'duplicate-key': 'etcdserver: duplicate key given in txn request',
  compacted: 'etcdserver: mvcc: required revision has been compacted',
  'future-rev': 'etcdserver: mvcc: required revision is a future revision',
} as const;

export type MvccErrorCode = keyof typeof MVCC_ERROR_MESSAGES;

export class MvccError extends Error {
  override readonly name = 'MvccError';
  readonly code: MvccErrorCode;

  constructor(code: MvccErrorCode) {
    super(MVCC_ERROR_MESSAGES[code]);
    this.code = code;
  }
}

export const isMvccError = (error: unknown): error is MvccError => error instanceof MvccError;
