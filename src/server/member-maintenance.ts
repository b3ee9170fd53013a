/**
 * The member's maintenance answers that are more than one line: Status (what etcdctl endpoint
 * status shows) and disarming alarms (each through raft, so every member clears it).
 */
import type { InternalRequest } from './request.ts';
import type { AlarmMember, ResponseHeader, StatusResponse } from './server-api.ts';
import type { StateMachine } from './state-machine.ts';
import type { Backend } from '../storage/index.ts';

export const SERVER_VERSION = '3.5.0';

export interface StatusSource {
  readonly header: ResponseHeader;
  readonly backend: Backend;
  readonly stateMachine: StateMachine;
  readonly leader: bigint;
  readonly commitIndex: number;
  readonly term: number;
  readonly appliedIndex: number;
  readonly isLearner: boolean;
}

export function memberStatus(source: StatusSource): StatusResponse {
  const size = source.backend.size();
  return {
    header: source.header,
    version: SERVER_VERSION,
    dbSize: size.sizeBytes,
    dbSizeInUse: size.sizeInUseBytes,
    leader: source.leader,
    raftIndex: source.commitIndex,
    raftTerm: source.term,
    raftAppliedIndex: source.appliedIndex,
    errors: source.stateMachine.alarms.map(
      (alarm) => `memberID:${alarm.memberId} alarm:${alarm.alarm} `,
    ),
    isLearner: source.isLearner,
  };
}

/** Deactivates every active alarm matching `alarm` (0 / NONE match any); returns them. */
export async function disarmAlarms(
  alarm: AlarmMember,
  active: readonly AlarmMember[],
  propose: (request: InternalRequest) => Promise<unknown>,
  onDisarmed: (disarmed: AlarmMember) => void,
): Promise<AlarmMember[]> {
  const matches = (candidate: AlarmMember): boolean =>
    (alarm.memberId === 0n || candidate.memberId === alarm.memberId) &&
    (alarm.alarm === 'NONE' || candidate.alarm === alarm.alarm);
  const disarmed = active.filter(matches);
  for (const found of disarmed) {
    await propose({ kind: 'alarm', action: 'deactivate', ...found });
    onDisarmed(found);
  }
  return disarmed;
}
