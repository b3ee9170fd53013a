/**
 * The member's raft loop (etcd's raftNode + applyAll, single-threaded):
 *
 *   tick every heartbeat (Clock) · step inbound messages · propose
 *   Ready → persist snapshot file + WAL (hard state and entries, fsync'd) → send messages →
 *   apply snapshot and committed entries (one backend batch) → maybe snapshot → advance
 *
 * Raft snapshots carry metadata only (etcd's design): the backend, which holds its consistent
 * index in the same transaction as each apply batch, is the state. Taking one records the
 * applied index in the log storage and returns to the loop; syncing the backend, writing the
 * snapshot file and releasing WAL segments run beside the loop (see takeSnapshot). A MsgSnap's
 * data is the backend itself, streamed from a read transaction when it is sent and spooled to a
 * file by the receiver before raft sees it (setSnapshotStreams in start()).
 *
 * Group commit: while one Ready's WAL write is in flight, inbound messages and proposals keep
 * being stepped into raft; they come out together in the next Ready, which is taken only after
 * advance(). Many proposals thus share one fsync without the loop ever waiting on a timer.
 */
import {
  assert,
  asLogIndex,
  asMemberId,
  type Clock,
  type MemberId,
  type Random,
  type TimerHandle,
} from '../base/index.ts';
import {
  defaultRaftConfig,
  NO_MEMBER,
  RawNode,
  type ConfChange,
  type ConfState,
  type HardState,
  type MemoryLogStorage,
  type Message,
  type Ready,
  type Snapshot,
  type SoftState,
  type StepResult,
} from '../raft/index.ts';
import type { BackendSpool, Snapshotter, Wal } from '../storage/index.ts';
import type { Logger, PeerTransport, SnapshotSink } from '../transport/index.ts';
import type { ApplyOutcome } from './applier.ts';
import { CommitUpdateHold } from './commit-update-hold.ts';
import type { MemberConfig } from './member-config.ts';
import type { RaftStorageState } from './raft-storage.ts';
import type { StateMachine } from './state-machine.ts';

export interface RaftLoopHooks {
  readonly applied: (id: bigint, outcome: ApplyOutcome) => void;
  readonly appliedTo: (index: number) => void;
  readonly readState: (context: Uint8Array, index: number) => void;
  readonly softState: (previous: SoftState, next: SoftState) => void;
  /** After a snapshot from the leader replaced the state (membership may have changed). */
  readonly restored: () => void;
  /** Whether raft should apply a committed change, judged against the configuration in force
   *  (the member re-validates every change at apply time, as etcd does). */
  readonly acceptConfChange: (change: ConfChange, current: ConfState) => boolean;
  readonly confChange: (change: ConfChange) => void;
  /** The loop hit an error it cannot recover from (a failed fsync, a broken invariant). */
  readonly fatal: (error: unknown) => void;
}

export interface RaftLoopOptions {
  readonly config: MemberConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: PeerTransport;
  readonly logger: Logger;
  readonly storage: RaftStorageState;
  readonly stateMachine: StateMachine;
  readonly hooks: RaftLoopHooks;
}

export class RaftLoop {
  readonly node: RawNode;
  private readonly logStorage: MemoryLogStorage;
  private readonly wal: Wal;
  private readonly snapshotter: Snapshotter;
  private readonly spool: BackendSpool;
  private softState: SoftState = { leader: NO_MEMBER, role: 'follower' };
  private termValue = 0;
  private commitValue = 0;
  private appliedValue: number;
  /** The index of the newest snapshot taken or installed (possibly still being persisted). */
  private snapshotIndex: number;
  /** A snapshot of our own being persisted beside the loop (see takeSnapshot). */
  private persisting: Promise<void> | null = null;
  /** Log entries up to here may be dropped from memory, at the loop's next safe point. */
  private compactableIndex = 0;
  /** Set synchronously when the loop starts: hooks run inside it may call kick() again. */
  private looping = false;
  private running: Promise<void> | null = null;
  private tickTimer: TimerHandle | null = null;
  private stopped = false;
  /** A commit-only hard state not yet written: it rides along with the next fsync'd save. */
  private unsavedHardState: HardState | null = null;
  /** A leader's commit-index updates, held until the next append or for a moment. */
  private readonly commitUpdates: CommitUpdateHold;
  /** Proposals waiting for the end of this microtask checkpoint (see propose). */
  private proposalBatch: { data: Uint8Array; refused: (reason: string) => void }[] = [];

