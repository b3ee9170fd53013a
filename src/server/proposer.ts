/**
 * The write path's front half: waits (briefly) for a leader, gives each request a unique id,
 * encodes it into an entry, proposes it to raft and registers its waiter. A follower's raft
 * forwards the proposal to the leader (MsgProp); the answer always comes from applying the
 * entry on THIS member. Leadership moving fails every waiter with 'leader-changed'.
 */
import type { Clock } from '../base/index.ts';
import { NO_MEMBER, type SoftState } from '../raft/index.ts';
import { ProposalRegistry } from './proposal-registry.ts';
import { encodeRequest, type InternalRequest } from './request.ts';
import { RequestIdGenerator } from './request-id.ts';
import { ServerError, type ServerErrorCode } from './server-error.ts';

/** Encoded requests may exceed the client's request by their envelope; not by more. */
const REQUEST_ENVELOPE_BYTES = 4096;

export interface ProposerOptions {
  readonly clock: Clock;
  readonly memberId: bigint;
  readonly wallClockMs: number;
  readonly requestTimeoutMs: number;
  /** How long a request waits for a leader to be known before failing with no-leader. */
  readonly leaderWaitMs: number;
  readonly maxRequestBytes: number;
  /** Throws ServerError('stopped') once the member is stopping. */
  readonly checkRunning: () => void;
  readonly leader: () => bigint;
  /** Hands the entry to raft; `refused` is called (maybe later) if raft refuses it. */
  readonly propose: (data: Uint8Array, refused: (reason: string) => void) => void;
}

export class Proposer {
  readonly registry: ProposalRegistry;
  private readonly ids: RequestIdGenerator;
  private leaderWaiters: ((stopped: boolean) => void)[] = [];

  constructor(private readonly options: ProposerOptions) {
    this.registry = new ProposalRegistry(options.clock, options.requestTimeoutMs);
    this.ids = new RequestIdGenerator(options.memberId, Math.floor(options.wallClockMs));
  }

  /** A fresh id from the member's generator (also used for lease ids we pick). */
  nextId(): bigint {
    return this.ids.next();
  }

  async propose<T>(request: InternalRequest): Promise<T> {
    this.options.checkRunning();
    await this.waitForLeader();
    // Stop may have begun while we waited (even for a resolved promise's turn).
    this.options.checkRunning();
    const id = this.ids.next();
    const data = encodeRequest({ id, request });
    if (data.length > this.options.maxRequestBytes + REQUEST_ENVELOPE_BYTES) {
      throw new ServerError('request-too-large');
    }
    const settled = this.registry.register<T>(id);
    this.options.propose(data, (reason) => this.registry.fail(id, refusalCode(reason)));
    return await settled;
  }

  /** Resolves when a leader is known; fails fast with no-leader after a short wait. */
  waitForLeader(): Promise<void> {
    if (this.options.leader() !== NO_MEMBER) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.options.clock.setTimer(this.options.leaderWaitMs, () => {
        this.leaderWaiters = this.leaderWaiters.filter((waiter) => waiter !== wake);
        reject(new ServerError('no-leader'));
      });
      const wake = (stopped: boolean): void => {
        timer.cancel();
        if (stopped) reject(new ServerError('stopped'));
        else resolve();
      };
      this.leaderWaiters.push(wake);
    });
  }

  /** Raft's view of the leader changed. */
  softStateChanged(previous: SoftState, next: SoftState): void {
    if (previous.leader !== NO_MEMBER && next.leader !== previous.leader) {
      this.registry.failAll('leader-changed');
    }
    if (next.leader !== NO_MEMBER) this.wakeLeaderWaiters(false);
  }

  stop(): void {
    this.registry.failAll('stopped');
    this.wakeLeaderWaiters(true);
  }

  private wakeLeaderWaiters(stopped: boolean): void {
    const waiters = this.leaderWaiters;
    this.leaderWaiters = [];
    for (const wake of waiters) wake(stopped);
  }
}

function refusalCode(reason: string): ServerErrorCode {
  if (reason === 'uncommitted-limit') return 'too-many-requests';
  if (reason === 'leader-transfer-in-progress') return 'leader-changed';
  return 'no-leader';
}
