/**
 * Test-only helpers: a real clock (production code never builds one; src/cli will), message
 * builders, a capturing logger and a bounded wait that polls instead of sleeping blindly.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { TestContext } from 'node:test';
import {
  asLogIndex,
  asMemberId,
  asTerm,
  SeededRandom,
  type Clock,
  type MemberId,
  type TimerHandle,
} from '../../src/base/index.ts';
import type { Entry, Message, MessageType, Snapshot } from '../../src/raft/types.ts';
import { TcpPeerTransport, type Logger, type TransportLimits } from '../../src/transport/index.ts';
import { FRAME_BYTES_MAX, FrameDecoder, FrameKind } from '../../src/transport/frame-codec.ts';
import { encodeHelloAck } from '../../src/transport/peer-protocol.ts';

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

export class CapturingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
  has(level: LogLine['level'], fragment: string): boolean {
    return this.lines.some((line) => line.level === level && line.message.includes(fragment));
  }
}

export function message(
  type: MessageType,
  from: MemberId,
  to: MemberId,
  fields: Partial<Omit<Message, 'type' | 'from' | 'to'>> = {},
): Message {
  return {
    type,
    from,
    to,
    term: asTerm(1),
    logTerm: asTerm(0),
    index: asLogIndex(0),
    entries: [],
    commit: asLogIndex(0),
    snapshot: null,
    reject: false,
    rejectHint: asLogIndex(0),
    context: new Uint8Array(0),
    ...fields,
  };
}

export function entry(index: number, data: Uint8Array): Entry {
  return { term: asTerm(1), index: asLogIndex(index), type: 'normal', data };
}

export function snapshotOf(data: Uint8Array, voters: readonly MemberId[]): Snapshot {
  return {
    metadata: { index: asLogIndex(100), term: asTerm(2), confState: { voters, learners: [] } },
    data,
  };
}

/** Polls `condition` every few ms; fails with `what` if it is not true within `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export const CLUSTER_ID = 0xc105e7e2n;

export interface Node {
  readonly id: MemberId;
  readonly transport: TcpPeerTransport;
  readonly received: Message[];
  readonly unreachable: MemberId[];
  readonly snapshotStatuses: { peer: MemberId; ok: boolean }[];
  readonly logger: CapturingLogger;
  readonly url: string;
}

/** A started transport on an ephemeral loopback port that records everything it is told. */
export async function startNode(
  id: number,
  options: { clusterId?: bigint; port?: number; limits?: Partial<TransportLimits> } = {},
): Promise<Node> {
  const memberId = asMemberId(BigInt(id));
  const logger = new CapturingLogger();
  const transport = new TcpPeerTransport({
    localId: memberId,
    clusterId: options.clusterId ?? CLUSTER_ID,
    listenHost: '127.0.0.1',
    listenPort: options.port ?? 0,
    clock: systemClock,
    random: new SeededRandom(id),
    logger,
    limits: { backoffInitialMs: 10, backoffMaxMs: 100, ...options.limits },
  });
  const node: Node = {
    id: memberId,
    transport,
    received: [],
    unreachable: [],
    snapshotStatuses: [],
    logger,
    url: '',
  };
  transport.onMessage((received) => node.received.push(received));
  transport.onUnreachable((peer) => node.unreachable.push(peer));
  transport.onSnapshotStatus((peer, ok) => node.snapshotStatuses.push({ peer, ok }));
  await transport.start();
  return { ...node, url: `http://127.0.0.1:${transport.listeningPort()}` };
}

/** Makes every node a peer of every other node. */
export function connectAll(nodes: readonly Node[]): void {
  for (const node of nodes) {
    for (const other of nodes) if (other !== node) node.transport.addPeer(other.id, [other.url]);
  }
}

/**
 * A peer that completes the handshake, then misbehaves: `onBytes` sees every byte after the
 * hello and decides what to do with the socket.
 */
export async function fakePeer(
  t: TestContext,
  onBytes: (socket: net.Socket, totalBytes: number) => void,
): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    let total = 0;
    let greeted = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (!greeted) {
        const [frame] = decoder.push(chunk);
        assert.equal(frame.kind, FrameKind.hello);
        socket.write(encodeHelloAck({ status: 'ok', clusterId: CLUSTER_ID }));
        greeted = true;
        return;
      }
      total += chunk.length;
      onBytes(socket, total);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  );
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}
