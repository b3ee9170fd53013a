/** fast-check generators for wire messages, shared by the codec and protocol tests. */
import fc from 'fast-check';
import { asLogIndex, asMemberId, asTerm } from '../../src/base/index.ts';
import type { Entry, Message, MessageType, Snapshot } from '../../src/raft/types.ts';

export const WIRE_TYPES: MessageType[] = [
  'MsgProp',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgSnap',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgTransferLeader',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
];

export const memberIdArbitrary = fc
  .bigInt({ min: 0n, max: (1n << 64n) - 1n })
  .map((id) => asMemberId(id));
const safeUint = fc.oneof(fc.nat(300), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 300 });

/** Decoded messages are plain objects; fast-check would otherwise mix in null prototypes. */
const plainObject = { noNullPrototype: true } as const;

const entryArbitrary: fc.Arbitrary<Entry> = fc.record(
  {
    term: safeUint.map(asTerm),
    index: safeUint.map(asLogIndex),
    type: fc.constantFrom('normal' as const, 'conf-change' as const),
    data: bytes,
  },
  plainObject,
);

const snapshotArbitrary: fc.Arbitrary<Snapshot> = fc.record(
  {
    metadata: fc.record(
      {
        index: safeUint.map(asLogIndex),
        term: safeUint.map(asTerm),
        confState: fc.record(
          {
            voters: fc.array(memberIdArbitrary, { maxLength: 7 }),
            learners: fc.array(memberIdArbitrary, { maxLength: 3 }),
          },
          plainObject,
        ),
      },
      plainObject,
    ),
    data: fc.uint8Array({ maxLength: 2000 }),
  },
  plainObject,
);

export const messageArbitrary: fc.Arbitrary<Message> = fc.record(
  {
    type: fc.constantFrom(...WIRE_TYPES),
    to: memberIdArbitrary,
    from: memberIdArbitrary,
    term: safeUint.map(asTerm),
    logTerm: safeUint.map(asTerm),
    index: safeUint.map(asLogIndex),
    entries: fc.array(entryArbitrary, { maxLength: 6 }),
    commit: safeUint.map(asLogIndex),
    snapshot: fc.option(snapshotArbitrary, { nil: null }),
    reject: fc.boolean(),
    rejectHint: safeUint.map(asLogIndex),
    context: fc.uint8Array({ maxLength: 40 }),
  },
  plainObject,
);
