/**
 * Building messages: every field of Message is required, so drafts fill in the defaults.
 *
 * Every Message (and Entry) is built by one object literal with its fields in one order, so
 * V8 gives them all one hidden class and the code that reads them stays monomorphic. Building
 * them by spreading drafts of many shapes (`{ ...draft, from }`) made V8 create and migrate
 * hidden classes on every send: 15 % of a busy leader's CPU.
 */
import { asLogIndex, asTerm, type LogIndex, type MemberId, type Term } from '../base/index.ts';
import { NO_MEMBER, type Entry, type EntryType, type Message, type MessageType } from './types.ts';

export type MessageDraft = Partial<Message> & { readonly type: MessageType };

const EMPTY_BYTES = new Uint8Array(0);

export function makeMessage(draft: MessageDraft): Message {
  return messageWith(draft, draft.from ?? NO_MEMBER, draft.term ?? asTerm(0));
}

/** `draft` with its sender and term given separately (what a member fills in when sending). */
export function messageWith(draft: MessageDraft, from: MemberId, term: Term): Message {
  return {
    type: draft.type,
    to: draft.to ?? NO_MEMBER,
    from,
    term,
    logTerm: draft.logTerm ?? asTerm(0),
    index: draft.index ?? asLogIndex(0),
    entries: draft.entries ?? [],
    commit: draft.commit ?? asLogIndex(0),
    snapshot: draft.snapshot ?? null,
    reject: draft.reject ?? false,
    rejectHint: draft.rejectHint ?? asLogIndex(0),
    context: draft.context ?? EMPTY_BYTES,
  };
}

/** The one way entries are built (see the note at the top on hidden classes). */
export function makeEntry(term: Term, index: LogIndex, type: EntryType, data: Uint8Array): Entry {
  return { term, index, type, data };
}

/** Messages that only a member gives itself; the network must never deliver them. */
export function isLocalMessage(type: MessageType): boolean {
  return (
    type === 'MsgHup' ||
    type === 'MsgBeat' ||
    type === 'MsgUnreachable' ||
    type === 'MsgSnapStatus' ||
    type === 'MsgCheckQuorum'
  );
}

export function isResponseMessage(type: MessageType): boolean {
  return (
    type === 'MsgAppResp' ||
    type === 'MsgVoteResp' ||
    type === 'MsgPreVoteResp' ||
    type === 'MsgHeartbeatResp' ||
    type === 'MsgUnreachable'
  );
}

export function voteResponseType(type: MessageType): MessageType {
  return type === 'MsgPreVote' ? 'MsgPreVoteResp' : 'MsgVoteResp';
}
