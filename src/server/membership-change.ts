/**
 * What a conf-change entry means to the member, and how it is applied to the member list.
 *
 * A conf-change entry's context is JSON: {"action", "requestId" (hex, matches the proposer's
 * waiter), "member" (the record, for bootstrap/add/update)}. Raft sees the ConfChange type
 * (add-voter, add-learner, remove-member); the action tells an add from a promotion
 * (both are add-voter for raft) and marks an update of peer URLs, which raft never sees.
 *
 * Every member validates each committed change again when it applies it (etcd does too), with
 * `judgeConfChange` over the configuration in force just before the entry: the raft
 * ConfState for raft, the member list for the backend. Both start equal and change only
 * through accepted entries, so they stay equal; a change that was valid when proposed but not
 * any more (two racing requests) is refused identically everywhere.
 */
import { asMemberId, assert, BugError } from '../base/index.ts';
import type { ConfChange, ConfState } from '../raft/index.ts';
import type { BackendWriter } from '../storage/index.ts';
import { deleteMember, readMember, readMembers, writeMember } from './cluster-store.ts';
import type { Member } from './server-api.ts';
import type { ServerErrorCode } from './server-error.ts';

export type MembershipAction = 'bootstrap' | 'add' | 'promote' | 'update' | 'remove';

export interface MembershipContext {
  readonly action: MembershipAction;
  /** 0 for bootstrap entries; otherwise the proposing member's request id. */
  readonly requestId: bigint;
  readonly member: Member | null;
}

interface WireContext {
  readonly action: MembershipAction;
  readonly requestId: string;
  readonly member?: {
    readonly id: string;
    readonly name: string;
    readonly peerUrls: readonly string[];
    readonly clientUrls: readonly string[];
    readonly isLearner: boolean;
  };
}

const ACTIONS: ReadonlySet<string> = new Set(['bootstrap', 'add', 'promote', 'update', 'remove']);

export function encodeMembershipContext(context: MembershipContext): Uint8Array {
  const wire: WireContext = {
    action: context.action,
    requestId: context.requestId.toString(16),
    ...(context.member === null
      ? {}
      : {
          member: {
            id: context.member.id.toString(16),
            name: context.member.name,
            peerUrls: [...context.member.peerUrls],
            clientUrls: [...context.member.clientUrls],
            isLearner: context.member.isLearner,
          },
        }),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** A committed entry's context; malformed context in a committed log is a bug, not input. */
export function decodeMembershipContext(bytes: Uint8Array): MembershipContext {
  let wire: WireContext;
  try {
    wire = JSON.parse(new TextDecoder().decode(bytes)) as WireContext;
  } catch {
    throw new BugError('a conf-change context that is not JSON');
  }
  if (!ACTIONS.has(wire.action) || typeof wire.requestId !== 'string') {
    throw new BugError('a conf-change context without action or request id');
  }
  const raw = wire.member;
  const member: Member | null =
    raw === undefined
      ? null
      : {
          id: BigInt(`0x${raw.id}`),
          name: raw.name ?? '',
          peerUrls: [...raw.peerUrls],
          clientUrls: [...(raw.clientUrls ?? [])],
          isLearner: raw.isLearner === true,
        };
  return { action: wire.action, requestId: BigInt(`0x${wire.requestId}`), member };
}

export type ConfChangeVerdict =
  | { readonly accepted: true; readonly touchesRaft: boolean }
  | { readonly accepted: false; readonly error: ServerErrorCode };

/** Decides a committed change against the configuration in force before it. */
export function judgeConfChange(
  conf: ConfState,
  change: ConfChange,
  context: MembershipContext,
): ConfChangeVerdict {
  const id = change.memberId;
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  const isMember = isVoter || isLearner;
  switch (context.action) {
    case 'bootstrap':
    case 'add':
      if (change.type === 'remove-member' || context.member === null) {
        throw new BugError('an add names the member it adds');
      }
      return isMember ? refuse('member-exists') : ACCEPTED_RAFT;
    case 'promote':
      if (!isMember) return refuse('member-not-found');
      return isLearner ? ACCEPTED_RAFT : refuse('not-learner');
    case 'update':
      if (context.member === null) throw new BugError('an update names the member it updates');
      return isMember ? { accepted: true, touchesRaft: false } : refuse('member-not-found');
    case 'remove':
      if (!isMember) return refuse('member-not-found');
      // Raft refuses to remove its last voter; so must the member list.
      if (isVoter && conf.voters.length === 1) return refuse('not-enough-started-members');
      return ACCEPTED_RAFT;
  }
}

const ACCEPTED_RAFT: ConfChangeVerdict = { accepted: true, touchesRaft: true };
const refuse = (error: ServerErrorCode): ConfChangeVerdict => ({ accepted: false, error });

/** The member list seen as a raft configuration (what the backend side judges against). */
export function confStateOfMembers(members: readonly Member[]): ConfState {
  return {
    voters: members.filter((member) => !member.isLearner).map((member) => asMemberId(member.id)),
    learners: members.filter((member) => member.isLearner).map((member) => asMemberId(member.id)),
  };
}

const REMOVED_VALUE = new Uint8Array([0x72]); // "r"; etcd stores "removed" — only presence counts

function removedKey(id: bigint): Uint8Array {
  const key = new Uint8Array(8);
  new DataView(key.buffer).setBigUint64(0, id);
  return key;
}

/** Applies a committed change to the backend's member list, inside the apply batch. */
export function applyConfChangeRecord(writer: BackendWriter, change: ConfChange): void {
  const context = decodeMembershipContext(change.context);
  const verdict = judgeConfChange(confStateOfMembers(readMembers(writer)), change, context);
  if (!verdict.accepted) return;
  const id = change.memberId;
  switch (context.action) {
    case 'bootstrap':
    case 'add': {
      const member = context.member;
      assert(member !== null && member.id === id, 'an add carries the record of its member');
      writeMember(writer, { ...member, isLearner: change.type === 'add-learner' });
      return;
    }
    case 'promote': {
      const existing = readMember(writer, id);
      assert(existing !== undefined, 'a promoted learner has a record');
      writeMember(writer, { ...existing, isLearner: false });
      return;
    }
    case 'update': {
      const existing = readMember(writer, id);
      assert(existing !== undefined && context.member !== null, 'an updated member exists');
      writeMember(writer, { ...existing, peerUrls: [...context.member.peerUrls] });
      return;
    }
    case 'remove':
      deleteMember(writer, id);
      writer.put('membersRemoved', removedKey(id), REMOVED_VALUE);
      return;
  }
}

export function isMemberRemoved(reader: Pick<BackendWriter, 'get'>, id: bigint): boolean {
  return reader.get('membersRemoved', removedKey(id)) !== undefined;
}
