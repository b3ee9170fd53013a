/**
 * A linearizability checker for the simulator's key-value histories, in the style of Wing & Gong
 * with Lowe's memoisation (as in Porcupine): a depth-first search over the history's call/return
 * events that linearizes any operation whose call has happened, backtracks when it meets the
 * return of an operation it has not linearized yet, and remembers every (linearized set, model
 * state) pair it has already explored so no configuration is searched twice.
 *
 * Operations that timed out have an unknown outcome: their return is at +infinity, so they may be
 * linearized anywhere after their call, including after everything else (which is the same as not
 * taking effect). The history is split by key first (P-compositionality: a history of independent
 * registers is linearizable iff each register's sub-history is).
 */

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string }
  | {
      readonly kind: 'cas';
      readonly key: string;
      readonly expected: string | null;
      readonly value: string;
    };

export type KvOutput =
  | { readonly kind: 'put' }
  | { readonly kind: 'get'; readonly value: string | null }
  | { readonly kind: 'cas'; readonly succeeded: boolean };

export interface HistoryOperation {
  readonly clientId: number;
  readonly operationId: number;
  readonly input: KvInput;
  /** null when the client never learned the outcome (timeout): the operation may or may not
   *  have taken effect. */
  readonly output: KvOutput | null;
  /** Logical times from one strictly increasing counter, so real-time order is unambiguous. */
  readonly callAt: number;
  /** Infinity when `output` is null (the checker may move it earlier, see tightenObservedWrites). */
  readonly returnAt: number;
}

export type LinearizabilityResult =
  | { readonly kind: 'linearizable' }
  | { readonly kind: 'not-linearizable'; readonly key: string; readonly detail: string }
  /** The search hit its budget on some key; not a verdict either way. */
  | { readonly kind: 'unknown'; readonly key: string };

/** The register each key is: absent (null) or a string value. */
type RegisterState = string | null;

/** Applies `input` to `state`; null when the recorded `output` is impossible from `state`. */
function stepRegister(
  state: RegisterState,
  input: KvInput,
  output: KvOutput | null,
): { state: RegisterState } | null {
  switch (input.kind) {
    case 'put':
      return { state: input.value };
    case 'get':
      if (output === null) return { state };
      return output.kind === 'get' && output.value === state ? { state } : null;
    case 'cas': {
      const matches = state === input.expected;
      if (output === null) return { state: matches ? input.value : state };
      if (output.kind !== 'cas' || output.succeeded !== matches) return null;
      return { state: matches ? input.value : state };
    }
  }
}

interface ListNode {
  readonly operationIndex: number;
  readonly isCall: boolean;
  /** For a call, its return node. */
  match: ListNode | null;
  prev: ListNode | null;
  next: ListNode | null;
}

/** Builds the doubly linked list of call/return events in time order, behind a sentinel head. */
function buildEventList(operations: readonly HistoryOperation[]): ListNode {
  const events: { time: number; isCall: boolean; operationIndex: number }[] = [];
  operations.forEach((operation, operationIndex) => {
    events.push({ time: operation.callAt, isCall: true, operationIndex });
    events.push({ time: operation.returnAt, isCall: false, operationIndex });
  });
  // Calls sort before returns at equal times: treating touching operations as concurrent can
  // only accept more histories, never reject a linearizable one.
  // (Infinity - Infinity is NaN, so times are compared, not subtracted.)
  events.sort((left, right) => {
    if (left.time !== right.time) return left.time < right.time ? -1 : 1;
    if (left.isCall !== right.isCall) return left.isCall ? -1 : 1;
    return left.operationIndex - right.operationIndex;
  });
  const head: ListNode = { operationIndex: -1, isCall: false, match: null, prev: null, next: null };
  const callNodes: ListNode[] = [];
  let tail = head;
  for (const event of events) {
    const node: ListNode = {
      operationIndex: event.operationIndex,
      isCall: event.isCall,
      match: null,
      prev: tail,
      next: null,
    };
    tail.next = node;
    tail = node;
    if (event.isCall) callNodes[event.operationIndex] = node;
    else callNodes[event.operationIndex].match = node;
  }
  return head;
}

function lift(call: ListNode): void {
  const ret = call.match as ListNode;
  (call.prev as ListNode).next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  (ret.prev as ListNode).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: ListNode): void {
  const ret = call.match as ListNode;
  (ret.prev as ListNode).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as ListNode).next = call;
  if (call.next !== null) call.next.prev = call;
}

