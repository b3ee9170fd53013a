/** RawNode's contract: config validation, the Ready rules, and the mutants' single switches. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asLogIndex, asTerm, SeededRandom, utf8Encode } from '../../src/base/index.ts';
import {
  defaultRaftConfig,
  MemoryLogStorage,
  RawNode,
  validateRaftConfig,
  type Message,
} from '../../src/raft/index.ts';
import { handleReady, m, newNode, stabilize, voteRequest } from './cluster-fixture.ts';

test('invalid configs are rejected before a member exists', () => {
  const storage = new MemoryLogStorage({ voters: [m(1)], learners: [] });
  const base = defaultRaftConfig({ id: m(1), storage, random: new SeededRandom(1) });
  assert.deepEqual(validateRaftConfig(base), []);
  assert.throws(() => new RawNode({ ...base, id: m(0) }), RangeError);
  assert.throws(() => new RawNode({ ...base, heartbeatTicks: 10, electionTicks: 10 }), RangeError);
  assert.throws(() => new RawNode({ ...base, maxInflightMsgs: 0 }), RangeError);
  assert.throws(() => new RawNode({ ...base, applied: asLogIndex(5) }), RangeError);
});

test('the network cannot deliver local message types', () => {
  const node = newNode(1, [1, 2, 3]);
  const hup: Message = { ...voteRequest(2, 1, 1, 0, 0), type: 'MsgHup' };
  assert.deepEqual(node.rawNode.step(hup), { ok: false, reason: 'local-message' });
  assert.equal(node.rawNode.status().role, 'follower');
});

test('the election timeout is drawn from [electionTicks, 2 * electionTicks)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const node = newNode(seed, [seed, 100]);
    let ticks = 0;
    while (node.rawNode.status().role === 'follower') {
      node.rawNode.tick();
      ticks++;
      assert.ok(ticks < 20, 'campaigned before 2 * electionTicks');
    }
    assert.ok(ticks >= 10, `campaigned after only ${ticks} ticks`);
  }
});

test('a leader counts its own entries toward commit only after advance()', () => {
  const node = newNode(1, [1]);
  node.rawNode.campaign();
  const first = handleReady(node);
  assert.equal(first.ready.mustSync, true, 'term, vote and entries changed');
  assert.equal(first.ready.hardState?.commit, 0, 'nothing commits before it is persisted');
  assert.equal(node.rawNode.status().commit, 1, 'commits once advance() reported it durable');
  node.rawNode.propose(utf8Encode('x'));
  assert.equal(node.rawNode.status().commit, 1, 'appending alone does not commit');
  const second = handleReady(node);
  assert.deepEqual(
    second.ready.entries.map((e) => e.index),
    [2],
  );
  assert.equal(node.rawNode.status().commit, 2);
  const third = handleReady(node);
  assert.equal(third.ready.mustSync, false, 'a commit index change alone needs no fsync');
  assert.deepEqual(
    third.ready.committedEntries.map((e) => e.index),
    [2],
  );
});

test('mutant ack-before-persist: commit before persisting, and no fsync requested', () => {
  const node = newNode(1, [1], { mutant: 'ack-before-persist' });
  node.rawNode.campaign();
  assert.equal(node.rawNode.status().commit, 1, 'committed while merely appended');
  const ready = node.rawNode.ready();
  assert.equal(ready.mustSync, false);
  assert.equal(ready.entries.length, 1);
});

test('one vote per term; mutant vote-twice grants a second', () => {
  for (const mutant of [undefined, 'vote-twice'] as const) {
    const node = newNode(1, [1, 2, 3], mutant === undefined ? {} : { mutant });
    node.rawNode.step(voteRequest(2, 1, 5, 0, 0));
    node.rawNode.step(voteRequest(3, 1, 5, 0, 0));
    const responses = node.rawNode.ready().messages;
    assert.deepEqual(
      responses.map((r) => [r.type, Number(r.to), r.reject]),
      [
        ['MsgVoteResp', 2, false],
        ['MsgVoteResp', 3, mutant === undefined],
      ],
    );
  }
});

test('the election restriction; mutant ignore-log-freshness grants to a stale log', () => {
  for (const mutant of [undefined, 'ignore-log-freshness'] as const) {
    const storage = new MemoryLogStorage({ voters: [m(1), m(2), m(3)], learners: [] });
    storage.append([
      { term: asTerm(3), index: asLogIndex(1), type: 'normal', data: new Uint8Array() },
    ]);
    storage.setHardState({ term: asTerm(3), vote: m(0), commit: asLogIndex(0) });
    const node = newNode(1, [1, 2, 3], mutant === undefined ? {} : { mutant }, storage);
    // The candidate's last entry is from term 2, older than ours.
    node.rawNode.step(voteRequest(2, 1, 4, 5, 2));
    const [response] = node.rawNode.ready().messages;
    assert.equal(response.type, 'MsgVoteResp');
    assert.equal(response.reject, mutant === undefined);
  }
});

test('a member restarts from its storage with term, vote and commit', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3]));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  nodes[0].rawNode.propose(utf8Encode('kept'));
  stabilize(nodes);
  const before = nodes[1].rawNode.status();
  const restarted = newNode(2, [1, 2, 3], { applied: before.applied }, nodes[1].storage);
  const after = restarted.rawNode.status();
  assert.equal(after.term, before.term);
  assert.equal(after.vote, before.vote);
  assert.equal(after.commit, before.commit);
  assert.equal(after.lastIndex, before.lastIndex);
  assert.equal(after.role, 'follower');
  assert.equal(restarted.rawNode.hasReady(), false, 'recovered state needs no persisting');
});

test('proposals beyond maxUncommittedEntriesBytes are refused until entries commit', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3], { maxUncommittedEntriesBytes: 10 }));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  const leader = nodes[0].rawNode;
  assert.deepEqual(leader.propose(new Uint8Array(6)), { ok: true });
  assert.deepEqual(leader.propose(new Uint8Array(6)), { ok: false, reason: 'uncommitted-limit' });
  stabilize(nodes);
  assert.deepEqual(leader.propose(new Uint8Array(6)), { ok: true });
});

test('maxInflightMsgs bounds MsgApps to a silent follower', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3], { maxInflightMsgs: 2 }));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  // One Ready per proposal: proposals stepped between two Readies share one MsgApp.
  let appendsToThree = 0;
  for (let i = 0; i < 5; i++) {
    nodes[0].rawNode.propose(utf8Encode(`p${i}`));
    const messages = handleReady(nodes[0]).messages;
    appendsToThree += messages.filter((msg) => msg.to === m(3) && msg.type === 'MsgApp').length;
  }
  assert.equal(appendsToThree, 2);
});

test('proposals stepped between two Readies reach each follower in one MsgApp', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3]));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  for (let i = 0; i < 5; i++) nodes[0].rawNode.propose(utf8Encode(`p${i}`));
  const appends = handleReady(nodes[0]).messages.filter((msg) => msg.type === 'MsgApp');
  assert.deepEqual(
    appends.map((msg) => [msg.to, msg.entries.length]),
    [
      [m(2), 5],
      [m(3), 5],
    ],
  );
});

test('a heartbeat response lets one empty MsgApp through a full inflight window', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3], { maxInflightMsgs: 2 }));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  // One Ready per proposal fills the window of two (see above); the rest wait.
  for (let i = 0; i < 5; i++) {
    nodes[0].rawNode.propose(utf8Encode(`p${i}`));
    handleReady(nodes[0]);
  }
  // Follower 3 is alive (answers heartbeats) but its MsgAppResps are lost.
  const heartbeatResponse: Message = {
    ...voteRequest(3, 1, nodes[0].rawNode.status().term, 0, 0),
    type: 'MsgHeartbeatResp',
  };
  nodes[0].rawNode.step(heartbeatResponse);
  const toThree = handleReady(nodes[0]).messages.filter((msg) => msg.to === m(3));
  const appends = toThree.filter((msg) => msg.type === 'MsgApp');
  assert.equal(appends.length, 1, 'one probe so the lost window can be recovered');
  assert.equal(appends[0].entries.length, 0, 'the window stays bounded');
});

test('maxSizePerMsgBytes splits entries across MsgApps but always sends one', () => {
  const nodes = [1, 2].map((id) => newNode(id, [1, 2], { maxSizePerMsgBytes: 5 }));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  // Cut node 2 off so the leader has to catch it up with a backlog later.
  for (let i = 0; i < 3; i++) nodes[0].rawNode.propose(new Uint8Array(4));
  nodes[0].rawNode.propose(new Uint8Array(9));
  stabilize(nodes, () => true);
  nodes[0].rawNode.reportUnreachable(m(2));
  nodes[0].rawNode.tick();
  const sizes: number[] = [];
  stabilize(nodes, (msg) => {
    if (msg.type === 'MsgApp' && msg.entries.length > 0) {
      sizes.push(msg.entries.reduce((sum, e) => sum + e.data.length, 0));
    }
    return false;
  });
  assert.ok(sizes.length >= 3, `expected several MsgApps, got ${sizes.join(',')}`);
  assert.ok(
    sizes.every((size) => size <= 5 || size === 9),
    `sizes ${sizes.join(',')}`,
  );
  assert.equal(nodes[1].rawNode.status().commit, nodes[0].rawNode.status().commit);
});

test('advance() without ready() and two outstanding Readys are bugs', () => {
  const node = newNode(1, [1]);
  assert.throws(() => node.rawNode.advance(), /advance\(\) without/);
  node.rawNode.campaign();
  node.rawNode.ready();
  assert.throws(() => node.rawNode.ready(), /advance\(\) the previous Ready/);
});

test('a removed member stops campaigning', () => {
  const nodes = [1, 2, 3].map((id) => newNode(id, [1, 2, 3]));
  nodes[0].rawNode.campaign();
  stabilize(nodes);
  assert.deepEqual(
    nodes[0].rawNode.proposeConfChange({
      type: 'remove-member',
      memberId: m(3),
      context: new Uint8Array(),
    }),
    { ok: true },
  );
  stabilize(nodes);
  assert.deepEqual(nodes[2].rawNode.status().confState.voters, [m(1), m(2)]);
  for (let i = 0; i < 50; i++) nodes[2].rawNode.tick();
  assert.equal(nodes[2].rawNode.status().role, 'follower');
});

test('a new leader accepts a membership change only once its own empty entry is applied', () => {
  const node = newNode(1, [1]);
  node.rawNode.campaign();
  const change = { type: 'add-learner' as const, memberId: m(2), context: new Uint8Array() };
  // The empty entry of the new term is appended but not yet persisted, committed or applied.
  assert.deepEqual(node.rawNode.proposeConfChange(change), {
    ok: false,
    reason: 'conf-change-pending',
  });
  while (node.rawNode.hasReady()) handleReady(node);
  assert.equal(node.rawNode.status().applied, 1, 'the empty entry of term 1 is applied');
  assert.deepEqual(node.rawNode.proposeConfChange(change), { ok: true });
});
