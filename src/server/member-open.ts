/**
 * Opening a member's data before its raft loop starts: the raft log (bootstrapping a fresh
 * data dir, see membership-bootstrap.ts), the backend brought up to the newest snapshot from its
 * spooled data when it is behind it or half restored, and etcd's refusal to bring back a removed
 * member.
 */
import type { Backend } from '../storage/index.ts';
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
  await repairBackend(env.backend, storage);
  if (env.backend.read((reader) => isMemberRemoved(reader, config.memberId))) {
    await storage.wal.close();
    throw new Error(MEMBER_REMOVED_MESSAGE);
  }
  return storage;
}

/**
 * A raft snapshot holds only metadata; the backend is the state it stands for. A snapshot taken
 * here was persisted after the backend was synced past its index, so a backend behind the
 * newest snapshot means one received from the leader whose restore did not finish: its data
 * was spooled (durably) before raft saw the snapshot, and is restored from that file now.
 * Snapshot files written before this layout carry the backend inline and repair from that.
 */
async function repairBackend(backend: Backend, storage: RaftStorageState): Promise<void> {
  const { snapshot, spool } = storage;
  if (backend.restorePending() && snapshot === null) {
    throw new Error('the backend holds a half-finished restore and no snapshot can repair it');
  }
  if (
    snapshot !== null &&
    (backend.restorePending() || backend.consistentIndex() < snapshot.metadata.index)
  ) {
    const { term, index } = snapshot.metadata;
    if (await spool.exists(term, index)) {
      await backend.restore(spool.read(term, index));
    } else if (snapshot.data.length > 0) {
      await backend.restore(
        (async function* (data: Uint8Array) {
          yield data;
        })(snapshot.data),
      );
    } else {
      throw new Error(
        `the backend is at index ${backend.consistentIndex()}${backend.restorePending() ? ' (restore unfinished)' : ''} ` +
          `but snapshot ${index} needs it, and ${spool.pathOf(term, index)} is missing`,
      );
    }
    if (backend.consistentIndex() < index) {
      throw new Error(
        `${spool.pathOf(term, index)} restores the backend to index ${backend.consistentIndex()}, below snapshot ${index}`,
      );
    }
    await backend.sync();
  }
  // Every spool is in the backend now, or belongs to a snapshot raft never persisted (the
  // leader sends another); unfinished ones were cut off by the crash.
  await spool.purge(Number.MAX_SAFE_INTEGER, { partial: true });
}
