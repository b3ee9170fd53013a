/**
 * One simulated member: the raft core, its log storage and disk, the key-value state machine and
 * the registry of client requests it is serving. It follows the Ready contract exactly: persist
 * (fsync iff mustSync), then send, then apply, then advance. A crash throws away everything in
 * memory; a restart rebuilds the log storage and the state machine from what the disk kept.
 */
import {
  asLogIndex,
  asMemberId,
  assert,
  SeededRandom,
  utf8Encode,
  type MemberId,
} from '../../src/base/index.ts';
import {
  decodeConfChange,
  NO_MEMBER,
  type ConfChange,
  type ConfState,
  type Message,
  type Ready,
  type Role,
  type StepResult,
} from '../../src/raft/index.ts';
import type { InvariantChecker } from './checkers/invariants.ts';
import type { KvOutput } from './checkers/linearizability.ts';
import {
  decodeKvCommand,
  encodeKvCommand,
  KvStateMachine,
  type KvCommand,
} from './kv-state-machine.ts';
import type { SimOptions } from './options-swarm.ts';
import {
  createRaftNode,
  storageFromDisk,
  type MemberLogStorage,
  type RaftNode,
} from './raft-adapter.ts';
import { DiskUnreadableError, type DurableState, type MemberDisk } from './sim-disk.ts';
import type { World } from './world.ts';

export type ClientRequest =
  | {
      readonly kind: 'write';
      readonly requestId: number;
      readonly clientId: number;
      readonly command: KvCommand;
    }
  | {
      readonly kind: 'read';
      readonly requestId: number;
      readonly clientId: number;
      readonly key: string;
    };

export type ReplyOutcome =
  | { readonly ok: true; readonly output: KvOutput; readonly index: number; readonly term: number }
  /** A definite refusal: the request was never proposed, so it cannot take effect. */
  | { readonly ok: false; readonly reason: string; readonly leaderHint: number };

export interface ClientReply {
  readonly requestId: number;
  readonly clientId: number;
  readonly outcome: ReplyOutcome;
}

/** What a member needs from the simulation around it. */
export interface MemberHost {
  readonly world: World;
  readonly checker: InvariantChecker;
  readonly options: SimOptions;
  /** Seeds each process's election jitter, so restarts draw fresh but replayable timeouts. */
  readonly random: SeededRandom;
  sendToPeer(from: SimMember, message: Message): void;
  replyToClient(from: SimMember, reply: ClientReply): void;
  onConfChangeApplied(member: SimMember, change: ConfChange, confState: ConfState): void;
  onProbeApplied(member: SimMember, requestId: number): void;
  /** Records a notable event in the trace. */
  note(line: string): void;
}

/** 'failed': its disk could not be read back at a restart; it stays down for good. */
export type MemberState = 'up' | 'paused' | 'crashed' | 'removed' | 'failed';

const NOTHING_ON_DISK: DurableState = { hardState: null, snapshot: null, entries: [] };

/** Messages and requests a paused process would find queued in its socket buffers. */
const PAUSED_INBOX_MAX = 4096;
const READY_ROUNDS_MAX = 10_000;

interface PendingRead {
  readonly request: ClientRequest & { kind: 'read' };
  readonly committedWhenReceived: number;
}

export class SimMember {
  readonly id: MemberId;
  state: MemberState = 'crashed';
  incarnation = 0;
  role: Role = 'follower';
  leader: MemberId = NO_MEMBER;
  storage: MemberLogStorage;
  private node: RaftNode | null = null;
  private kv = new KvStateMachine();
  private applied = 0;
  private confState: ConfState = { voters: [], learners: [] };
  private readonly pendingWrites = new Map<number, ClientRequest & { kind: 'write' }>();
  private readonly pendingReads = new Map<string, PendingRead>();
  private readsWaiting: {
    readonly request: ClientRequest & { kind: 'read' };
    readonly index: number;
  }[] = [];
  private inbox: (() => void)[] = [];
  private tickGeneration = 0;

