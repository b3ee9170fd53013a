/**
 * The world of the interaction tests: a few RawNodes over MemoryLogStorage, a message queue
 * per recipient, and one handler per command. Every command returns the trace it produced;
 * the application side (persist, send, apply, advance) follows the Ready contract exactly.
 */
import {
  asLogIndex,
  asMemberId,
  asTerm,
  formatMemberId,
  SeededRandom,
  utf8Encode,
  type MemberId,
} from '../../src/base/index.ts';
import {
  decodeConfChange,
  defaultRaftConfig,
  describeConfState,
  describeEntry,
  describeMessage,
  describeReady,
  MemoryLogStorage,
  RawNode,
  type ConfChangeType,
  type ConfState,
  type Message,
  type Mutant,
  type RaftConfig,
  type Status,
} from '../../src/raft/index.ts';

interface Node {
  readonly id: MemberId;
  readonly rawNode: RawNode;
  readonly storage: MemoryLogStorage;
  confState: ConfState;
}

type Args = Map<string, string>;

/** `cmd a b key=value key=(1,2)` → positional and keyed arguments. */
function parseCommand(line: string): { name: string; positional: string[]; args: Args } {
  const tokens = line.trim().split(/\s+/);
  const positional: string[] = [];
  const args: Args = new Map();
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq < 0) positional.push(token);
    else args.set(token.slice(0, eq), token.slice(eq + 1));
  }
  return { name: tokens[0], positional, args };
}

function parseIds(text: string | undefined): MemberId[] {
  if (text === undefined) return [];
  const inner = text.replace(/[()]/g, '');
  if (inner === '') return [];
  return inner.split(',').map((id) => asMemberId(BigInt(id)));
}

const id = (text: string): MemberId => asMemberId(BigInt(text));

function describeStatus(status: Status): string {
  const lines = [
    `${formatMemberId(status.id)}: ${status.role} Term:${status.term} Vote:${formatMemberId(status.vote)} Lead:${formatMemberId(status.lead)} Commit:${status.commit} Applied:${status.applied} Last:${status.lastIndex}`,
  ];
  if (status.leadTransferee !== 0n)
    lines.push(`LeadTransferee:${formatMemberId(status.leadTransferee)}`);
  for (const [member, progress] of status.progress ?? []) {
    const learner = progress.isLearner ? ' learner' : '';
    lines.push(
      `${formatMemberId(member)}: ${progress.state} match=${progress.match} next=${progress.next}${learner}`,
    );
  }
  return lines.join('\n');
}

export class InteractionEnv {
  private readonly nodes = new Map<MemberId, Node>();
  /** Messages in flight, in send order. */
  private queue: Message[] = [];
  private readonly isolated = new Set<MemberId>();

  run(line: string): string {
    const { name, positional, args } = parseCommand(line);
    const before = this.roles();
    const output: string[] = [];
    const log = (text: string): void => void output.push(text);
    switch (name) {
      case 'add-nodes':
        this.addNodes(Number(positional[0]), args, log);
        break;
      case 'campaign':
        this.result(log, this.node(positional[0]).rawNode.campaign());
        break;
      case 'propose':
        this.result(log, this.node(positional[0]).rawNode.propose(utf8Encode(positional[1])));
        break;
      case 'propose-conf-change': {
        const change = {
          type: positional[1] as ConfChangeType,
          memberId: id(positional[2]),
          context: new Uint8Array(0),
        };
        this.result(log, this.node(positional[0]).rawNode.proposeConfChange(change));
        break;
      }
      case 'read-index':
        this.result(log, this.node(positional[0]).rawNode.readIndex(utf8Encode(positional[1])));
        break;
      case 'transfer-leader':
        this.result(log, this.node(positional[0]).rawNode.transferLeader(id(positional[1])));
        break;
      case 'tick':
        this.tick(positional, Number(args.get('count') ?? '1'));
        break;
      case 'tick-election':
        this.tick(positional, 10);
        break;
      case 'tick-heartbeat':
        this.tick(positional, 1);
        break;
      case 'process-ready':
        for (const target of this.targets(positional)) this.processReady(target, log);
        break;
      case 'deliver-msgs':
        for (const target of this.targets(positional)) this.deliver(target, args.has('drop'), log);
        break;
      case 'stabilize':
        this.stabilize(this.targets(positional), log);
        break;
      case 'isolate':
        this.isolated.add(id(positional[0]));
        break;
      case 'heal':
        this.isolated.clear();
        break;
      case 'compact':
        this.compact(this.node(positional[0]), asLogIndex(Number(positional[1])), log);
        break;
      case 'report-unreachable':
        this.node(positional[0]).rawNode.reportUnreachable(id(positional[1]));
        break;
      case 'raft-log':
        this.raftLog(this.node(positional[0]), log);
        break;
      case 'status':
        for (const target of this.targets(positional)) log(describeStatus(target.rawNode.status()));
        break;
      default:
        throw new Error(`unknown command ${name}`);
    }
    this.logRoleChanges(before, log);
    return output.join('\n');
  }