/** Stands in for every value no operation ever observes (see anonymousWriteGroups). */
const ANONYMOUS_VALUE = '\u0001anonymous';

/**
 * A timed-out write whose unique value no operation ever reads or compares against is
 * "anonymous": which of several such writes happened is unobservable, only that the register then
 * held some unobserved value. Such writes get one shared stand-in value, and writes with the same
 * effect (every anonymous put; anonymous cas with the same expected value) form a group whose
 * members are interchangeable once called. Returns, per operation, the previous member of its
 * group in call order, or -1 (also for operations that are not anonymous), and the rewritten
 * operations.
 */
function anonymousWriteGroups(operations: readonly HistoryOperation[]): {
  operations: HistoryOperation[];
  previousInGroup: Int32Array;
} {
  const mentioned = new Set<string>();
  for (const operation of operations) {
    const output = operation.output;
    if (output !== null && output.kind === 'get' && output.value !== null)
      mentioned.add(output.value);
    if (operation.input.kind === 'cas' && operation.input.expected !== null) {
      mentioned.add(operation.input.expected);
    }
  }
  const previousInGroup = new Int32Array(operations.length).fill(-1);
  const lastInGroup = new Map<string, number>();
  const order = operations.map((_, index) => index);
  order.sort((left, right) => operations[left].callAt - operations[right].callAt || left - right);
  const rewritten = [...operations];
  for (const index of order) {
    const operation = operations[index];
    const input = operation.input;
    if (operation.returnAt !== Infinity || input.kind === 'get' || mentioned.has(input.value)) {
      continue;
    }
    const group = input.kind === 'put' ? 'put' : `cas:${input.expected ?? '\u0000'}`;
    previousInGroup[index] = lastInGroup.get(group) ?? -1;
    lastInGroup.set(group, index);
    rewritten[index] = { ...operation, input: { ...input, value: ANONYMOUS_VALUE } };
  }
  return { operations: rewritten, previousInGroup };
}