  constructor(
    readonly numericId: number,
    readonly tickMs: number,
    private readonly host: MemberHost,
    readonly disk: MemberDisk,
    /** The configuration a member with nothing on disk starts from (empty for joiners). */
    private readonly founders: ConfState,
  ) {
    this.id = asMemberId(BigInt(numericId));
    // Only start() reads the disk: a WAL disk may still be settling its first writes here.
    this.storage = storageFromDisk(NOTHING_ON_DISK, founders);
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  /** Starts (or restarts) the process from what the disk holds. Returns null, or why the disk
   *  could not be read back, in which case the member has failed for good. */
  start(): string | null {
    assert(this.state === 'crashed', `start a ${this.state} member`);
    let durable: DurableState;
    try {
      durable = this.disk.recover();
    } catch (error) {
      if (!(error instanceof DiskUnreadableError)) throw error;
      this.state = 'failed';
      return error.message;
    }
    this.storage = storageFromDisk(durable, this.founders);
    const snapshot = this.storage.snapshot();
    this.kv = KvStateMachine.restore(snapshot.data);
    this.applied = snapshot.metadata.index;
    this.confState = this.storage.initialState().confState;
    this.node = createRaftNode({
      id: this.id,
      storage: this.storage,
      applied: asLogIndex(this.applied),
      random: new SeededRandom(this.host.random.nextUint32()),
      electionTicks: this.host.options.electionTicks,
      heartbeatTicks: this.host.options.heartbeatTicks,
      maxSizePerMsgBytes: this.host.options.maxSizePerMsgBytes,
      maxInflightMsgs: this.host.options.maxInflightMsgs,
      mutant: this.host.options.mutant,
    });
    this.incarnation++;
    this.state = 'up';
    this.role = 'follower';
    this.leader = NO_MEMBER;
    this.host.checker.onStart(
      this.numericId,
      this.applied,
      this.storage.initialState().hardState.commit,
    );
    this.startTicking();
    return null;
  }

  /** The configuration this member applied last (what it counts votes and acks with). */
  get configuration(): ConfState {
    return this.confState;
  }

  /** Power loss: memory is gone, and the disk keeps what it had synced (or a torn prefix).
   *  Returns a description for the trace and whether corruption was injected. */
  crash(tornWrite: boolean, corrupt: boolean): { description: string; corrupted: boolean } {
    assert(this.state === 'up' || this.state === 'paused', `crash a ${this.state} member`);
    this.stopProcess('crashed');
    const report = this.disk.crash(this.host.random, { tornWrite, corrupt });
    const torn = tornWrite && report.unsyncedWrites > 0;
    const lost =
      report.survivingWrites === null
        ? `${report.unsyncedWrites} unsynced writes at risk`
        : `lost ${report.unsyncedWrites - report.survivingWrites}/${report.unsyncedWrites} ` +
          'unsynced writes';
    const description =
      `${lost}${torn ? ' (torn)' : ''}${report.tornEntries ? ' (inside a batch of entries)' : ''}` +
      `${report.corrupted ? ' (bit rot injected)' : ''}`;
    return { description, corrupted: report.corrupted };
  }

  /** The member applied its own removal (or saw it applied): it shuts down for good. */
  remove(): void {
    if (this.state === 'removed') return;
    this.stopProcess('removed');
  }

  private stopProcess(state: 'crashed' | 'removed'): void {
    this.state = state;
    this.node = null;
    this.role = 'follower';
    this.leader = NO_MEMBER;
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.readsWaiting = [];
    this.inbox = [];
    this.tickGeneration++;
    this.host.checker.onStop(this.numericId);
  }

  pause(): void {
    assert(this.state === 'up', `pause a ${this.state} member`);
    this.state = 'paused';
    this.tickGeneration++;
  }

  resume(): void {
    assert(this.state === 'paused', `resume a ${this.state} member`);
    this.state = 'up';
    const queued = this.inbox;
    this.inbox = [];
    for (const deliver of queued) {
      if (this.state !== 'up') break;
      deliver();
    }
    if (this.state === 'up') this.startTicking();
  }

  private startTicking(): void {
    const generation = ++this.tickGeneration;
    const tick = (): void => {
      if (this.tickGeneration !== generation || this.state !== 'up') return;
      this.host.world.trace.record(this.host.world.nowMs, `tick ${this.numericId}`);
      this.requireNode().tick();
      this.runReady();
      this.host.world.schedule(this.tickMs, tick);
    };
    this.host.world.schedule(this.tickMs, tick);
  }

  /** Runs `action` now if the process runs, later if it is paused, never if it is down. */
  private whenRunning(action: () => void): boolean {
    if (this.state === 'up') {
      action();
      return true;
    }
    if (this.state === 'paused' && this.inbox.length < PAUSED_INBOX_MAX) {
      this.inbox.push(action);
      return true;
    }
    return false;
  }

  /** False when the process is down and the message is lost. */
  deliverPeerMessage(message: Message): boolean {
    return this.whenRunning(() => {
      this.requireNode().step(message);
      this.runReady();
    });
  }

  /** A client request arrives; false when the process is down (connection refused). */
  receiveClientRequest(request: ClientRequest): boolean {
    return this.whenRunning(() => this.serveClientRequest(request));
  }

  private serveClientRequest(request: ClientRequest): void {
    const node = this.requireNode();
    if (request.kind === 'write') {
      const result = node.propose(encodeKvCommand(request.command));
      if (result.ok) this.pendingWrites.set(request.requestId, request);
      else this.refuse(request, result.reason);
    } else {
      // A duplicated request joins the read already waiting (raft ignores a repeated context).
      if (this.pendingReads.has(String(request.requestId))) return;
      const context = readContext(request.requestId);
      const result = node.readIndex(context);
      if (result.ok) {
        this.pendingReads.set(String(request.requestId), {
          request,
          committedWhenReceived: this.host.checker.highestCommittedIndex,
        });
      } else {
        this.refuse(request, result.reason);
      }
    }
    this.runReady();
  }

  private refuse(request: ClientRequest, reason: string): void {
    this.host.replyToClient(this, {
      requestId: request.requestId,
      clientId: request.clientId,
      outcome: { ok: false, reason, leaderHint: Number(this.leader) },
    });
  }

  /** Administrative calls from the nemesis; each returns the core's answer. */
  proposeConfChange(change: ConfChange): StepResult {
    const result = this.requireNode().proposeConfChange(change);
    this.runReady();
    return result;
  }

  transferLeader(target: MemberId): StepResult {
    const result = this.requireNode().transferLeader(target);
    this.runReady();
    return result;
  }

  /** Submits a liveness probe as an ordinary proposal. */
  proposeProbe(requestId: number): StepResult {
    const result = this.requireNode().propose(encodeKvCommand({ op: 'probe', requestId }));
    this.runReady();
    return result;
  }

  reportUnreachable(target: MemberId): void {
    this.whenRunning(() => {
      this.requireNode().reportUnreachable(target);
      this.runReady();
    });
  }

  reportSnapshot(target: MemberId, succeeded: boolean, incarnation: number): void {
    if (incarnation !== this.incarnation) return;
    this.whenRunning(() => {
      this.requireNode().reportSnapshot(target, succeeded);
      this.runReady();
    });
  }

  describe(): string {
    const node = this.node;
    if (node === null) return `m${this.numericId} ${this.state}`;
    const status = node.status();
    const conf = `v[${status.confState.voters.join(',')}] l[${status.confState.learners.join(',')}]`;
    return (
      `m${this.numericId} ${this.state} ${status.role} t${status.term} lead${status.lead} ` +
      `c${status.commit} a${status.applied} last${status.lastIndex} ${conf}`
    );
  }

  get appliedIndex(): number {
    return this.applied;
  }

  term(): number {
    return this.node === null ? 0 : this.node.status().term;
  }

  commitIndex(): number {
    return this.node === null ? 0 : this.node.status().commit;
  }

  private requireNode(): RaftNode {
    assert(this.node !== null, `member ${this.numericId} has no running process`);
    return this.node;
  }

  private runReady(): void {
    const node = this.node;
    if (node === null) return;
    for (let rounds = 0; this.node === node && node.hasReady(); rounds++) {
      assert(rounds < READY_ROUNDS_MAX, 'the core keeps producing Readies');
      const ready = node.ready();
      this.persist(ready);
      this.trackRole(ready, node);
      for (const message of ready.messages) this.host.sendToPeer(this, message);
      this.applyReady(ready, node);
      node.advance();
      if (this.node !== node) return;
      this.maybeSnapshot();
      this.serveReads();
    }
  }

  private persist(ready: Ready): void {
    const checker = this.host.checker;
    if (ready.snapshot !== null) {
      const result = this.storage.applySnapshot(ready.snapshot);
      assert(result.ok, `the core handed out a stale snapshot (${result.ok ? '' : result.reason})`);
    }
    if (ready.entries.length > 0) {
      this.storage.append(ready.entries);
      checker.onPersistEntries(this.numericId, ready.entries, this.storage);
    }
    if (ready.hardState !== null) this.storage.setHardState(ready.hardState);
    this.disk.persist(
      { snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState },
      ready.mustSync,
    );
    if (ready.hardState !== null) {
      const isLeader = (ready.softState?.role ?? this.role) === 'leader';
      checker.onHardState(this.numericId, ready.hardState, this.storage, isLeader);
    }
  }

  private trackRole(ready: Ready, node: RaftNode): void {
    const softState = ready.softState;
    if (softState === null) return;
    const wasLeader = this.role === 'leader';
    this.role = softState.role;
    this.leader = softState.leader;
    if (softState.role === 'leader' && !wasLeader) {
      this.host.checker.onBecomeLeader(this.numericId, node.status().term, this.storage);
    } else if (softState.role !== 'leader' && wasLeader) {
      this.host.checker.onStepDown(this.numericId);
    }
  }

  private applyReady(ready: Ready, node: RaftNode): void {
    const checker = this.host.checker;
    if (ready.snapshot !== null) {
      this.host.note(
        `snapshot installed at ${this.numericId}: index ${ready.snapshot.metadata.index}`,
      );
      checker.onApplySnapshot(this.numericId, ready.snapshot);
      this.kv = KvStateMachine.restore(ready.snapshot.data);
      this.applied = ready.snapshot.metadata.index;
      this.confState = ready.snapshot.metadata.confState;
    }
    for (const entry of ready.committedEntries) {
      checker.onApply(this.numericId, entry);
      this.applied = entry.index;
      if (entry.type === 'conf-change') {
        const change = decodeConfChange(entry.data);
        this.confState = node.applyConfChange(change);
        this.host.onConfChangeApplied(this, change, this.confState);
        if (this.node !== node) return;
        continue;
      }
      if (entry.data.length === 0) continue;
      const command = decodeKvCommand(entry.data);
      const result = this.kv.apply(command);
      if (command.op === 'probe') this.host.onProbeApplied(this, command.requestId);
      const pending = this.pendingWrites.get(command.requestId);
      if (pending === undefined) continue;
      this.pendingWrites.delete(command.requestId);
      const output: KvOutput =
        result.op === 'cas' ? { kind: 'cas', succeeded: result.succeeded } : { kind: 'put' };
      this.host.replyToClient(this, {
        requestId: pending.requestId,
        clientId: pending.clientId,
        outcome: { ok: true, output, index: entry.index, term: entry.term },
      });
    }
    for (const readState of ready.readStates) {
      const key = new TextDecoder().decode(readState.context);
      const pending = this.pendingReads.get(key);
      if (pending === undefined) continue;
      this.pendingReads.delete(key);
      checker.onReadIndex(this.numericId, readState.index, pending.committedWhenReceived);
      this.readsWaiting.push({ request: pending.request, index: readState.index });
    }
  }

  private serveReads(): void {
    if (this.readsWaiting.length === 0) return;
    const still: typeof this.readsWaiting = [];
    for (const waiting of this.readsWaiting) {
      if (waiting.index > this.applied) {
        still.push(waiting);
        continue;
      }
      this.host.replyToClient(this, {
        requestId: waiting.request.requestId,
        clientId: waiting.request.clientId,
        outcome: {
          ok: true,
          output: { kind: 'get', value: this.kv.get(waiting.request.key) },
          index: waiting.index,
          term: 0,
        },
      });
    }
    this.readsWaiting = still;
  }

  /** Snapshots the state machine every `snapshotEveryEntries` and compacts the log behind it. */
  private maybeSnapshot(): void {
    const every = this.host.options.snapshotEveryEntries;
    if (every === 0) return;
    const snapshotIndex = this.storage.snapshot().metadata.index;
    if (this.applied - snapshotIndex < every) return;
    const data = this.kv.snapshot();
    const snapshot = this.storage.createSnapshot(asLogIndex(this.applied), this.confState, data);
    assert(snapshot.metadata.index === this.applied, 'a snapshot past the last one is accepted');
    this.disk.saveSnapshot(snapshot);
    this.host.checker.compareSnapshotData(this.numericId, this.applied, data);
    const compactTo = this.applied - this.host.options.compactionMarginEntries;
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(asLogIndex(compactTo));
  }
}

function readContext(requestId: number): Uint8Array {
  return utf8Encode(String(requestId));
}
