export { BugError, assert, assertNever } from './assert.ts';
export type { Clock, TimerHandle } from './clock.ts';
export { type Random, SeededRandom } from './random.ts';
export {
  type Term,
  type LogIndex,
  type Revision,
  type MemberId,
  asTerm,
  asLogIndex,
  asRevision,
  asMemberId,
  formatMemberId,
} from './ids.ts';
export { utf8Encode, utf8Decode, compareBytes, bytesEqual, concatBytes } from './bytes.ts';
