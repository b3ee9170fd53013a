/**
 * Raft's safety properties, checked incrementally as members persist, commit and apply, so that
 * checking after every step costs time proportional to what the step changed, not to the log.
 *
 * - Election safety: at most one leader per term, and one vote per member per term.
 * - Log matching: an (index, term) pair names one entry, with one predecessor term, in every
 *   log it ever appears in. By induction over indexes this is the Log Matching Property.
 * - State machine safety: all members commit and apply the same entry at each index.
 * - Leader completeness: a leader of term T holds every entry committed in a term before T,
 *   and commits by counting replicas only entries of term T (§5.4.2).
 * - Commit and applied indexes never go backwards (within one run of a member's process).
 * - Nothing acknowledged to a client is lost: its entry stays the one chosen at its index.
 * - ReadIndex: a read's index covers everything committed before the read reached the member.
 */
import { bytesEqual, type LogIndex } from '../../../src/base/index.ts';
import type { LogStorage } from '../../../src/raft/log-storage.ts';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.ts';

export interface Violation {
  readonly property: string;
  readonly detail: string;
}

interface LoggedEntry {
  readonly entry: Entry;
  /** -1 when the predecessor's term was not known (compacted). */
  readonly previousTerm: number;
  readonly member: number;
}

interface ChosenEntry {
  readonly entry: Entry;
  /** The earliest term in which some member saw it committed. */
  commitTerm: number;
  readonly member: number;
}

interface MemberTrack {
  commit: number;
  applied: number;
  term: number;
  /** Committed entries up to here have been compared with the chosen ones. */
  commitChecked: number;
  votes: Map<number, bigint>;
  /** The member's log while it is leader (for completeness checks on new commits). */
  leaderLog: LogStorage | null;
  leaderTerm: number;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly leaderByTerm = new Map<number, number>();
  private readonly logged = new Map<number, Map<number, LoggedEntry>>();
  private readonly chosen = new Map<number, ChosenEntry>();
  private maxChosenIndex = 0;
  private readonly acknowledged = new Map<number, number>();
  private readonly snapshotData = new Map<number, Uint8Array>();
  private readonly members = new Map<number, MemberTrack>();

  private fail(property: string, detail: string): void {
    this.violations.push({ property, detail });
  }

  private track(member: number): MemberTrack {
    let track = this.members.get(member);
    if (track === undefined) {
      track = {
        commit: 0,
        applied: 0,
        term: 0,
        commitChecked: 0,
        votes: new Map(),
        leaderLog: null,
        leaderTerm: 0,
      };
      this.members.set(member, track);
    }
    return track;
  }

  /** A member process (re)started from its disk: per-process monotonicity starts afresh. */
  onStart(member: number, applied: number, commit: number): void {
    const track = this.track(member);
    track.commit = Math.max(applied, commit);
    track.applied = applied;
    track.term = 0;
    track.commitChecked = applied;
    track.leaderLog = null;
  }

  onStop(member: number): void {
    this.track(member).leaderLog = null;
  }

