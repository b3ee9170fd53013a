/**
 * One printer for entries, messages and Readys, shared by logs and the datadriven tests so a
 * trace reads the same everywhere. Member ids are printed as etcd prints them (hex).
 */
import { formatMemberId, utf8Decode, type MemberId } from '../base/index.ts';
import { decodeConfChange } from './conf-change.ts';
import type { ConfState, Entry, HardState, Message, Ready, Snapshot, SoftState } from './types.ts';

export function describeMemberIds(ids: readonly MemberId[]): string {
  return `(${ids.map(formatMemberId).join(' ')})`;
}

export function describeConfState(confState: ConfState): string {
  const learners =
    confState.learners.length > 0 ? ` learners=${describeMemberIds(confState.learners)}` : '';
  return `voters=${describeMemberIds(confState.voters)}${learners}`;
}

/** Printable UTF-8 is shown quoted; anything else as hex, so binary never garbles a trace. */
export function describeBytes(bytes: Uint8Array): string {
  const text = utf8Decode(bytes);
  if (/^[\x20-\x7e]*$/.test(text)) return JSON.stringify(text);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return `0x${hex}`;
}

export function describeEntry(entry: Entry): string {
  const position = `${entry.term}/${entry.index}`;
  if (entry.type === 'normal') return `${position} EntryNormal ${describeBytes(entry.data)}`;
  const change = decodeConfChange(entry.data);
  return `${position} EntryConfChange ${change.type} ${formatMemberId(change.memberId)}`;
}

export function describeEntries(entries: readonly Entry[]): string {
  return entries.map(describeEntry).join(', ');
}

export function describeSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.metadata;
  return `Index:${index} Term:${term} ConfState:${describeConfState(confState)}`;
}

export function describeMessage(message: Message): string {
  const from = formatMemberId(message.from);
  const to = formatMemberId(message.to);
  let text = `${from}->${to} ${message.type} Term:${message.term} Log:${message.logTerm}/${message.index}`;
  if (message.reject) text += ` Rejected (Hint: ${message.rejectHint})`;
  if (message.commit !== 0) text += ` Commit:${message.commit}`;
  if (message.entries.length > 0) text += ` Entries:[${describeEntries(message.entries)}]`;
  if (message.context.length > 0) text += ` Context:${describeBytes(message.context)}`;
  if (message.snapshot !== null) text += ` Snapshot: ${describeSnapshot(message.snapshot)}`;
  return text;
}

export function describeHardState(hardState: HardState): string {
  return `Term:${hardState.term} Vote:${formatMemberId(hardState.vote)} Commit:${hardState.commit}`;
}

export function describeSoftState(softState: SoftState): string {
  return `Lead:${formatMemberId(softState.leader)} Role:${softState.role}`;
}

/** A multi-line rendering; each line is prefixed with `indent`. */
export function describeReady(ready: Ready, indent = ''): string {
  const lines: string[] = [`Ready MustSync=${ready.mustSync}:`];
  if (ready.softState !== null) lines.push(describeSoftState(ready.softState));
  if (ready.hardState !== null) lines.push(`HardState ${describeHardState(ready.hardState)}`);
  if (ready.readStates.length > 0) {
    const states = ready.readStates.map((rs) => `{Index:${rs.index} ${describeBytes(rs.context)}}`);
    lines.push(`ReadStates: ${states.join(', ')}`);
  }
  if (ready.entries.length > 0) {
    lines.push('Entries:', ...ready.entries.map(describeEntry));
  }
  if (ready.snapshot !== null) lines.push(`Snapshot ${describeSnapshot(ready.snapshot)}`);
  if (ready.committedEntries.length > 0) {
    lines.push('CommittedEntries:', ...ready.committedEntries.map(describeEntry));
  }
  if (ready.messages.length > 0) {
    lines.push('Messages:', ...ready.messages.map(describeMessage));
  }
  return lines.map((line) => indent + line).join('\n');
}
