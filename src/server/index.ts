/** The public surface of the member: the ServerApi, its errors, and the factory. */
export type * from './server-api.ts';
export {
  ServerError,
  isServerError,
  SERVER_ERROR_MESSAGES,
  type ServerErrorCode,
} from './server-error.ts';
export { SigilMember, SERVER_VERSION } from './member.ts';
export type { MemberObserver } from './member-observer.ts';
export {
  memberConfigDefaults,
  minLeaseTtlSeconds,
  type AutoCompaction,
  type Logger,
  type MemberConfig,
  type MemberEnvironment,
} from './member-config.ts';
export type { FoundingMember } from './raft-storage.ts';
export { decodeMember } from './cluster-store.ts';
export { seedMemberDataDir, type SeedMemberOptions } from './membership-bootstrap.ts';
export {
  discoverCluster,
  encodeClusterInfo,
  readMemberIdentity,
  type JoinPlan,
} from './membership-join.ts';

import type { MemberConfig, MemberEnvironment } from './member-config.ts';
import { SigilMember } from './member.ts';

/** The factory src/api and src/cli use: opens the data, joins the cluster, serves. */
export function startMember(config: MemberConfig, env: MemberEnvironment): Promise<SigilMember> {
  return SigilMember.start(config, env);
}