  constructor(private readonly options: RaftLoopOptions) {
    const { config, storage } = options;
    this.logStorage = storage.storage;
    this.wal = storage.wal;
    this.snapshotter = storage.snapshotter;
    this.spool = storage.spool;
    this.snapshotIndex = storage.snapshot?.metadata.index ?? 0;
    this.commitUpdates = new CommitUpdateHold(options.clock, (messages) => this.send(messages));
    // Raft re-delivers every committed entry after the snapshot: the state machine skips what
    // the backend already holds, and conf changes must be re-applied to raft anyway.
    this.appliedValue = this.snapshotIndex;
    this.termValue = storage.hardState.term;
    this.commitValue = storage.hardState.commit;
    // The backend may be ahead of the durable log: a commit-index-only hard state is not
    // fsync'd (see handleReady), and a backend restored from a leader's stream holds the
    // leader's state when it was read, newer than the snapshot it came with. Either way it holds
    // committed entries only; raft relearns the commit index and the state machine skips what
    // the backend holds.
    const electionTicks = Math.max(2, Math.round(config.electionMs / config.heartbeatMs));
    this.node = new RawNode(
      defaultRaftConfig(
        {
          id: asMemberId(config.memberId),
          storage: this.logStorage,
          random: options.random,
          applied: asLogIndex(this.snapshotIndex),
        },
        { electionTicks, heartbeatTicks: 1 },
      ),
    );
  }

  get term(): number {
    return this.termValue;
  }
  get commitIndex(): number {
    return this.commitValue;
  }
  get appliedIndex(): number {
    return this.appliedValue;
  }
  get leader(): MemberId {
    return this.softState.leader;
  }
  get isLeader(): boolean {
    return this.softState.role === 'leader';
  }

  start(): void {
    const transport = this.options.transport;
    transport.onMessage((message) => this.input(() => this.stepInbound(message)));
    transport.onUnreachable((peer) => this.input(() => this.node.reportUnreachable(peer)));
    transport.onSnapshotStatus((peer, ok) => this.input(() => this.node.reportSnapshot(peer, ok)));
    transport.setSnapshotStreams({
      outgoing: () => this.options.stateMachine.backendSnapshot(),
      incoming: (message) => this.spoolIncoming(message.snapshot),
    });
    this.scheduleTick();
    const voters = this.node.status().confState.voters;
    // A cluster of one need not wait an election timeout for itself (etcd fast-forwards too).
    if (voters.length === 1 && voters[0] === asMemberId(this.options.config.memberId)) {
      this.node.campaign();
    }
    this.kick();
  }

  private scheduleTick(): void {
    this.tickTimer = this.options.clock.setTimer(this.options.config.heartbeatMs, () => {
      if (this.stopped) return;
      this.node.tick();
      this.kick();
      this.scheduleTick();
    });
  }

  private stepInbound(message: Message): void {
    const result = this.node.step(message);
    // The follower's client waits for this entry to be applied there (see CommitUpdateHold).
    if (message.type === 'MsgProp' && result.ok && this.node.isLeader()) {
      this.commitUpdates.forwarded(message.from, this.node.lastIndex());
    }
  }

  private input(step: () => unknown): void {
    if (this.stopped) return;
    step();
    this.kick();
  }

  /**
   * Queues a proposal; `refused` is called if raft refuses it. Proposals made in the same
   * microtask checkpoint (every request decoded from one socket read, every waiter woken by one
   * apply) are stepped as ONE MsgProp: per follower one append message and one acknowledgement
   * for the whole batch instead of one per request, which at 100 concurrent clients was a tenth
   * of the leader's CPU. The batch leaves before the event loop turns, so no latency is added.
   */
  propose(data: Uint8Array, refused: (reason: string) => void): void {
    assert(!this.stopped, 'propose after stop');
    this.proposalBatch.push({ data, refused });
    if (this.proposalBatch.length === 1) queueMicrotask(() => this.proposeBatch());
  }

  private proposeBatch(): void {
    const batch = this.proposalBatch;
    this.proposalBatch = [];
    // After stop the proposer has already failed every waiter.
    if (this.stopped || batch.length === 0) return;
    const result = this.node.proposeBatch(batch.map((proposal) => proposal.data));
    if (!result.ok) for (const proposal of batch) proposal.refused(result.reason);
    this.kick();
  }