  private addNodes(count: number, args: Args, log: (text: string) => void): void {
    const voters = parseIds(args.get('voters'));
    const learners = parseIds(args.get('learners'));
    const index = asLogIndex(Number(args.get('index') ?? '0'));
    for (let i = 0; i < count; i++) {
      const memberId = asMemberId(BigInt(this.nodes.size + 1));
      const storage = new MemoryLogStorage();
      const confState: ConfState = { voters, learners };
      if (voters.length > 0) {
        const term = asTerm(index > 0 ? 1 : 0);
        storage.applySnapshot({ metadata: { index, term, confState }, data: new Uint8Array(0) });
        // A member's term is never below the terms in its log.
        storage.setHardState({ term, vote: asMemberId(0n), commit: index });
      }
      const overrides: Partial<RaftConfig> = {
        preVote: args.get('prevote') !== 'false',
        checkQuorum: args.get('checkquorum') !== 'false',
        maxInflightMsgs: Number(args.get('max-inflight') ?? '256'),
        maxSizePerMsgBytes: Number(args.get('max-msg-bytes') ?? String(1024 * 1024)),
        maxUncommittedEntriesBytes: Number(args.get('max-uncommitted-bytes') ?? String(2 ** 30)),
        ...(args.has('mutant') ? { mutant: args.get('mutant') as Mutant } : {}),
      };
      const random = new SeededRandom(Number(memberId));
      const rawNode = new RawNode(defaultRaftConfig({ id: memberId, storage, random }, overrides));
      this.nodes.set(memberId, {
        id: memberId,
        rawNode,
        storage,
        confState: storage.initialState().confState,
      });
      log(
        `added ${formatMemberId(memberId)} ${describeConfState(storage.initialState().confState)}`,
      );
    }
  }

  private node(text: string): Node {
    const node = this.nodes.get(id(text));
    if (node === undefined) throw new Error(`no node ${text}`);
    return node;
  }

  private targets(positional: readonly string[]): Node[] {
    if (positional.length === 0) return [...this.nodes.values()];
    return positional.map((text) => this.node(text));
  }

  private result(log: (text: string) => void, result: { ok: boolean; reason?: string }): void {
    if (!result.ok) log(`rejected: ${result.reason}`);
  }

  private tick(positional: readonly string[], count: number): void {
    for (const target of this.targets(positional)) {
      for (let i = 0; i < count; i++) target.rawNode.tick();
    }
  }

  private roles(): Map<MemberId, string> {
    const roles = new Map<MemberId, string>();
    for (const node of this.nodes.values()) {
      const status = node.rawNode.status();
      roles.set(node.id, `${status.role} at term ${status.term}`);
    }
    return roles;
  }

  private logRoleChanges(before: Map<MemberId, string>, log: (text: string) => void): void {
    for (const [member, now] of this.roles()) {
      const was = before.get(member);
      if (was !== undefined && was !== now) log(`${formatMemberId(member)} is ${now}`);
    }
  }

  /** The application's half of the Ready contract, in its required order. */
  private processReady(node: Node, log: (text: string) => void): boolean {
    const rawNode = node.rawNode;
    if (!rawNode.hasReady()) return false;
    const ready = rawNode.ready();
    log(`> ${formatMemberId(node.id)} handling Ready`);
    log(describeReady(ready, '  '));
    if (ready.snapshot !== null) {
      node.storage.applySnapshot(ready.snapshot);
      node.confState = ready.snapshot.metadata.confState;
    }
    node.storage.append(ready.entries);
    if (ready.hardState !== null) node.storage.setHardState(ready.hardState);
    this.queue.push(...ready.messages);
    for (const entry of ready.committedEntries) {
      if (entry.type !== 'conf-change') continue;
      const change = decodeConfChange(entry.data);
      node.confState = rawNode.applyConfChange(change);
      node.storage.setConfState(node.confState);
      // Snapshot after every membership change so a joining member that needs a snapshot
      // learns the configuration that includes it.
      node.storage.createSnapshot(entry.index, node.confState, new Uint8Array(0));
      log(
        `  ${formatMemberId(node.id)} applied ${describeEntry(entry)}: ${describeConfState(node.confState)}`,
      );
    }
    rawNode.advance();
    return true;
  }

  private deliver(node: Node, drop: boolean, log: (text: string) => void): boolean {
    const mine = this.queue.filter((m) => m.to === node.id);
    if (mine.length === 0) return false;
    this.queue = this.queue.filter((m) => m.to !== node.id);
    log(`> ${formatMemberId(node.id)} receiving messages`);
    for (const message of mine) {
      const cut = drop || this.isolated.has(message.to) || this.isolated.has(message.from);
      if (cut) {
        log(`  dropped: ${describeMessage(message)}`);
        if (message.type === 'MsgSnap') this.reportSnapshot(message, false);
        continue;
      }
      log(`  ${describeMessage(message)}`);
      const result = node.rawNode.step(message);
      if (!result.ok) log(`  rejected: ${result.reason}`);
      if (message.type === 'MsgSnap') this.reportSnapshot(message, true);
    }
    return true;
  }

  /** The transport reports a finished snapshot transfer to the sender. */
  private reportSnapshot(message: Message, ok: boolean): void {
    this.nodes.get(message.from)?.rawNode.reportSnapshot(message.to, ok);
  }

  private stabilize(targets: readonly Node[], log: (text: string) => void): void {
    for (let round = 0; round < 1000; round++) {
      let progressed = false;
      for (const node of targets) progressed = this.processReady(node, log) || progressed;
      for (const node of targets) progressed = this.deliver(node, false, log) || progressed;
      if (!progressed) return;
    }
    throw new Error('stabilize did not converge within 1000 rounds');
  }

  private compact(
    node: Node,
    index: ReturnType<typeof asLogIndex>,
    log: (text: string) => void,
  ): void {
    node.storage.createSnapshot(index, node.confState, new Uint8Array(0));
    node.storage.compact(index);
    this.raftLog(node, log);
  }

  private raftLog(node: Node, log: (text: string) => void): void {
    const storage = node.storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    if (last < first) {
      log(`log is empty: first index=${first}, last index=${last}`);
      return;
    }
    const entries = storage.entries(first, asLogIndex(last + 1), Number.MAX_SAFE_INTEGER);
    if (typeof entries === 'string') throw new Error(`raft-log: ${entries}`);
    for (const entry of entries) log(describeEntry(entry));
  }
}