/** Checks one key's sub-history. `budget` bounds the search steps. */
export function checkRegisterHistory(
  original: readonly HistoryOperation[],
  budget: number,
): { kind: 'linearizable' } | { kind: 'not-linearizable'; detail: string } | { kind: 'unknown' } {
  for (const operation of original) {
    if (operation.output !== null && operation.returnAt === Infinity) {
      throw new RangeError('an operation with an outcome must have returned');
    }
    if (operation.returnAt < operation.callAt) throw new RangeError('return before call');
  }
  const anonymous = anonymousWriteGroups(original);
  const operations = anonymous.operations;
  const previousInGroup = anonymous.previousInGroup;
  const head = buildEventList(operations);
  const words = Math.ceil(operations.length / 32) + 1;
  const linearized = new Uint32Array(words);
  const explored = new Set<string>();
  const stack: { call: ListNode; state: RegisterState }[] = [];
  let state: RegisterState = null;
  let entry = head.next;
  let steps = 0;
  // The deepest point the search reached and the return that stopped it, for the report.
  let deepest = -1;
  let blockedAt = -1;
  const isLinearized = (index: number): boolean =>
    (linearized[index >>> 5] & (1 << (index & 31))) !== 0;
  // An operation without an outcome can always be linearized last instead, so trying it now is
  // pointless when it would not change the state, or when an interchangeable member of its group
  // that was called earlier is still waiting (that one is tried instead).
  const deferrable = (index: number, nextState: RegisterState): boolean => {
    if (operations[index].returnAt !== Infinity) return false;
    if (nextState === state) return true;
    const previous = previousInGroup[index];
    return previous >= 0 && !isLinearized(previous);
  };
  while (head.next !== null) {
    if (++steps > budget) return { kind: 'unknown' };
    const node = entry as ListNode;
    if (node.isCall) {
      const operation = operations[node.operationIndex];
      const next = stepRegister(state, operation.input, operation.output);
      if (next !== null && !deferrable(node.operationIndex, next.state)) {
        const word = node.operationIndex >>> 5;
        const bit = 1 << (node.operationIndex & 31);
        linearized[word] |= bit;
        const key = `${linearized.join(',')}|${next.state === null ? '\u0000' : next.state}`;
        if (!explored.has(key)) {
          explored.add(key);
          stack.push({ call: node, state });
          state = next.state;
          lift(node);
          entry = head.next;
          continue;
        }
        linearized[word] &= ~bit;
      }
      entry = node.next;
    } else {
      // Returns at +infinity sort last, so reaching one means every operation that completed is
      // linearized; the rest have no outcome and can all take effect (or not) at the end.
      if (operations[node.operationIndex].returnAt === Infinity) return { kind: 'linearizable' };
      if (stack.length > deepest) {
        deepest = stack.length;
        blockedAt = node.operationIndex;
      }
      const top = stack.pop();
      if (top === undefined) break;
      state = top.state;
      linearized[top.call.operationIndex >>> 5] &= ~(1 << (top.call.operationIndex & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  if (head.next === null) return { kind: 'linearizable' };
  const blocked = operations[blockedAt];
  return {
    kind: 'not-linearizable',
    detail:
      `no linearization: at most ${deepest} of ${operations.length} operations could be ordered ` +
      `before ${describeOperation(blocked)} had to take effect`,
  };
}

export function describeOperation(operation: HistoryOperation): string {
  const input = operation.input;
  const args =
    input.kind === 'put'
      ? `${input.key}=${input.value}`
      : input.kind === 'get'
        ? input.key
        : `${input.key}: ${input.expected ?? '<absent>'} -> ${input.value}`;
  const output = operation.output;
  const result =
    output === null
      ? '?'
      : output.kind === 'put'
        ? 'ok'
        : output.kind === 'get'
          ? (output.value ?? '<absent>')
          : output.succeeded
            ? 'ok'
            : 'failed';
  const returned = operation.returnAt === Infinity ? 'inf' : String(operation.returnAt);
  return (
    `client ${operation.clientId} op ${operation.operationId} ${input.kind}(${args}) -> ` +
    `${result} [${operation.callAt}, ${returned}]`
  );
}

/**
 * A write whose outcome is unknown but whose (unique) value some completed operation observed
 * must have taken effect before that observer returned, so its return can be moved from +infinity
 * to the earliest such return. This is sound (it only forbids orders in which the observer read a
 * value not yet written) and turns most timed-out writes back into ordinary ones, which keeps the
 * search small.
 */
function tightenObservedWrites(operations: readonly HistoryOperation[]): HistoryOperation[] {
  const firstObservedAt = new Map<string, number>();
  const observe = (value: string | null, at: number): void => {
    if (value === null) return;
    const seen = firstObservedAt.get(value);
    if (seen === undefined || at < seen) firstObservedAt.set(value, at);
  };
  for (const operation of operations) {
    const output = operation.output;
    if (output === null) continue;
    if (output.kind === 'get') observe(output.value, operation.returnAt);
    if (operation.input.kind === 'cas' && output.kind === 'cas' && output.succeeded) {
      observe(operation.input.expected, operation.returnAt);
    }
  }
  return operations.map((operation) => {
    if (operation.output !== null || operation.input.kind === 'get') return operation;
    const observedAt = firstObservedAt.get(operation.input.value);
    if (observedAt === undefined) return operation;
    return { ...operation, returnAt: Math.max(observedAt, operation.callAt) };
  });
}

/** Checks a whole key-value history, key by key. Written values must be unique per key. */
export function checkKvHistory(
  operations: readonly HistoryOperation[],
  budgetPerKey = 2_000_000,
): LinearizabilityResult {
  const byKey = new Map<string, HistoryOperation[]>();
  for (const operation of operations) {
    // A read whose answer never arrived has no effect and tells nothing: leave it out.
    if (operation.input.kind === 'get' && operation.output === null) continue;
    const list = byKey.get(operation.input.key);
    if (list === undefined) byKey.set(operation.input.key, [operation]);
    else list.push(operation);
  }
  let unknownKey: string | null = null;
  for (const [key, list] of [...byKey].sort(([left], [right]) => (left < right ? -1 : 1))) {
    const result = checkRegisterHistory(tightenObservedWrites(list), budgetPerKey);
    if (result.kind === 'not-linearizable') {
      return { kind: 'not-linearizable', key, detail: result.detail };
    }
    if (result.kind === 'unknown') unknownKey = key;
  }
  return unknownKey === null ? { kind: 'linearizable' } : { kind: 'unknown', key: unknownKey };
}
