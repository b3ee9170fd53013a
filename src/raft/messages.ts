/** Building messages: every field of Message is required, so drafts fill in the defaults. */
import { asLogIndex, asTerm } from '../base/index.ts';
import { NO_MEMBER, type Message, type MessageType } from './types.ts';

export type MessageDraft = Partial<Message> & { readonly type: MessageType };

const EMPTY_BYTES = new Uint8Array(0);

export function makeMessage(draft: MessageDraft): Message {
  return {
    type: draft.type,
    to: draft.to ?? NO_MEMBER,
    from: draft.from ?? NO_MEMBER,
    term: draft.term ?? asTerm(0),
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
