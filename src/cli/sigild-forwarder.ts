/**
 * How a follower sigild forwards a MemberPromote to the leader (etcd does this over its peer
 * HTTP API; here the leader's client API serves it). The leader's refusal comes back with
 * etcd's message, which is turned back into the same ServerError so the follower answers the
 * client exactly as the leader did.
 */
import { SigilClient } from '../client/index.ts';
import { SERVER_ERROR_MESSAGES, ServerError, type ServerErrorCode } from '../server/index.ts';

const FORWARD_TIMEOUT_MS = 5_000;

export async function forwardPromote(
  leaderClientUrls: readonly string[],
  id: bigint,
): Promise<void> {
  const endpoints = leaderClientUrls.map((url) => new URL(url).host);
  const client = new SigilClient({ endpoints, commandTimeoutMs: FORWARD_TIMEOUT_MS });
  try {
    await client.cluster.memberPromote(id);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = (Object.keys(SERVER_ERROR_MESSAGES) as ServerErrorCode[]).find(
      (candidate) => SERVER_ERROR_MESSAGES[candidate] === message,
    );
    throw code === undefined ? error : new ServerError(code);
  } finally {
    client.close();
  }
}
