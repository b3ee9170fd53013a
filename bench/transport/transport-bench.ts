/**
 * Loopback throughput and latency of TcpPeerTransport.
 *
 *   node --import tsx bench/transport/transport-bench.ts [--seconds 2]
 *
 * Both transports run in this one process, so sender, receiver, encoding and decoding share a
 * single core: the figures are a floor for two members on two machines (or processes).
 * The sender keeps at most `windowMessages` unacknowledged-by-arrival messages in flight, the
 * way raft's inflight limit does, so the bounded queue never drops.
 */
import { asLogIndex, asTerm, type MemberId } from '../../src/base/index.ts';
import type { Message } from '../../src/raft/types.ts';
import { encodeMessage } from '../../src/transport/index.ts';
import { FRAME_HEADER_BYTES } from '../../src/transport/frame-codec.ts';
import { decodeMessageBatch, encodeMessageBatch } from '../../src/transport/peer-protocol.ts';
import {
  connectAll,
  entry,
  message,
  startNode,
  waitFor,
  type Node,
} from '../../test/transport/transport-fixtures.ts';

const secondsArgument = process.argv.indexOf('--seconds');
const durationMs = 1000 * (secondsArgument > 0 ? Number(process.argv[secondsArgument + 1]) : 2);

interface Scenario {
  readonly name: string;
  readonly entriesPerMessage: number;
  readonly entryBytes: number;
  /** Messages handed to send() per event-loop turn (one call each). */
  readonly messagesPerTurn: number;
  readonly windowMessages: number;
}

const scenarios: readonly Scenario[] = [
  {
    name: 'MsgApp 1x300B, 1 in flight',
    entriesPerMessage: 1,
    entryBytes: 300,
    messagesPerTurn: 1,
    windowMessages: 1,
  },
  {
    name: 'MsgApp 1x300B, 64 per turn',
    entriesPerMessage: 1,
    entryBytes: 300,
    messagesPerTurn: 64,
    windowMessages: 4096,
  },
  {
    name: 'MsgApp 1x300B, 1024 per turn',
    entriesPerMessage: 1,
    entryBytes: 300,
    messagesPerTurn: 1024,
    windowMessages: 16384,
  },
  {
    name: 'MsgApp 64x300B, 16 per turn',
    entriesPerMessage: 64,
    entryBytes: 300,
    messagesPerTurn: 16,
    windowMessages: 256,
  },
  {
    name: 'MsgApp 1x64KiB, 16 per turn',
    entriesPerMessage: 1,
    entryBytes: 65536,
    messagesPerTurn: 16,
    windowMessages: 256,
  },
];

/** Entry payloads come from the leader's log, already in memory: reuse one per size. */
const payloads = new Map<number, Uint8Array>();

function appendMessage(from: Node, to: MemberId, scenario: Scenario, index: number): Message {
  let payload = payloads.get(scenario.entryBytes);
  if (payload === undefined) {
    payload = new Uint8Array(scenario.entryBytes).fill(0xab);
    payloads.set(scenario.entryBytes, payload);
  }
  const entries = Array.from({ length: scenario.entriesPerMessage }, (_, i) =>
    entry(index + i, payload),
  );
  return message('MsgApp', from.id, to, {
    term: asTerm(1),
    index: asLogIndex(index),
    entries,
    commit: asLogIndex(index),
  });
}

