/**
 * Applies one committed request to the state machine, inside the batch's backend transaction.
 * Expected failures (MVCC's, the lessor's, quota) become the request's outcome and change
 * nothing; every member reaches the same outcome from the same entry, because the decision
 * reads only replicated state (never the clock, except to start a lease's expiry clock on the
 * leader, which is not replicated state).
 */
import { isMvccError, type KvWriter, type RequestOp, type TxnRequest } from '../mvcc/index.ts';
import { isLeaseError, type LeaseTimeToLive, type Lessor } from '../lease/index.ts';
import { readMember, writeAlarm, writeMember } from './cluster-store.ts';
import type { InternalRequest } from './request.ts';
import type { AlarmMember } from './server-api.ts';
import { isServerError, ServerError } from './server-error.ts';

export type ApplyOutcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error };

export interface ApplyContext {
  readonly writer: KvWriter;
  readonly lessor: Lessor;
  /** Active alarms; updated in place when an alarm request is applied. */
  readonly alarms: AlarmMember[];
  readonly nowMs: number;
}

export function applyRequest(context: ApplyContext, request: InternalRequest): ApplyOutcome {
  try {
    return { ok: true, value: applyOrThrow(context, request) };
  } catch (error) {
    if (isMvccError(error) || isServerError(error)) return { ok: false, error };
    if (isLeaseError(error)) return { ok: false, error: new ServerError(error.code) };
    throw error;
  }
}

function applyOrThrow(context: ApplyContext, request: InternalRequest): unknown {
  const { writer, lessor } = context;
  switch (request.kind) {
    case 'put':
      checkSpace(context);
      checkLease(lessor, request.put.lease);
      return writer.put(request.put);
    case 'deleteRange':
      return writer.deleteRange(request.deleteRange);
    case 'txn':
      if (txnHasPut(request.txn)) checkSpace(context);
      checkTxnLeases(lessor, request.txn);
      return writer.txn(request.txn);
    case 'compact':
      return writer.compact(request.compact);
    case 'leaseGrant':
      checkSpace(context);
      return {
        id: request.id,
        ttl: lessor.grant(writer.backend, request.id, request.ttlSeconds, context.nowMs),
      };
    case 'leaseRevoke':
      lessor.revoke(writer, request.id);
      return null;
    case 'leaseRenew':
      return lessor.renew(request.id, context.nowMs);
    case 'leaseTimeToLiveQuery':
      // Followers' lessors never count expiry; only the primary's answer means anything.
      return lessor.isPrimary ? lessor.timeToLive(request.id, context.nowMs).ttlSeconds : null;
    case 'leaseTimeToLiveAnswer':
      return answeredTimeToLive(lessor, request, context.nowMs);
    case 'alarm':
      return applyAlarm(context, request);
    case 'memberAttributes': {
      const member = readMember(writer.backend, request.memberId);
      if (member === undefined) throw new ServerError('member-not-found');
      writeMember(writer.backend, {
        ...member,
        name: request.name,
        clientUrls: request.clientUrls,
      });
      return null;
    }
  }
}

/** The leader's remaining TTL with this member's replicated view (granted TTL, keys) at the
 *  answer's place in the log; a lease revoked between query and answer is gone. */
function answeredTimeToLive(
  lessor: Lessor,
  answer: Extract<InternalRequest, { kind: 'leaseTimeToLiveAnswer' }>,
  nowMs: number,
): LeaseTimeToLive {
  const local = lessor.timeToLive(answer.id, nowMs);
  if (answer.remainingSeconds < 0)
    return { id: answer.id, ttlSeconds: -1, grantedTtlSeconds: 0, keys: [] };
  if (local.ttlSeconds < 0) return local;
  return { ...local, ttlSeconds: Math.min(answer.remainingSeconds, local.grantedTtlSeconds) };
}

function applyAlarm(
  context: ApplyContext,
  request: Extract<InternalRequest, { kind: 'alarm' }>,
): AlarmMember[] {
  const alarm: AlarmMember = { memberId: request.memberId, alarm: request.alarm };
  const index = context.alarms.findIndex(
    (active) => active.memberId === alarm.memberId && active.alarm === alarm.alarm,
  );
  if (request.action === 'activate' && index < 0) {
    writeAlarm(context.writer.backend, alarm, 'activate');
    context.alarms.push(alarm);
  }
  if (request.action === 'deactivate' && index >= 0) {
    writeAlarm(context.writer.backend, alarm, 'deactivate');
    context.alarms.splice(index, 1);
  }
  return [...context.alarms];
}

function checkSpace(context: ApplyContext): void {
  if (context.alarms.some((alarm) => alarm.alarm === 'NOSPACE')) throw new ServerError('no-space');
}

function checkLease(lessor: Lessor, lease: bigint | undefined): void {
  if (lease === undefined || lease === 0n) return;
  // Not every caller is the gRPC decoder: a lease that is no bigint (an old entry's
  // fractional number, or null) names no lease, and must fail like one rather than throw
  // inside apply on every member, again at every replay.
  if (typeof lease !== 'bigint' || !lessor.has(lease)) throw new ServerError('lease-not-found');
}

/** Both branches are checked (etcd checks only the branch taken); a txn naming a lease that
 *  does not exist is refused either way, which no client relies on being otherwise. */
function checkTxnLeases(lessor: Lessor, txn: TxnRequest): void {
  for (const op of [...(txn.success ?? []), ...(txn.failure ?? [])]) {
    if ('requestPut' in op) checkLease(lessor, op.requestPut.lease);
    if ('requestTxn' in op) checkTxnLeases(lessor, op.requestTxn);
  }
}

export function txnHasPut(txn: TxnRequest): boolean {
  const hasPut = (op: RequestOp): boolean =>
    'requestPut' in op || ('requestTxn' in op && txnHasPut(op.requestTxn));
  return [...(txn.success ?? []), ...(txn.failure ?? [])].some(hasPut);
}
