/**
 * How simulated clients reach members: a request crosses the simulated network (delay, loss),
 * calls the member's ServerApi in-process, and the answer crosses back. A member whose process
 * is down refuses the connection (a definite "nothing happened"); an answer produced by a
 * process that has since died never leaves it; a client that hears nothing within its timeout
 * gives up, and for a write that means the outcome is unknown.
 */
import type { SigilMember } from '../../../src/server/index.ts';
import type { SimNetwork } from '../sim-network.ts';
import type { World } from '../world.ts';
import type { MemberProcess } from './member-process.ts';

export type CallOutcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'refused' }
  | { readonly kind: 'timeout' };

/** Clients are network endpoints below zero, members above. */
export const clientEndpoint = (clientId: number): number => -(clientId + 1);

export class ClientChannel {
  constructor(
    private readonly world: World,
    private readonly network: SimNetwork,
  ) {}

  call<T>(
    clientId: number,
    target: MemberProcess,
    invoke: (member: SigilMember) => Promise<T>,
    timeoutMs: number,
  ): Promise<CallOutcome<T>> {
    const client = clientEndpoint(clientId);
    return new Promise<CallOutcome<T>>((resolve) => {
      let settled = false;
      const finish = (outcome: CallOutcome<T>): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      this.world.schedule(timeoutMs, () => finish({ kind: 'timeout' }));
      const arrive = (): void => {
        const member = target.member;
        if (!target.isUp || member === null) {
          this.world.schedule(1, () => finish({ kind: 'refused' }));
          return;
        }
        const incarnation = target.incarnation;
        const respond = (outcome: CallOutcome<T>): void => {
          if (target.incarnation !== incarnation) return;
          this.network.send(
            target.endpoint,
            client,
            () => finish(outcome),
            () => {},
            false,
          );
        };
        let pending: Promise<T>;
        try {
          pending = invoke(member);
        } catch (error) {
          pending = Promise.reject(error);
        }
        pending.then(
          (value) => respond({ kind: 'ok', value }),
          (error: unknown) => respond({ kind: 'error', error }),
        );
      };
      // Requests are never duplicated: one TCP connection per request delivers it once.
      this.network.send(client, target.endpoint, arrive, () => {}, false);
    });
  }

  nowMs(): number {
    return this.world.nowMs;
  }

  /** Resolves `delayMs` of virtual time from now. */
  sleep(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => this.world.schedule(delayMs, resolve));
  }
}