async function runScenario(sender: Node, receiver: Node, scenario: Scenario): Promise<string> {
  receiver.received.length = 0;
  const wireBytesPerMessage = encodeMessage(appendMessage(sender, receiver.id, scenario, 1)).length;
  const statsBefore = sender.transport.peerStats(receiver.id)!;
  let sent = 0;
  let delivered = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    delivered += receiver.received.length;
    receiver.received.length = 0;
    for (
      let i = 0;
      i < scenario.messagesPerTurn && sent - delivered < scenario.windowMessages;
      i++
    ) {
      sender.transport.send([appendMessage(sender, receiver.id, scenario, ++sent)]);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor('the tail to arrive', () => delivered + receiver.received.length === sent, 10_000);
  const elapsedS = (performance.now() - start) / 1000;
  const statsAfter = sender.transport.peerStats(receiver.id)!;
  const dropped = statsAfter.droppedMessages - statsBefore.droppedMessages;
  const batches = statsAfter.sentBatches - statsBefore.sentBatches;
  const messagesPerS = sent / elapsedS;
  const payloadMBPerS = (sent * scenario.entriesPerMessage * scenario.entryBytes) / elapsedS / 1e6;
  const wireMBPerS = (sent * wireBytesPerMessage) / elapsedS / 1e6;
  return [
    scenario.name.padEnd(32),
    `${Math.round(messagesPerS).toLocaleString('en').padStart(10)} msg/s`,
    `${payloadMBPerS.toFixed(1).padStart(7)} MB/s payload`,
    `${wireMBPerS.toFixed(1).padStart(7)} MB/s wire`,
    `${(sent / Math.max(1, batches)).toFixed(1).padStart(7)} msg/write`,
    `dropped ${dropped}`,
  ].join('  ');
}

/** Polls once per event-loop turn: finer than a timer, so latency is not rounded up to it. */
async function spinUntil(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function roundTripLatency(a: Node, b: Node, rounds: number): Promise<string> {
  const samplesUs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    a.transport.send([message('MsgHeartbeat', a.id, b.id, { commit: asLogIndex(i) })]);
    await spinUntil('heartbeat', () => b.received.length > 0);
    b.received.length = 0;
    b.transport.send([message('MsgHeartbeatResp', b.id, a.id)]);
    await spinUntil('heartbeat response', () => a.received.length > 0);
    a.received.length = 0;
    samplesUs.push((performance.now() - start) * 1000);
  }
  samplesUs.sort((x, y) => x - y);
  const at = (q: number): string => samplesUs[Math.floor(q * (samplesUs.length - 1))].toFixed(0);
  return `heartbeat round trip (${rounds} rounds): p50 ${at(0.5)} us, p99 ${at(0.99)} us`;
}

/** The codec alone, without sockets: the CPU cost per message on each side. */
function codecThroughput(from: Node, to: MemberId): string {
  const scenario = scenarios[2];
  const messages = Array.from({ length: 1024 }, (_, i) => appendMessage(from, to, scenario, i + 1));
  let encoded = 0;
  let decoded = 0;
  let encodeMs = 0;
  let decodeMs = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    const encodeStart = performance.now();
    const { frame } = encodeMessageBatch(messages, 0);
    encodeMs += performance.now() - encodeStart;
    encoded += messages.length;
    const decodeStart = performance.now();
    decoded += decodeMessageBatch(frame.subarray(FRAME_HEADER_BYTES)).length;
    decodeMs += performance.now() - decodeStart;
  }
  const perS = (count: number, ms: number): string =>
    Math.round((count / ms) * 1000).toLocaleString('en');
  return `codec only, batches of 1024 MsgApp 1x300B: encode ${perS(encoded, encodeMs)} msg/s, decode ${perS(decoded, decodeMs)} msg/s`;
}

async function main(): Promise<void> {
  const limits = { queuedMessagesMax: 65_536, queuedBytesMax: 512 * 1024 * 1024 };
  const a = await startNode(1, { limits });
  const b = await startNode(2, { limits });
  connectAll([a, b]);
  a.transport.send([message('MsgHeartbeat', a.id, b.id)]);
  b.transport.send([message('MsgHeartbeat', b.id, a.id)]);
  await waitFor('streams up', () => a.received.length === 1 && b.received.length === 1);
  a.received.length = 0;
  b.received.length = 0;
  console.log(`node ${process.version}, ${durationMs} ms per scenario, one process`);
  for (const scenario of scenarios) console.log(await runScenario(a, b, scenario));
  console.log(await roundTripLatency(a, b, 2000));
  console.log(codecThroughput(a, b.id));
  await Promise.all([a.transport.stop(), b.transport.stop()]);
}

await main();
