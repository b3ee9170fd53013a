/**
 * Opening a member's raft state from disk: a fresh bootstrap (create the WAL, with the founding
 * configuration in its metadata) or a restart (newest snapshot file + the WAL after it), turned
 * into the MemoryLogStorage raft reads.
 *
 * Bootstrap is deterministic: every founding member derives the same configuration (all
 * members voters, at index 0) from --initial-cluster, and records it in its WAL metadata so a
 * restart without any snapshot rebuilds exactly the same starting point.
 */
import { assert, asLogIndex, asMemberId, type MemberId } from '../base/index.ts';
import {
  MemoryLogStorage,
  NO_MEMBER,
  type ConfState,
  type HardState,
  type Snapshot,
} from '../raft/index.ts';
import {
  createWal,
  openWal,
  snapDirectory,
  Snapshotter,
  walDirectory,
  walExists,
  type FileSystem,
  type Wal,
} from '../storage/index.ts';
import type { Member } from './server-api.ts';

export interface FoundingMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
}

interface WalMetadata {
  readonly version: 1;
  readonly memberId: string;
  readonly clusterId: string;
  readonly founders: readonly { id: string; name: string; peerUrls: readonly string[] }[];
}

export interface OpenRaftStorageOptions {
  readonly fs: FileSystem;
  readonly dataDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly initialCluster: readonly FoundingMember[];
  readonly initialClusterState: 'new' | 'existing';
  readonly walSegmentBytes?: number;
  /** How the WAL writer lets appenders join the next batch (default: one setImmediate turn);
   *  the simulator passes its own scheduler so no real event-loop turn decides the order. */
  readonly yieldToAppenders?: () => Promise<void>;
}

export interface RaftStorageState {
  readonly storage: MemoryLogStorage;
  readonly wal: Wal;
  readonly snapshotter: Snapshotter;
  readonly snapshot: Snapshot | null;
  readonly hardState: HardState;
  /** The founding members (from the WAL metadata), as member records. */
  readonly founders: readonly Member[];
  readonly fresh: boolean;
}

export async function openRaftStorage(options: OpenRaftStorageOptions): Promise<RaftStorageState> {
  const { fs, dataDir } = options;
  const snapshotter = new Snapshotter(fs, snapDirectory(dataDir));
  const directory = walDirectory(dataDir);
  const walOptions = {
    ...(options.walSegmentBytes === undefined ? {} : { segmentBytes: options.walSegmentBytes }),
    ...(options.yieldToAppenders === undefined
      ? {}
      : { yieldToAppenders: options.yieldToAppenders }),
  };
  const fresh = !(await walExists(fs, directory));
  if (fresh && options.initialClusterState === 'existing') {
    throw new Error(
      `no WAL in ${directory}: joining an existing cluster needs member add (not supported yet)`,
    );
  }
  const opened = fresh
    ? await createWal(fs, directory, encodeMetadata(options), walOptions)
    : await openWal(fs, directory, walOptions);
  const metadata = decodeMetadata(opened.metadata);
  if (BigInt(`0x${metadata.memberId}`) !== options.memberId) {
    throw new Error(
      `data dir ${dataDir} belongs to member ${metadata.memberId}, not ${options.memberId.toString(16)}`,
    );
  }
  if (BigInt(`0x${metadata.clusterId}`) !== options.clusterId) {
    throw new Error(`data dir ${dataDir} belongs to cluster ${metadata.clusterId}`);
  }
  const founders: Member[] = metadata.founders.map((founder) => ({
    id: BigInt(`0x${founder.id}`),
    name: founder.name,
    peerUrls: founder.peerUrls,
    clientUrls: [],
    isLearner: false,
  }));
  const storage = new MemoryLogStorage(foundingConfState(founders.map((member) => member.id)));
  const snapshot = await snapshotter.loadNewest();
  if (snapshot !== null) {
    // The WAL's entries start right after its own snapshot marker; a newer snapshot file
    // (a crash between writing it and recording it in the WAL) only covers more of them.
    if (snapshot.metadata.index < opened.snapshot.index) {
      throw new Error(
        `snapshot files end at ${snapshot.metadata.index} but the WAL starts after ${opened.snapshot.index}`,
      );
    }
    assert(storage.applySnapshot(snapshot).ok, 'a fresh storage accepts any snapshot');
  } else {
    assert(opened.snapshot.index === 0, 'the WAL names a snapshot whose file is missing');
  }
  // A snapshot is committed state by definition. A crash between persisting a snapshot from
  // the leader and the hard state that came with it leaves a stale commit in the WAL; raft
  // refuses a commit below its snapshot, so lift it.
  const snapshotIndex = snapshot?.metadata.index ?? 0;
  let hardState: HardState = opened.hardState;
  if (hardState.commit < snapshotIndex) {
    hardState = { ...hardState, commit: asLogIndex(snapshotIndex) };
  }
  // Likewise its term: a vote in that term that was not persisted was never sent either.
  if (snapshot !== null && hardState.term < snapshot.metadata.term) {
    hardState = { ...hardState, term: snapshot.metadata.term, vote: NO_MEMBER };
  }
  if (hardState.term > 0) storage.setHardState(hardState);
  storage.append(opened.entries);
  return {
    storage,
    wal: opened.wal,
    snapshotter,
    snapshot,
    hardState,
    founders,
    fresh,
  };
}

function foundingConfState(ids: readonly bigint[]): ConfState {
  const voters: MemberId[] = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(asMemberId);
  return { voters, learners: [] };
}

function encodeMetadata(options: OpenRaftStorageOptions): Uint8Array {
  const founders = [...options.initialCluster]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((member) => ({
      id: member.id.toString(16),
      name: member.name,
      peerUrls: member.peerUrls,
    }));
  assert(
    founders.some((member) => member.id === options.memberId.toString(16)),
    'this member is one of the founders',
  );
  const metadata: WalMetadata = {
    version: 1,
    memberId: options.memberId.toString(16),
    clusterId: options.clusterId.toString(16),
    founders,
  };
  return new TextEncoder().encode(JSON.stringify(metadata));
}

function decodeMetadata(bytes: Uint8Array): WalMetadata {
  const metadata = JSON.parse(new TextDecoder().decode(bytes)) as WalMetadata;
  if (metadata.version !== 1 || !Array.isArray(metadata.founders)) {
    throw new Error('WAL metadata is not a Sigil member record');
  }
  return metadata;
}
