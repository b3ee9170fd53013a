/**
 * Expected failures of a member, each with a stable code and etcd's exact client-visible
 * message (clients string-match these). src/api maps the code to a gRPC status in one place.
 * MVCC's own errors (compacted, future revision, ...) pass through as MvccError.
 */
export const SERVER_ERROR_MESSAGES = {
  'no-leader': 'etcdserver: no leader',
  'leader-changed': 'etcdserver: leader changed',
  stopped: 'etcdserver: server stopped',
  'timed-out': 'etcdserver: request timed out',
  'timed-out-leader-fail': 'etcdserver: request timed out, possibly due to previous leader failure',
  'timed-out-connection-lost': 'etcdserver: request timed out, possibly due to connection lost',
  'unhealthy-cluster': 'etcdserver: unhealthy cluster',
  'too-many-requests': 'etcdserver: too many requests',
  'request-too-large': 'etcdserver: request is too large',
  'no-space': 'etcdserver: mvcc: database space exceeded',
  'lease-not-found': 'etcdserver: requested lease not found',
  'lease-exists': 'etcdserver: lease already exists',
  'lease-ttl-too-large': 'etcdserver: too large lease TTL',
  'member-not-found': 'etcdserver: member not found',
  'member-exists': 'etcdserver: member ID already exist',
  'peer-url-exists': 'etcdserver: Peer URLs already exists',
  'not-enough-started-members':
    'etcdserver: re-configuration failed due to not enough started members',
  'not-learner': 'etcdserver: can only promote a learner member',
  'learner-not-ready': 'etcdserver: can only promote a learner member which is in sync with leader',
  'too-many-learners': 'etcdserver: too many learner members in cluster',
  'not-leader': 'etcdserver: not leader',
  'bad-leader-transferee': 'etcdserver: bad leader transferee',
  'leader-transfer-timed-out': 'etcdserver: request timed out, leader transfer took too long',
  'learner-rpc': 'etcdserver: rpc not supported for learner',
  'invalid-member-urls': 'etcdserver: given member URLs are invalid',
  corrupt: 'etcdserver: corrupt cluster',
  canceled: 'etcdserver: request canceled',
} as const;

export type ServerErrorCode = keyof typeof SERVER_ERROR_MESSAGES;

export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly code: ServerErrorCode;

  constructor(code: ServerErrorCode) {
    super(SERVER_ERROR_MESSAGES[code]);
    this.code = code;
  }
}

export const isServerError = (error: unknown): error is ServerError => error instanceof ServerError;