  readIndex(context: Uint8Array): StepResult {
    const result = this.node.readIndex(context);
    this.kick();
    return result;
  }

  /** Starts the Ready loop unless it is running (it re-checks hasReady after each advance). */
  kick(): void {
    if (this.looping || this.stopped || !this.node.hasReady()) return;
    this.looping = true;
    this.running = this.runReadyLoop().finally(() => {
      this.looping = false;
      this.running = null;
    });
  }

  private async runReadyLoop(): Promise<void> {
    try {
      while (!this.stopped && this.node.hasReady()) {
        this.compactLog();
        const ready = this.node.ready();
        await this.handleReady(ready);
        if (this.stopped) return;
        this.node.advance();
      }
    } catch (error) {
      this.stopped = true;
      this.tickTimer?.cancel();
      this.options.hooks.fatal(error);
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    const { hooks, stateMachine } = this.options;
    // Commit-index updates held back by an earlier Ready leave before this one's messages,
    // unless an append in them carries the commit index too.
    this.commitUpdates.release(ready.messages);
    // Raft thesis §10.2.1, as etcd does: a leader replicates its entries while it writes them
    // itself, so its fsync and its followers' overlap. This is safe because the core counts the
    // leader's own log toward commit only after advance() reports it durable. Only a Ready cut
    // while leading qualifies: a member that stepped down in it may be granting a vote, which
    // must be durable before it leaves.
    const leading = (ready.softState?.role ?? this.softState.role) === 'leader';
    const persists = ready.mustSync || ready.entries.length > 0 || ready.snapshot !== null;
    const sendBeforePersist = leading && persists;
    // A leader's Ready with nothing to persist carries the commit-index updates for the entries
    // it applies: they wait for the next append (see CommitUpdateHold). Not when a membership
    // change applies: a member it removes is dropped from the transport then, and should still
    // hear that its removal committed.
    const holdCommitUpdates =
      leading && !persists && !ready.committedEntries.some((entry) => entry.type === 'conf-change');
    if (sendBeforePersist) this.send(ready.messages);
    if (ready.snapshot !== null) {
      // Our own snapshot's files and WAL marker go first, so snapshots stay in index order.
      await this.persisting;
      await this.persistSnapshot(ready.snapshot);
    }
    if (persists) {
      await this.wal.save(ready.hardState ?? this.unsavedHardState, ready.entries);
      this.unsavedHardState = null;
    } else if (ready.hardState !== null) {
      // Only the commit index moved (raft's mustSync is false, as in etcd): waiting for an
      // fsync of it would add a whole disk round trip to every write on the leader, between the
      // quorum's acknowledgement and the apply. The entries being applied are already durable
      // here; a commit index lost in a crash is relearnt (see the constructor).
      this.unsavedHardState = ready.hardState;
    }
    if (this.stopped) return;
    if (ready.snapshot !== null) {
      assert(this.logStorage.applySnapshot(ready.snapshot).ok, 'raft hands out newer snapshots');
    }
    if (ready.hardState !== null) {
      this.logStorage.setHardState(ready.hardState);
      this.termValue = ready.hardState.term;
      this.commitValue = ready.hardState.commit;
    }
    this.logStorage.append(ready.entries);
    if (holdCommitUpdates) this.send(this.commitUpdates.holdCommitUpdates(ready.messages));
    else if (!sendBeforePersist) this.send(ready.messages);
    if (ready.snapshot !== null) await this.installSnapshot(ready.snapshot);
    if (ready.committedEntries.length > 0) {
      stateMachine.applyEntries(ready.committedEntries, {
        confChange: (change) => this.applyConfChange(change),
        applied: hooks.applied,
      });
      const last = ready.committedEntries[ready.committedEntries.length - 1].index;
      assert(last > this.appliedValue, 'applied moves forward');
      this.appliedValue = last;
    }
    for (const readState of ready.readStates) hooks.readState(readState.context, readState.index);
    if (ready.softState !== null) {
      const previous = this.softState;
      this.softState = ready.softState;
      hooks.softState(previous, ready.softState);
    }
    hooks.appliedTo(this.appliedValue);
    const due = this.appliedValue - this.snapshotIndex >= this.options.config.snapshotCount;
    if (due && this.persisting === null) this.takeSnapshot();
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0 || this.stopped) return;
    this.commitUpdates.sent(messages);
    this.options.transport.send(messages);
  }