  /** Entries just written to `log` (already appended there). */
  onPersistEntries(member: number, entries: readonly Entry[], log: LogStorage): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      let previousTerm: number;
      if (i > 0) previousTerm = entries[i - 1].term;
      else if (entry.index === 1) previousTerm = 0;
      else {
        const term = log.term((entry.index - 1) as LogIndex);
        previousTerm = typeof term === 'number' ? term : -1;
      }
      this.checkLogMatching(member, entry, previousTerm);
    }
  }

  private checkLogMatching(member: number, entry: Entry, previousTerm: number): void {
    let byTerm = this.logged.get(entry.index);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.logged.set(entry.index, byTerm);
    }
    const seen = byTerm.get(entry.term);
    if (seen === undefined) {
      byTerm.set(entry.term, { entry, previousTerm, member });
      return;
    }
    if (!sameEntry(seen.entry, entry)) {
      this.fail(
        'log matching',
        `members ${seen.member} and ${member} hold different entries at index ${entry.index} ` +
          `term ${entry.term}`,
      );
    } else if (seen.previousTerm >= 0 && previousTerm >= 0 && seen.previousTerm !== previousTerm) {
      this.fail(
        'log matching',
        `entry ${entry.index}@${entry.term} follows term ${seen.previousTerm} on member ` +
          `${seen.member} but term ${previousTerm} on member ${member}`,
      );
    }
  }

  /** A hard state just persisted by `member`, whose log already holds the Ready's entries. */
  onHardState(member: number, hardState: HardState, log: LogStorage, isLeader: boolean): void {
    const track = this.track(member);
    if (isLeader && hardState.commit > track.commit)
      this.checkLeaderCommitRule(member, hardState, log);
    if (hardState.term < track.term) {
      this.fail('term monotonic', `member ${member} term ${track.term} -> ${hardState.term}`);
    }
    track.term = hardState.term;
    if (hardState.vote !== 0n) {
      const earlier = track.votes.get(hardState.term);
      if (earlier === undefined) track.votes.set(hardState.term, hardState.vote);
      else if (earlier !== hardState.vote) {
        this.fail(
          'election safety',
          `member ${member} voted for ${earlier} and then ${hardState.vote} in term ${hardState.term}`,
        );
      }
    }
    if (hardState.commit < track.commit) {
      this.fail(
        'commit monotonic',
        `member ${member} commit ${track.commit} -> ${hardState.commit}`,
      );
    }
    track.commit = Math.max(track.commit, hardState.commit);
    this.checkNewlyCommitted(member, track, hardState, log);
  }

  /**
   * Raft §5.4.2 (Figure 8): a leader advances its commit index only to an entry of its own term;
   * older entries are committed only indirectly. Counting replicas of an older entry can commit
   * something a later leader overwrites, long before any client could observe the loss.
   */
  private checkLeaderCommitRule(member: number, hardState: HardState, log: LogStorage): void {
    const term = log.term(hardState.commit);
    if (term === hardState.term || term === 'compacted') return;
    this.fail(
      'leader commit rule',
      `member ${member}, leader of term ${hardState.term}, advanced its commit to ` +
        `${hardState.commit}, an entry of term ${term}`,
    );
  }

  private checkNewlyCommitted(
    member: number,
    track: MemberTrack,
    hardState: HardState,
    log: LogStorage,
  ): void {
    const high = hardState.commit;
    if (high <= track.commitChecked) return;
    if (high > log.lastIndex()) {
      this.fail(
        'commit within log',
        `member ${member} commit ${high} > last index ${log.lastIndex()}`,
      );
      return;
    }
    const low = Math.max(track.commitChecked + 1, log.firstIndex());
    track.commitChecked = high;
    if (low > high) return;
    const entries = log.entries(low as LogIndex, (high + 1) as LogIndex, Infinity);
    if (typeof entries === 'string') {
      this.fail('commit within log', `member ${member} cannot read committed [${low}, ${high}]`);
      return;
    }
    for (const entry of entries) this.choose(member, entry, hardState.term, 'committed');
  }

  /** Records `entry` as the one chosen at its index, or reports that another one was. */
  private choose(member: number, entry: Entry, commitTerm: number, verb: string): void {
    const chosen = this.chosen.get(entry.index);
    if (chosen === undefined) {
      this.chosen.set(entry.index, { entry, commitTerm, member });
      if (entry.index > this.maxChosenIndex) this.maxChosenIndex = entry.index;
      this.checkLeadersHold(entry, commitTerm);
      return;
    }
    if (!sameEntry(chosen.entry, entry)) {
      const acknowledged = this.acknowledged.has(entry.index);
      this.fail(
        acknowledged ? 'acknowledged write lost' : 'state machine safety',
        `member ${member} ${verb} ${describeEntry(entry)} but member ${chosen.member} had ` +
          `${describeEntry(chosen.entry)} at the same index`,
      );
      return;
    }
    if (commitTerm < chosen.commitTerm) chosen.commitTerm = commitTerm;
  }

  /** Leader completeness for entries that become known as committed while leaders exist. */
  private checkLeadersHold(entry: Entry, commitTerm: number): void {
    for (const [member, track] of this.members) {
      if (track.leaderLog === null || track.leaderTerm <= commitTerm) continue;
      this.checkLeaderHolds(member, track.leaderTerm, track.leaderLog, entry);
    }
  }

  private checkLeaderHolds(member: number, term: number, log: LogStorage, entry: Entry): void {
    if (entry.index < log.firstIndex()) return; // Compacted: covered by its snapshot.
    const held = entry.index <= log.lastIndex() ? log.term(entry.index) : 'missing';
    if (held !== entry.term) {
      this.fail(
        'leader completeness',
        `member ${member}, leader of term ${term}, lacks committed ${describeEntry(entry)} ` +
          `(has ${held})`,
      );
    }
  }

  /** `member` leads `term` now, with `log` fully persisted. */
  onBecomeLeader(member: number, term: number, log: LogStorage): void {
    const previous = this.leaderByTerm.get(term);
    if (previous !== undefined && previous !== member) {
      this.fail('election safety', `members ${previous} and ${member} both lead term ${term}`);
    }
    this.leaderByTerm.set(term, member);
    const track = this.track(member);
    track.leaderLog = log;
    track.leaderTerm = term;
    const violationsBefore = this.violations.length;
    for (const chosen of this.chosen.values()) {
      if (chosen.commitTerm >= term) continue;
      this.checkLeaderHolds(member, term, log, chosen.entry);
      if (this.violations.length > violationsBefore) return;
    }
  }

  onStepDown(member: number): void {
    this.track(member).leaderLog = null;
  }

  onApply(member: number, entry: Entry): void {
    const track = this.track(member);
    if (entry.index !== track.applied + 1) {
      this.fail(
        'applied in order',
        `member ${member} applied index ${entry.index} after ${track.applied}`,
      );
    }
    track.applied = entry.index;
    if (entry.index > track.commit) {
      this.fail(
        'apply only committed',
        `member ${member} applied ${entry.index} > commit ${track.commit}`,
      );
    }
    this.choose(member, entry, Infinity, 'applied');
  }

  onApplySnapshot(member: number, snapshot: Snapshot): void {
    const track = this.track(member);
    const index = snapshot.metadata.index;
    if (index < track.applied) {
      this.fail(
        'applied monotonic',
        `member ${member} applied ${track.applied} -> snapshot ${index}`,
      );
    }
    track.applied = Math.max(track.applied, index);
    track.commit = Math.max(track.commit, index);
    track.commitChecked = Math.max(track.commitChecked, index);
    const chosen = this.chosen.get(index);
    if (chosen !== undefined && chosen.entry.term !== snapshot.metadata.term) {
      this.fail(
        'state machine safety',
        `member ${member} installed a snapshot at ${index}@${snapshot.metadata.term} but ` +
          `${describeEntry(chosen.entry)} was chosen there`,
      );
    }
    this.compareSnapshotData(member, index, snapshot.data);
  }

  /** Two state-machine snapshots at one index must be byte-identical (deterministic apply). */
  compareSnapshotData(member: number, index: number, data: Uint8Array): void {
    const earlier = this.snapshotData.get(index);
    if (earlier === undefined) this.snapshotData.set(index, data);
    else if (!bytesEqual(earlier, data)) {
      this.fail('state machine safety', `member ${member} has a different state at index ${index}`);
    }
  }

  /** A client was told its write at `index` succeeded. */
  onAcknowledged(index: number, term: number): void {
    this.acknowledged.set(index, term);
    const chosen = this.chosen.get(index);
    if (chosen === undefined || chosen.entry.term !== term) {
      this.fail(
        'acknowledged write lost',
        `write acknowledged at ${index}@${term} is not the chosen entry`,
      );
    }
  }

  /** The highest index anyone has seen committed; a read that starts now must cover it. */
  get highestCommittedIndex(): number {
    return this.maxChosenIndex;
  }

  onReadIndex(member: number, readIndex: number, committedWhenReceived: number): void {
    if (readIndex < committedWhenReceived) {
      this.fail(
        'read index',
        `member ${member} served a read at index ${readIndex}, but ${committedWhenReceived} was ` +
          'committed before the read arrived',
      );
    }
  }
}

function sameEntry(left: Entry, right: Entry): boolean {
  return (
    left.index === right.index &&
    left.term === right.term &&
    left.type === right.type &&
    bytesEqual(left.data, right.data)
  );
}

export function describeEntry(entry: Entry): string {
  const size = entry.data.length === 0 ? 'empty' : `${entry.data.length}B`;
  return `${entry.index}@${entry.term} (${entry.type}, ${size})`;
}
