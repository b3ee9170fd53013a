/**
 * The raw etcd v3 calls the chaos suite needs beyond SigilClient: watch streams whose every
 * response is recorded as it arrived (SigilClient's Watcher hides response boundaries and
 * resumes by itself, which is exactly what the watch checker must see), and the Cluster RPCs
 * MemberAdd/MemberRemove. Built on grpc-js and the project's protocol definitions, so they speak
 * etcd's API to any endpoint.
 */
import * as grpc from '@grpc/grpc-js';
import { method } from '../../src/client/proto.ts';
import type {
  WireHeader,
  WireMember,
  WireWatchRequest,
  WireWatchResponse,
} from '../../src/client/wire.ts';

const WATCH = method<WireWatchRequest, WireWatchResponse>('etcdserverpb.Watch', 'Watch');
const MEMBER_ADD = method<
  { peerURLs: string[]; isLearner?: boolean },
  { header: WireHeader; member: WireMember | null; members: WireMember[] }
>('etcdserverpb.Cluster', 'MemberAdd');
const MEMBER_REMOVE = method<{ ID: string }, { header: WireHeader; members: WireMember[] }>(
  'etcdserverpb.Cluster',
  'MemberRemove',
);

export function grpcClient(endpoint: string): grpc.Client {
  return new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 2 ** 31 - 1,
    // A member that stops answering (SIGSTOP, partition) is given up on by the caller's own
    // watchdog; keepalive pings make a dead connection fail instead of hanging for minutes.
    'grpc.keepalive_time_ms': 2_000,
    'grpc.keepalive_timeout_ms': 2_000,
  });
}

export type WatchStream = grpc.ClientDuplexStream<WireWatchRequest, WireWatchResponse>;

export function openWatchStream(client: grpc.Client): WatchStream {
  const metadata = new grpc.Metadata();
  metadata.set('hasleader', 'true');
  return client.makeBidiStreamRequest(WATCH.path, WATCH.serialize, WATCH.deserialize, metadata);
}

function unary<Request, Response>(
  client: grpc.Client,
  path: string,
  serialize: (request: Request) => Buffer,
  deserialize: (bytes: Buffer) => Response,
  request: Request,
  timeoutMs: number,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      serialize,
      deserialize,
      request,
      { deadline: Date.now() + timeoutMs },
      (error, response) => (error ? reject(error) : resolve(response as Response)),
    );
  });
}

/** MemberAdd on `endpoint`; returns the new member's id. */
export async function memberAdd(
  endpoint: string,
  peerUrls: readonly string[],
  timeoutMs = 10_000,
): Promise<bigint> {
  const client = grpcClient(endpoint);
  try {
    const response = await unary(
      client,
      MEMBER_ADD.path,
      MEMBER_ADD.serialize,
      MEMBER_ADD.deserialize,
      { peerURLs: [...peerUrls] },
      timeoutMs,
    );
    if (response.member === null) throw new Error('MemberAdd answered without the member');
    return BigInt(response.member.ID);
  } finally {
    client.close();
  }
}

export async function memberRemove(
  endpoint: string,
  memberId: bigint,
  timeoutMs = 10_000,
): Promise<void> {
  const client = grpcClient(endpoint);
  try {
    await unary(
      client,
      MEMBER_REMOVE.path,
      MEMBER_REMOVE.serialize,
      MEMBER_REMOVE.deserialize,
      { ID: memberId.toString() },
      timeoutMs,
    );
  } finally {
    client.close();
  }
}

/** The gRPC status details of a failure (etcd's message), or the error's text. */
export function errorText(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'details' in error) {
    const details = (error as { details?: unknown }).details;
    if (typeof details === 'string' && details !== '') return details;
  }
  return error instanceof Error ? error.message : String(error);
}
