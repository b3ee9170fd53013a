/**
 * The record of every client operation of a chaos run: its invocation and its completion, which
 * is `ok` (the outcome is known), `failed` (it certainly did not take effect) or `indeterminate`
 * (it may or may not have: a timeout, a dropped connection, a leader change after proposing).
 * One logical counter orders all invocations and completions of the process, so real-time
 * precedence is exact for the linearizability checker.
 */
import type { HistoryOperation, KvInput, KvOutput } from '../sim/checkers/linearizability.ts';

export type Outcome = 'ok' | 'failed' | 'indeterminate';

export interface OperationRecord {
  readonly clientId: number;
  readonly operationId: number;
  readonly input: KvInput;
  readonly callAt: number;
  readonly invokedAtMs: number;
  outcome: Outcome | 'pending';
  output: KvOutput | null;
  /** The response header's revision: for a successful write, the revision it created. */
  revision: number;
  returnAt: number;
  completedAtMs: number;
  error: string;
}

/**
 * Errors that prove a request was never proposed: the connection was never established, or the
 * member refused before proposing (sigild's proposer fails with these before raft sees the
 * entry, as etcd's server does). Every other error leaves a write's outcome unknown.
 */
const NOT_APPLIED_MESSAGES = [
  'No connection established',
  'etcdserver: no leader',
  'etcdserver: too many requests',
  'etcdserver: request is too large',
];

export function provesNotApplied(message: string): boolean {
  return NOT_APPLIED_MESSAGES.some((prefix) => message.startsWith(prefix));
}

export class HistoryRecorder {
  readonly operations: OperationRecord[] = [];
  private logicalTime = 0;
  private nextOperationId = 1;
  /** The newest revision any response carried. */
  latestRevision = 0;

  invoke(clientId: number, input: KvInput): OperationRecord {
    const record: OperationRecord = {
      clientId,
      operationId: this.nextOperationId++,
      input,
      callAt: this.logicalTime++,
      invokedAtMs: Date.now(),
      outcome: 'pending',
      output: null,
      revision: 0,
      returnAt: Infinity,
      completedAtMs: 0,
      error: '',
    };
    this.operations.push(record);
    return record;
  }

  complete(record: OperationRecord, output: KvOutput, revision: number): void {
    record.outcome = 'ok';
    record.output = output;
    record.revision = revision;
    record.returnAt = this.logicalTime++;
    this.latestRevision = Math.max(this.latestRevision, revision);
    record.completedAtMs = Date.now();
  }

  fail(record: OperationRecord, message: string): void {
    record.outcome = provesNotApplied(message) ? 'failed' : 'indeterminate';
    record.error = message;
    record.completedAtMs = Date.now();
    // An indeterminate operation's return stays at +infinity: it may take effect at any time.
    if (record.outcome === 'failed') record.returnAt = this.logicalTime++;
  }

  counts(): { ops: number; ok: number; failed: number; indeterminate: number } {
    const counts = { ops: 0, ok: 0, failed: 0, indeterminate: 0 };
    for (const record of this.operations) {
      counts.ops++;
      // Still pending when the run ended: nobody learned the outcome.
      if (record.outcome === 'pending') counts.indeterminate++;
      else counts[record.outcome]++;
    }
    return counts;
  }

  /** Acknowledged writes: puts and successful compare-and-swaps, with their revisions. */
  acknowledgedWrites(): { key: string; value: string; revision: number }[] {
    const writes: { key: string; value: string; revision: number }[] = [];
    for (const record of this.operations) {
      const { input, output } = record;
      if (record.outcome !== 'ok' || input.kind === 'get' || output === null) continue;
      if (output.kind === 'cas' && !output.succeeded) continue;
      writes.push({ key: input.key, value: input.value, revision: record.revision });
    }
    return writes;
  }
}

/** The history as the linearizability checker reads it. */
export function toCheckerHistory(operations: readonly OperationRecord[]): HistoryOperation[] {
  const history: HistoryOperation[] = [];
  for (const record of operations) {
    // A failed operation never took effect, and a read that learned nothing tells nothing.
    if (record.outcome === 'failed') continue;
    if (record.outcome !== 'ok' && record.input.kind === 'get') continue;
    const known = record.outcome === 'ok';
    history.push({
      clientId: record.clientId,
      operationId: record.operationId,
      input: record.input,
      output: known ? record.output : null,
      callAt: record.callAt,
      returnAt: known ? record.returnAt : Infinity,
    });
  }
  return history;
}
