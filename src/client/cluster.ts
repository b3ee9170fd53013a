/** Cluster membership as the members report it. */
import type { CallOptions, ConnectionPool } from './connection-pool.ts';
import { type ResponseHeader, toBigInt, toHeader } from './convert.ts';
import { method } from './proto.ts';
import type { WireMember, WireMemberListResponse } from './wire.ts';

const MEMBER_LIST = method<{ linearizable?: boolean }, WireMemberListResponse>(
  'etcdserverpb.Cluster',
  'MemberList',
);

const MEMBER_ADD = method<
  { peerURLs: string[]; isLearner: boolean },
  WireMemberListResponse & { member: WireMember }
>('etcdserverpb.Cluster', 'MemberAdd');
const MEMBER_REMOVE = method<{ ID: string }, WireMemberListResponse>(
  'etcdserverpb.Cluster',
  'MemberRemove',
);
const MEMBER_UPDATE = method<{ ID: string; peerURLs: string[] }, WireMemberListResponse>(
  'etcdserverpb.Cluster',
  'MemberUpdate',
);
const MEMBER_PROMOTE = method<{ ID: string }, WireMemberListResponse>(
  'etcdserverpb.Cluster',
  'MemberPromote',
);
const MOVE_LEADER = method<{ targetID: string }, { header: WireMemberListResponse['header'] }>(
  'etcdserverpb.Maintenance',
  'MoveLeader',
);

const toMember = (member: WireMember): Member => ({
  id: toBigInt(member.ID),
  name: member.name,
  peerUrls: member.peerURLs,
  clientUrls: member.clientURLs,
  isLearner: member.isLearner,
});

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
      members: response.members.map(toMember),
    };
  }

  // Membership changes are not idempotent (a retried add adds twice), so none is retried.

  async memberAdd(
    peerUrls: readonly string[],
    options: { isLearner?: boolean } & CallOptions = {},
  ): Promise<MemberList & { readonly member: Member }> {
    const request = { peerURLs: [...peerUrls], isLearner: options.isLearner === true };
    const response = await this.pool.unary(MEMBER_ADD, request, options);
    return {
      header: toHeader(response.header),
      member: toMember(response.member),
      members: response.members.map(toMember),
    };
  }

  async memberRemove(id: bigint, options: CallOptions = {}): Promise<MemberList> {
    const response = await this.pool.unary(MEMBER_REMOVE, { ID: id.toString() }, options);
    return { header: toHeader(response.header), members: response.members.map(toMember) };
  }

  async memberUpdate(
    id: bigint,
    peerUrls: readonly string[],
    options: CallOptions = {},
  ): Promise<MemberList> {
    const request = { ID: id.toString(), peerURLs: [...peerUrls] };
    const response = await this.pool.unary(MEMBER_UPDATE, request, options);
    return { header: toHeader(response.header), members: response.members.map(toMember) };
  }

  async memberPromote(id: bigint, options: CallOptions = {}): Promise<MemberList> {
    const response = await this.pool.unary(MEMBER_PROMOTE, { ID: id.toString() }, options);
    return { header: toHeader(response.header), members: response.members.map(toMember) };
  }

  /** Maintenance.MoveLeader; must reach the leader (etcdctl picks it from endpoint status). */
  async moveLeader(targetId: bigint, options: CallOptions = {}): Promise<ResponseHeader> {
    const request = { targetID: targetId.toString() };
    const response = await this.pool.unary(MOVE_LEADER, request, options);
    return toHeader(response.header);
  }
}
