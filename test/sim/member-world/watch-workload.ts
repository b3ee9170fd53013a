/**
 * Watch clients: each watches a range (everything, the KV prefix, or one key) on some member
 * from an explicit start revision and records every response. When its stream ends (the
 * member crashed, or installed a snapshot and ended its watches) it resumes on a random member
 * from the revision after the last one it received, as etcd clients do. Each stretch on one
 * member is a session; the watch checker compares every session with the final history.
 */
import type { Random } from '../../../src/base/index.ts';
import type { Event } from '../../../src/mvcc/index.ts';
import type { ServerWatch } from '../../../src/server/index.ts';
import { decode, encode, KV_PREFIX, type WorkloadHost } from './kv-workload.ts';
import type { MemberProcess } from './member-process.ts';
import type { MemberWorldOptions } from './member-world-options.ts';

export interface EventRecord {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  readonly lease: bigint;
}

export interface WatchRange {
  readonly key: string;
  /** '' for a single key, '\u0000' for every key >= key (etcd's [0]), else the end. */
  readonly rangeEnd: string;
}

export interface WatchSession {
  readonly watcher: number;
  readonly member: number;
  readonly range: WatchRange;
  readonly startRevision: number;
  readonly responses: { readonly events: EventRecord[]; readonly canceled: boolean }[];
  end: 'open' | 'stream-ended' | 'member-crashed' | 'canceled';
  /** The process the session was opened on, to recognise a crash. */
  readonly process: MemberProcess;
  readonly incarnation: number;
}

export const ALL_KEYS: WatchRange = { key: '\u0000', rangeEnd: '\u0000' };

export function toEventRecord(event: Event): EventRecord {
  return {
    type: event.type,
    key: decode(event.kv.key),
    value: decode(event.kv.value),
    modRevision: event.kv.modRevision,
    lease: event.kv.lease,
  };
}

export function inRange(range: WatchRange, key: string): boolean {
  if (range.rangeEnd === '') return key === range.key;
  if (range.rangeEnd === '\u0000') return key >= range.key;
  return key >= range.key && key < range.rangeEnd;
}

export function watchOptionsOf(range: WatchRange, startRevision: number) {
  return {
    key: encode(range.key),
    ...(range.rangeEnd === '' ? {} : { rangeEnd: encode(range.rangeEnd) }),
    startRevision,
  };
}

export class WatchWorkload {
  readonly sessions: WatchSession[] = [];
  private readonly open = new Map<WatchSession, ServerWatch>();
  stopping = false;

  constructor(
    private readonly host: WorkloadHost,
    private readonly options: MemberWorldOptions,
    private readonly random: Random,
    private readonly clientIdBase: number,
    private readonly latestRevision: () => number,
  ) {}

  async run(): Promise<void> {
    const watchers = Array.from({ length: this.options.watchers }, (_, i) => this.runWatcher(i));
    await Promise.all(watchers);
  }

  private drawRange(): WatchRange {
    const roll = this.random.int(3);
    if (roll === 0) return ALL_KEYS;
    if (roll === 1) return { key: KV_PREFIX, rangeEnd: 'k0' };
    return { key: `${KV_PREFIX}0`, rangeEnd: '' };
  }

  private async runWatcher(index: number): Promise<void> {
    const channel = this.host.channel;
    const clientId = this.clientIdBase + index;
    const range = this.drawRange();
    await channel.sleep(this.random.int(1000));
    // Start somewhere in the past: the catch-up path and the live path both get exercised.
    let next = 1 + this.random.int(Math.max(1, this.latestRevision()));
    while (!this.stopping) {
      const processes = this.host.processes;
      const target = processes[this.random.int(processes.length)];
      const startRevision = next;
      const opened = await channel.call(
        clientId,
        target,
        async (member) => member.watch(watchOptionsOf(range, startRevision)),
        this.options.clientTimeoutMs,
      );
      if (opened.kind !== 'ok') {
        await channel.sleep(50 + this.random.int(200));
        continue;
      }
      const session: WatchSession = {
        watcher: index,
        member: target.endpoint,
        range,
        startRevision,
        responses: [],
        end: 'open',
        process: target,
        incarnation: target.incarnation,
      };
      this.sessions.push(session);
      this.host.trace(`watch w${index} on m${target.endpoint} from ${startRevision}`);
      await this.consume(session, opened.value);
      const last = lastRevision(session);
      if (last !== null) next = last + 1;
      this.host.trace(`watch w${index} ended (${session.end}) next ${next}`);
      if (session.end === 'canceled') return;
      await channel.sleep(this.random.int(200));
    }
  }

  private async consume(session: WatchSession, watch: ServerWatch): Promise<void> {
    this.open.set(session, watch);
    // The member's process may die without ending the stream: notice it as a client notices
    // a reset connection.
    const probe = (): void => {
      if (!this.open.has(session)) return;
      if (session.process.incarnation !== session.incarnation) {
        session.end = 'member-crashed';
        watch.cancel();
        return;
      }
      this.host.channel.sleep(20).then(probe, () => undefined);
    };
    probe();
    try {
      for await (const response of watch) {
        if (session.process.incarnation !== session.incarnation) break;
        session.responses.push({
          events: response.events.map(toEventRecord),
          canceled: response.canceled,
        });
        if (response.canceled) session.end = 'canceled';
      }
    } finally {
      this.open.delete(session);
      if (session.end === 'open') session.end = 'stream-ended';
    }
  }

  /** Sessions still streaming from a live process (checked for catching up, then cancelled). */
  liveSessions(): WatchSession[] {
    return [...this.open.keys()].filter(
      (session) => session.process.incarnation === session.incarnation,
    );
  }

  stopAll(): void {
    this.stopping = true;
    for (const watch of this.open.values()) watch.cancel();
  }
}

export function lastRevision(session: WatchSession): number | null {
  for (let i = session.responses.length - 1; i >= 0; i--) {
    const events = session.responses[i].events;
    if (events.length > 0) return events[events.length - 1].modRevision;
  }
  return null;
}