  private applyConfChange(change: ConfChange): void {
    const { hooks } = this.options;
    if (hooks.acceptConfChange(change, this.node.status().confState)) {
      this.node.applyConfChange(change);
    }
    hooks.confChange(change);
  }

  private async persistSnapshot(snapshot: Snapshot): Promise<void> {
    await this.snapshotter.save(snapshot);
    await this.wal.saveSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term });
  }

  /** Where the data of a MsgSnap from the leader goes before raft sees the MsgSnap. */
  private async spoolIncoming(snapshot: Snapshot | null): Promise<SnapshotSink> {
    assert(snapshot !== null, 'a MsgSnap carries a snapshot');
    const writer = await this.spool.create(snapshot.metadata.term, snapshot.metadata.index);
    return {
      write: (chunk) => writer.write(chunk),
      commit: async () => {
        await writer.commit();
        return snapshot.data;
      },
      abort: () => writer.abort(),
    };
  }

  /** Replaces the backend with the leader's, spooled when the MsgSnap arrived. */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    const { stateMachine, logger } = this.options;
    const { index, term } = snapshot.metadata;
    assert(index > this.appliedValue, 'a snapshot from the leader moves the state forward');
    // The transport delivered the MsgSnap only after the spool was durable (start()).
    assert(await this.spool.exists(term, index), `no spooled backend for snapshot ${index}`);
    await stateMachine.restore(this.spool.read(term, index));
    assert(stateMachine.appliedIndex >= index, 'the leader streamed a backend at its snapshot');
    this.appliedValue = index;
    this.snapshotIndex = index;
    // The spool is needed until the backend is durable at the snapshot (see member-open.ts).
    await stateMachine.syncBackend();
    await this.spool.purge(index);
    logger.info({ index, term, backendIndex: stateMachine.appliedIndex }, 'installed snapshot');
    this.options.hooks.restored();
  }

  /**
   * etcd's triggerSnapshot. The snapshot is the applied index, term and configuration; the
   * backend already holds the state. Recording it in the log storage (what raft sends a lagging
   * follower) is all the loop waits for. Beside it: the backend is synced past the index (etcd
   * forces a backend commit here too) before the snapshot file and WAL marker are written and
   * older WAL segments released, because after that the WAL can no longer rebuild the backend.
   */
  private takeSnapshot(): void {
    const index = asLogIndex(this.appliedValue);
    const confState = this.node.status().confState;
    const snapshot = this.logStorage.createSnapshot(index, confState, new Uint8Array(0));
    assert(snapshot.metadata.index === index, 'the snapshot is at the applied index');
    this.snapshotIndex = index;
    this.persisting = this.persistOwnSnapshot(snapshot)
      .catch((error: unknown) => {
        if (this.stopped) return;
        this.stopped = true;
        this.tickTimer?.cancel();
        this.options.hooks.fatal(error);
      })
      .finally(() => {
        this.persisting = null;
      });
  }

  private async persistOwnSnapshot(snapshot: Snapshot): Promise<void> {
    const { config, stateMachine, logger } = this.options;
    const index = snapshot.metadata.index;
    await stateMachine.syncBackend();
    assert(stateMachine.appliedIndex >= index, 'the synced backend covers the snapshot');
    if (this.stopped) return;
    await this.persistSnapshot(snapshot);
    this.compactableIndex = Math.max(this.compactableIndex, index);
    const released = await this.wal.releaseTo(index);
    await this.snapshotter.purge(config.maxSnapshots);
    await this.spool.purge(index);
    logger.info({ index, releasedSegments: released }, 'snapshot taken');
  }

  /** Drops entries behind the newest durable snapshot (keeping a catch-up margin) between two
   *  Readies, never while one is being handled. */
  private compactLog(): void {
    const compactTo = this.compactableIndex - this.options.config.snapshotCatchUpEntries;
    if (compactTo <= this.logStorage.firstIndex() - 1) return;
    if (compactTo > this.logStorage.snapshot().metadata.index) return;
    assert(this.logStorage.compact(asLogIndex(compactTo)).ok, 'compaction inside the log');
  }

  /** Stops ticking and waits for the Ready in progress; nothing is stepped afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.commitUpdates.clear();
    await this.running?.catch(() => undefined);
    await this.persisting;
    await this.wal.close().catch(() => undefined);
  }
}
