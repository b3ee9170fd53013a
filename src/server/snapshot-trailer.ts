/**
 * etcd's Snapshot RPC ends its stream with a 32-byte SHA-256 of everything before it, which
 * etcdctl checks when it saves the stream.
 */
import { createHash } from 'node:crypto';

/** The chunks of `state`, passed through as they come, then their SHA-256. */
export async function* withSha256Trailer(
  state: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const digest = createHash('sha256');
  for await (const chunk of state) {
    digest.update(chunk);
    yield chunk;
  }
  yield new Uint8Array(digest.digest());
}
