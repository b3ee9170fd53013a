/**
 * Membership changes, one member at a time (the non-joint path of etcd-io/raft): how a change
 * transforms a ConfState, and a small binary codec for conf-change entries.
 *
 * Codec, version 1 (big-endian):
 *   u8 version | u8 type (1 add-voter, 2 add-learner, 3 remove-member) | u64 member id |
 *   u32 context length | context bytes
 */
import { assert, asMemberId, BugError } from '../base/index.ts';
import type { ConfChange, ConfChangeType, ConfState } from './types.ts';

const CODEC_VERSION = 1;
const HEADER_BYTES = 1 + 1 + 8 + 4;
const TYPE_CODES: Record<ConfChangeType, number> = {
  'add-voter': 1,
  'add-learner': 2,
  'remove-member': 3,
};
const TYPES_BY_CODE = new Map<number, ConfChangeType>(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as ConfChangeType]),
);

export function encodeConfChange(change: ConfChange): Uint8Array {
  assert(change.memberId > 0n && change.memberId < 2n ** 64n, 'member id is a nonzero u64');
  const bytes = new Uint8Array(HEADER_BYTES + change.context.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, CODEC_VERSION);
  view.setUint8(1, TYPE_CODES[change.type]);
  view.setBigUint64(2, change.memberId);
  view.setUint32(10, change.context.length);
  bytes.set(change.context, HEADER_BYTES);
  return bytes;
}

/** Decodes a conf-change entry; a malformed one in a committed log is a bug, not an input. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  if (bytes.length < HEADER_BYTES) throw new BugError('conf change shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== CODEC_VERSION) throw new BugError('unknown conf change version');
  const type = TYPES_BY_CODE.get(view.getUint8(1));
  if (type === undefined) throw new BugError('unknown conf change type');
  const memberId = asMemberId(view.getBigUint64(2));
  const contextLength = view.getUint32(10);
  if (bytes.length !== HEADER_BYTES + contextLength) {
    throw new BugError('conf change length does not match its context length');
  }
  const context = bytes.slice(HEADER_BYTES);
  return { type, memberId, context };
}

/**
 * The configuration after `change`, or null when the change does nothing or is not allowed:
 * removing the last voter, or demoting a voter to learner (neither is possible one member at a
 * time without risking the quorum). Every member computes the same answer from the same entry.
 */
export function nextConfState(current: ConfState, change: ConfChange): ConfState | null {
  const id = change.memberId;
  const isVoter = current.voters.includes(id);
  const isLearner = current.learners.includes(id);
  assert(!(isVoter && isLearner), 'a member is either a voter or a learner');
  switch (change.type) {
    case 'add-voter':
      if (isVoter) return null;
      return {
        voters: [...current.voters, id],
        learners: current.learners.filter((learner) => learner !== id),
      };
    case 'add-learner':
      if (isVoter || isLearner) return null;
      return { voters: [...current.voters], learners: [...current.learners, id] };
    case 'remove-member': {
      if (!isVoter && !isLearner) return null;
      const voters = current.voters.filter((voter) => voter !== id);
      if (voters.length === 0) return null;
      return { voters, learners: current.learners.filter((learner) => learner !== id) };
    }
  }
}
