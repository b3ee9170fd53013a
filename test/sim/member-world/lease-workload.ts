/**
 * Lease clients: grant a lease (the shortest TTL the cluster allows, or a second more), put a
 * few keys with it, then revoke it, keep it alive for a while, or simply let it expire. Every
 * lease ends up gone, by revoke or by the leader's expiry, so after healing the checkers can
 * require that no key attached to a lease survives anywhere. Lease keys live under their own
 * prefix, apart from the linearizability-checked registers, because revokes delete them.
 */
import type { Random } from '../../../src/base/index.ts';
import type { WorkloadHost } from './kv-workload.ts';
import { encode, errorCode } from './kv-workload.ts';
import type { MemberWorldOptions } from './member-world-options.ts';

export const LEASE_PREFIX = 'l/';

export interface LeaseRecord {
  readonly label: string;
  readonly id: bigint;
  readonly ttlSeconds: number;
  readonly keys: string[];
  fate: 'revoke' | 'keepalive' | 'expire';
  revokeAcknowledged: boolean;
}

export class LeaseWorkload {
  readonly leases: LeaseRecord[] = [];
  stopping = false;
  grantsUnknown = 0;
  /** Keepalive promises broken: a renewed lease gone before its TTL ran out. */
  readonly earlyExpiries: string[] = [];

  constructor(
    private readonly host: WorkloadHost,
    private readonly options: MemberWorldOptions,
    private readonly random: Random,
    /** Client ids of lease clients start here (they share the network with KV clients). */
    private readonly clientIdBase: number,
  ) {}

  async run(): Promise<void> {
    const clients = Array.from({ length: this.options.leaseClients }, (_, i) =>
      this.runClient(this.clientIdBase + i),
    );
    await Promise.all(clients);
  }

  private target() {
    const processes = this.host.processes;
    return processes[this.random.int(processes.length)];
  }

  private async runClient(clientId: number): Promise<void> {
    const channel = this.host.channel;
    for (let n = 0; n < this.options.leasesPerClient && !this.stopping; n++) {
      await channel.sleep(this.random.int(500));
      const label = `${clientId}-${n}`;
      const requestedTtl = this.random.int(3);
      const granted = await channel.call(
        clientId,
        this.target(),
        (member) => member.leaseGrant(requestedTtl, 0n),
        this.options.clientTimeoutMs,
      );
      this.host.trace(
        `lease ${label} grant: ${granted.kind === 'error' ? errorCode(granted.error) : granted.kind}`,
      );
      if (granted.kind !== 'ok') {
        if (granted.kind !== 'refused') this.grantsUnknown++;
        continue;
      }
      const lease: LeaseRecord = {
        label,
        id: granted.value.id,
        ttlSeconds: granted.value.ttl,
        keys: [],
        fate: (['revoke', 'keepalive', 'expire'] as const)[this.random.int(3)],
        revokeAcknowledged: false,
      };
      this.leases.push(lease);
      const keyCount = 2 + this.random.int(3);
      for (let i = 0; i < keyCount && !this.stopping; i++) {
        const key = `${LEASE_PREFIX}${label}/${i}`;
        // Known before the put: a put whose outcome is unknown may still have happened.
        lease.keys.push(key);
        const put = await channel.call(
          clientId,
          this.target(),
          (member) =>
            member.put({
              key: encode(key),
              value: encode(`${label}:${i}`),
              lease: lease.id,
            }),
          this.options.clientTimeoutMs,
        );
        if (put.kind === 'ok') this.host.sawRevision(put.value.header.revision);
        this.host.trace(
          `lease ${label} put ${key}: ${put.kind === 'error' ? errorCode(put.error) : put.kind}`,
        );
      }
      await this.finish(clientId, lease);
    }
  }

  /**
   * A keepalive acknowledged with `ttl` means the lease lives at least `ttl` seconds after the
   * request was sent. Half of it later (far beyond any clock drift the world draws) a
   * linearizable TimeToLive must still find it.
   */
  private async checkAlive(
    clientId: number,
    lease: LeaseRecord,
    sentAtMs: number,
    ttlSeconds: number,
  ): Promise<void> {
    await this.host.channel.sleep((ttlSeconds * 1000) / 2);
    const checkedAtMs = this.host.channel.nowMs();
    const found = await this.host.channel.call(
      clientId,
      this.target(),
      (member) => member.leaseTimeToLive(lease.id, false),
      this.options.clientTimeoutMs,
    );
    if (found.kind !== 'ok') return;
    // The answer is linearizable, so it reflects a moment no later than its return.
    if (found.value.ttl === -1 && this.host.channel.nowMs() - sentAtMs < ttlSeconds * 1000) {
      this.earlyExpiries.push(
        `lease ${lease.label} (${lease.id}) renewed with ttl ${ttlSeconds}s by a keepalive sent ` +
          `at ${sentAtMs} ms was gone at ${checkedAtMs} ms`,
      );
    }
  }

  private async finish(clientId: number, lease: LeaseRecord): Promise<void> {
    const channel = this.host.channel;
    if (lease.fate === 'revoke') {
      await channel.sleep(this.random.int(300));
      const revoked = await channel.call(
        clientId,
        this.target(),
        (member) => member.leaseRevoke(lease.id),
        this.options.clientTimeoutMs,
      );
      lease.revokeAcknowledged = revoked.kind === 'ok';
      this.host.trace(
        `lease ${lease.label} revoke: ${revoked.kind === 'error' ? errorCode(revoked.error) : revoked.kind}`,
      );
    } else if (lease.fate === 'keepalive') {
      const rounds = 2 + this.random.int(6);
      for (let i = 0; i < rounds && !this.stopping; i++) {
        await channel.sleep((lease.ttlSeconds * 1000) / 3);
        const sentAtMs = this.host.channel.nowMs();
        const renewed = await channel.call(
          clientId,
          this.target(),
          (member) => member.leaseKeepAlive(lease.id),
          this.options.clientTimeoutMs,
        );
        if (renewed.kind === 'ok' && renewed.value.ttl > 0 && i === rounds - 1) {
          await this.checkAlive(clientId, lease, sentAtMs, renewed.value.ttl);
        }
        this.host.trace(
          `lease ${lease.label} keepalive: ${renewed.kind === 'ok' ? `ttl ${renewed.value.ttl}` : renewed.kind === 'error' ? errorCode(renewed.error) : renewed.kind}`,
        );
      }
    }
  }
}
