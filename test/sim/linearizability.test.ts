import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkKvHistory,
  checkRegisterHistory,
  type HistoryOperation,
  type KvInput,
  type KvOutput,
} from './checkers/linearizability.ts';

let nextOperationId = 0;
function op(
  input: KvInput,
  output: KvOutput | null,
  callAt: number,
  returnAt: number | null,
  clientId = 0,
): HistoryOperation {
  return {
    clientId,
    operationId: nextOperationId++,
    input,
    output,
    callAt,
    returnAt: returnAt ?? Infinity,
  };
}
const put = (value: string): KvInput => ({ kind: 'put', key: 'k', value });
const get: KvInput = { kind: 'get', key: 'k' };
const cas = (expected: string | null, value: string): KvInput => ({
  kind: 'cas',
  key: 'k',
  expected,
  value,
});
const putOk: KvOutput = { kind: 'put' };
const read = (value: string | null): KvOutput => ({ kind: 'get', value });
const casResult = (succeeded: boolean): KvOutput => ({ kind: 'cas', succeeded });

const table: { name: string; history: HistoryOperation[]; linearizable: boolean }[] = [
  { name: 'empty history', history: [], linearizable: true },
  {
    name: 'read of a never-written key is absent',
    history: [op(get, read(null), 1, 2)],
    linearizable: true,
  },
  { name: 'read invents a value', history: [op(get, read('x'), 1, 2)], linearizable: false },
  {
    name: 'sequential put then read',
    history: [op(put('a'), putOk, 1, 2), op(get, read('a'), 3, 4)],
    linearizable: true,
  },
  {
    name: 'stale read after a completed put',
    history: [op(put('a'), putOk, 1, 2), op(put('b'), putOk, 3, 4), op(get, read('a'), 5, 6)],
    linearizable: false,
  },
  {
    name: 'concurrent read may see the old value',
    history: [op(put('a'), putOk, 1, 2), op(put('b'), putOk, 3, 6), op(get, read('a'), 4, 5)],
    linearizable: true,
  },
  {
    name: 'concurrent read may see the new value',
    history: [op(put('a'), putOk, 1, 2), op(put('b'), putOk, 3, 6), op(get, read('b'), 4, 5)],
    linearizable: true,
  },
  {
    name: 'reads cannot go back in time',
    history: [
      op(put('a'), putOk, 1, 2),
      op(put('b'), putOk, 3, 10),
      op(get, read('b'), 4, 5, 1),
      op(get, read('a'), 6, 7, 2),
    ],
    linearizable: false,
  },
  {
    name: 'a timed-out put may take effect later',
    history: [op(put('a'), null, 1, null), op(get, read(null), 2, 3), op(get, read('a'), 4, 5)],
    linearizable: true,
  },
  {
    name: 'a timed-out put may never take effect',
    history: [op(put('a'), null, 1, null), op(get, read(null), 20, 30)],
    linearizable: true,
  },
  {
    name: 'a timed-out put cannot be observed before it was called',
    history: [op(get, read('a'), 1, 2), op(put('a'), null, 3, null)],
    linearizable: false,
  },
  {
    name: 'a timed-out put takes effect once, not twice',
    history: [
      op(put('a'), null, 1, null),
      op(get, read('a'), 2, 3),
      op(put('b'), putOk, 4, 5),
      op(get, read('a'), 6, 7),
    ],
    linearizable: false,
  },
  {
    name: 'cas succeeds on the expected value',
    history: [
      op(put('a'), putOk, 1, 2),
      op(cas('a', 'b'), casResult(true), 3, 4),
      op(get, read('b'), 5, 6),
    ],
    linearizable: true,
  },
  {
    name: 'cas cannot succeed on a different value',
    history: [op(put('a'), putOk, 1, 2), op(cas('z', 'b'), casResult(true), 3, 4)],
    linearizable: false,
  },
  {
    name: 'cas cannot fail on the expected value',
    history: [op(put('a'), putOk, 1, 2), op(cas('a', 'b'), casResult(false), 3, 4)],
    linearizable: false,
  },
  {
    name: 'cas on an absent key',
    history: [op(cas(null, 'a'), casResult(true), 1, 2), op(get, read('a'), 3, 4)],
    linearizable: true,
  },
  {
    name: 'a failed cas explained by a concurrent timed-out put',
    history: [
      op(put('a'), putOk, 1, 2),
      op(put('x'), null, 3, null),
      op(cas('a', 'b'), casResult(false), 4, 5),
    ],
    linearizable: true,
  },
  {
    name: 'two concurrent cas from the same value cannot both succeed',
    history: [
      op(put('a'), putOk, 1, 2),
      op(cas('a', 'b'), casResult(true), 3, 6, 1),
      op(cas('a', 'c'), casResult(true), 4, 5, 2),
    ],
    linearizable: false,
  },
  {
    name: 'lost acknowledged write',
    history: [op(put('a'), putOk, 1, 2), op(put('b'), putOk, 3, 4), op(get, read('a'), 100, 101)],
    linearizable: false,
  },
];

