/**
 * Opening a member's data before its raft loop starts: the raft log (bootstrapping a fresh
 * data dir, see membership-bootstrap.ts), the backend brought up to the newest snapshot when it
 * is behind it or half restored, and etcd's refusal to bring back a removed member.
 */
import type { MemberConfig, MemberEnvironment } from './member-config.ts';
import { isMemberRemoved } from './membership-change.ts';
import { openRaftStorage, type RaftStorageState } from './raft-storage.ts';

/** etcd's message when a removed member is started again. */
export const MEMBER_REMOVED_MESSAGE = 'the member has been permanently removed from the cluster';

export async function openMemberData(
  config: MemberConfig,
  env: MemberEnvironment,
  schedule: (task: () => void) => void,
): Promise<RaftStorageState> {
  // The WAL's group commit yields through the same scheduler as all other background work:
  // with an injected one (the simulator's), no real event-loop turn is left to decide order.
  const storage = await openRaftStorage({
    ...config,
    fs: env.fs,
    ...(env.schedule === undefined
      ? {}
      : { yieldToAppenders: () => new Promise<void>((resolve) => schedule(resolve)) }),
  });
  if (env.backend.restorePending() && storage.snapshot === null) {
    throw new Error('the backend holds a half-finished restore and no snapshot can repair it');
  }
  const snapshotIndex = storage.snapshot?.metadata.index ?? 0;
  if (
    storage.snapshot !== null &&
    (env.backend.restorePending() || env.backend.consistentIndex() < snapshotIndex)
  ) {
    await env.backend.restore(
      (async function* (data: Uint8Array) {
        yield data;
      })(storage.snapshot.data),
    );
  }
  if (env.backend.read((reader) => isMemberRemoved(reader, config.memberId))) {
    await storage.wal.close();
    throw new Error(MEMBER_REMOVED_MESSAGE);
  }
  return storage;
}
