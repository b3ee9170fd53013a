/** Cluster membership as the members report it. */
import type { CallOptions, ConnectionPool } from './connection-pool.ts';
import { type ResponseHeader, toBigInt, toHeader } from './convert.ts';
import { method } from './proto.ts';
import type { WireMemberListResponse } from './wire.ts';

const MEMBER_LIST = method<{ linearizable?: boolean }, WireMemberListResponse>(
  'etcdserverpb.Cluster',
  'MemberList',
);

export interface Member {
  readonly id: bigint;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerUrls: string[];
  readonly clientUrls: string[];
  readonly isLearner: boolean;
}

export interface MemberList {
  readonly header: ResponseHeader;
  readonly members: Member[];
}

export class ClusterClient {
  constructor(private readonly pool: ConnectionPool) {}

  /**
   * Lists the members. `linearizable` (etcd 3.5+) asks the server to confirm the list through
   * raft; older servers ignore the field and answer from local state.
   */
  async memberList(options: { linearizable?: boolean } & CallOptions = {}): Promise<MemberList> {
    const request = options.linearizable ? { linearizable: true } : {};
    const response = await this.pool.unary(MEMBER_LIST, request, { idempotent: true, ...options });
    return {
      header: toHeader(response.header),
      members: response.members.map((member) => ({
        id: toBigInt(member.ID),
        name: member.name,
        peerUrls: member.peerURLs,
        clientUrls: member.clientURLs,
        isLearner: member.isLearner,
      })),
    };
  }
}
