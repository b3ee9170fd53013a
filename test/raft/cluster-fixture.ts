/** A tiny in-process cluster for unit tests that need more control than the scripts. */
import {
  asLogIndex,
  asMemberId,
  asTerm,
  SeededRandom,
  type MemberId,
} from '../../src/base/index.ts';
import {
  decodeConfChange,
  defaultRaftConfig,
  MemoryLogStorage,
  RawNode,
  type Entry,
  type Message,
  type RaftConfig,
  type Ready,
} from '../../src/raft/index.ts';

export const m = (id: number): MemberId => asMemberId(BigInt(id));

export interface FixtureNode {
  readonly id: MemberId;
  readonly storage: MemoryLogStorage;
  rawNode: RawNode;
  readonly applied: Entry[];
}

export function newNode(
  id: number,
  voters: readonly number[],
  overrides: Partial<RaftConfig> = {},
  storage = new MemoryLogStorage({ voters: voters.map(m), learners: [] }),
): FixtureNode {
  const config = defaultRaftConfig(
    { id: m(id), storage, random: new SeededRandom(id) },
    { applied: asLogIndex(0), ...overrides },
  );
  return { id: m(id), storage, rawNode: new RawNode(config), applied: [] };
}

/** Persists, collects messages, applies, advances: the Ready contract in order. */
export function handleReady(node: FixtureNode): { ready: Ready; messages: Message[] } {
  const ready = node.rawNode.ready();
  if (ready.snapshot !== null) node.storage.applySnapshot(ready.snapshot);
  node.storage.append(ready.entries);
  if (ready.hardState !== null) node.storage.setHardState(ready.hardState);
  for (const entry of ready.committedEntries) {
    node.applied.push(entry);
    if (entry.type === 'conf-change') {
      node.storage.setConfState(node.rawNode.applyConfChange(decodeConfChange(entry.data)));
    }
  }
  node.rawNode.advance();
  return { ready, messages: [...ready.messages] };
}

/** Runs Ready rounds and delivers every message until the cluster is quiet. */
export function stabilize(
  nodes: readonly FixtureNode[],
  drop: (m: Message) => boolean = () => false,
): void {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  for (let round = 0; round < 500; round++) {
    const inFlight: Message[] = [];
    for (const node of nodes)
      if (node.rawNode.hasReady()) inFlight.push(...handleReady(node).messages);
    if (inFlight.length === 0) return;
    for (const message of inFlight) {
      if (drop(message)) continue;
      byId.get(message.to)?.rawNode.step(message);
    }
  }
  throw new Error('cluster did not stabilize');
}

export function voteRequest(
  from: number,
  to: number,
  term: number,
  lastIndex: number,
  lastTerm: number,
): Message {
  return {
    type: 'MsgVote',
    from: m(from),
    to: m(to),
    term: asTerm(term),
    logTerm: asTerm(lastTerm),
    index: asLogIndex(lastIndex),
    entries: [],
    commit: asLogIndex(0),
    snapshot: null,
    reject: false,
    rejectHint: asLogIndex(0),
    context: new Uint8Array(0),
  };
}