for (const { name, history, linearizable } of table) {
  test(`linearizability: ${name}`, () => {
    const result = checkKvHistory(history);
    assert.equal(
      result.kind,
      linearizable ? 'linearizable' : 'not-linearizable',
      JSON.stringify(result),
    );
  });
}

test('linearizability: keys are checked independently', () => {
  const history = [
    op({ kind: 'put', key: 'x', value: 'x1' }, putOk, 1, 2),
    op({ kind: 'put', key: 'y', value: 'y1' }, putOk, 3, 4),
    op({ kind: 'get', key: 'x' }, read('x1'), 5, 6),
    op({ kind: 'get', key: 'y' }, read(null), 7, 8),
  ];
  const result = checkKvHistory(history);
  assert.equal(result.kind, 'not-linearizable');
  if (result.kind === 'not-linearizable') assert.equal(result.key, 'y');
});

test('linearizability: the search budget yields unknown, never a verdict', () => {
  const history = [op(put('a'), putOk, 1, 2), op(get, read('a'), 3, 4)];
  assert.equal(checkRegisterHistory(history, 1).kind, 'unknown');
});

test('linearizability: many concurrent timed-out writes stay fast', () => {
  const history: HistoryOperation[] = [];
  for (let i = 0; i < 40; i++) history.push(op(put(`t${i}`), null, i, null));
  history.push(op(get, read(null), 100, 101));
  for (let i = 0; i < 60; i++) history.push(op(put(`v${i}`), putOk, 200 + 2 * i, 201 + 2 * i));
  history.push(op(get, read('v59'), 400, 401));
  assert.equal(checkKvHistory(history).kind, 'linearizable');
});

/** Brute force: tries every order consistent with real time; only for tiny histories. */
function bruteForce(history: readonly HistoryOperation[]): boolean {
  const used = new Array<boolean>(history.length).fill(false);
  const search = (state: string | null, placed: number): boolean => {
    if (placed === history.length) return true;
    for (let i = 0; i < history.length; i++) {
      if (used[i]) continue;
      // i may go next only if no unplaced operation returned before i was called.
      const blocked = history.some(
        (other, j) => !used[j] && j !== i && other.returnAt < history[i].callAt,
      );
      if (blocked) continue;
      const { input, output } = history[i];
      let next: string | null = state;
      if (input.kind === 'put') next = input.value;
      else if (input.kind === 'get') {
        if (output !== null && (output.kind !== 'get' || output.value !== state)) continue;
      } else {
        const matches = state === input.expected;
        if (output !== null && (output.kind !== 'cas' || output.succeeded !== matches)) continue;
        if (matches) next = input.value;
      }
      used[i] = true;
      if (search(next, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(null, 0);
}

test('linearizability: agrees with brute force on small random histories', () => {
  const values = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const operationArbitrary = fc.record({
    kind: fc.constantFrom('put', 'get', 'cas'),
    expected: fc.constantFrom(null, 'a', 'b', 'c'),
    readValue: fc.constantFrom(null, 'a', 'b', 'c', 'd'),
    succeeded: fc.boolean(),
    timedOut: fc.boolean(),
    callAt: fc.integer({ min: 0, max: 20 }),
    length: fc.integer({ min: 0, max: 10 }),
  });
  fc.assert(
    fc.property(fc.array(operationArbitrary, { minLength: 1, maxLength: 7 }), (drawn) => {
      const history = drawn.map((drawnOperation, i): HistoryOperation => {
        const value = values[i];
        const input: KvInput =
          drawnOperation.kind === 'put'
            ? put(value)
            : drawnOperation.kind === 'get'
              ? get
              : cas(drawnOperation.expected, value);
        const timedOut = drawnOperation.timedOut && input.kind !== 'get';
        const output: KvOutput | null = timedOut
          ? null
          : input.kind === 'put'
            ? putOk
            : input.kind === 'get'
              ? read(drawnOperation.readValue)
              : casResult(drawnOperation.succeeded);
        // Distinct times: calls at even, returns at odd logical instants.
        const callAt = drawnOperation.callAt * 100 + i * 2;
        const returnAt = timedOut ? Infinity : callAt + drawnOperation.length * 100 + 1;
        return { clientId: i, operationId: i, input, output, callAt, returnAt };
      });
      const expected = bruteForce(history);
      const actual = checkKvHistory(history).kind;
      assert.equal(actual, expected ? 'linearizable' : 'not-linearizable');
    }),
    { numRuns: 3000, seed: 20261125 },
  );
});
