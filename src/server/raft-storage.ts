/**
 * Opening a member's raft state from disk: a fresh bootstrap (create the WAL; a founder of a new
 * cluster then writes the committed add-voter entries 1..n, see membership-bootstrap.ts; a
 * joiner starts empty) or a restart (newest snapshot file + the WAL after it), turned into the
 * MemoryLogStorage raft reads.
 *
 * WALs written before the configuration moved into the log (metadata version 1) carry the
 * founders in their metadata; they still open, with the founders as the configuration at
 * index 0.
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
  BackendSpool,
  createWal,
  openWal,
  snapDirectory,
  Snapshotter,
  walDirectory,
  walExists,
  type FileSystem,
  type Wal,
} from '../storage/index.ts';
import {
  bootstrapEntries,
  encodeWalMetadata,
  type FoundingMember,
  type WalMetadataV2,
} from './membership-bootstrap.ts';
import type { Member } from './server-api.ts';

export type { FoundingMember };

interface WalMetadataV1 {
  readonly version: 1;
  readonly memberId: string;
  readonly clusterId: string;
  readonly founders: readonly { id: string; name: string; peerUrls: readonly string[] }[];
}

type WalMetadata = WalMetadataV1 | WalMetadataV2;

export interface OpenRaftStorageOptions {
  readonly fs: FileSystem;
  readonly dataDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly initialCluster: readonly FoundingMember[];
  readonly initialClusterState: 'new' | 'existing';
  readonly walSegmentBytes?: number;
  /** How the WAL writer lets appenders join the next batch (default: none beyond a
   *  microtask, see below); the simulator passes its own scheduler so no real event-loop turn
   *  decides the order. */
  readonly yieldToAppenders?: () => Promise<void>;
}

/** The raft loop is the WAL's only appender and awaits each save before taking the next
 *  Ready, so waiting a whole event-loop turn for other appenders to join a batch never grouped
 *  anything; it only put a loop turn (under load, every pending socket callback) on every
 *  fsync's path. Many proposals already share one save: they share one Ready. */
const noWaitForAppenders = (): Promise<void> => Promise.resolve();

export interface RaftStorageState {
  readonly storage: MemoryLogStorage;
  readonly wal: Wal;
  readonly snapshotter: Snapshotter;
  /** Backend data received with a leader's snapshot, durable before raft sees the snapshot. */
  readonly spool: BackendSpool;
  readonly snapshot: Snapshot | null;
  readonly hardState: HardState;
  /** The founding members of a version-1 WAL (from its metadata); empty for later WALs, whose
   *  member records come from applying the log's conf changes. */
  readonly founders: readonly Member[];
  readonly fresh: boolean;
}

export async function openRaftStorage(options: OpenRaftStorageOptions): Promise<RaftStorageState> {
  const { fs, dataDir } = options;
  const snapshotter = new Snapshotter(fs, snapDirectory(dataDir));
  const directory = walDirectory(dataDir);
  const walOptions = {
    ...(options.walSegmentBytes === undefined ? {} : { segmentBytes: options.walSegmentBytes }),
    yieldToAppenders: options.yieldToAppenders ?? noWaitForAppenders,
  };
  const fresh = !(await walExists(fs, directory));
  if (fresh) {
    assert(
      options.initialCluster.some((member) => member.id === options.memberId),
      'this member is in its initial cluster',
    );
  }
  if (fresh) {
    const created = await createWal(
      fs,
      directory,
      encodeWalMetadata(options.memberId, options.clusterId),
      walOptions,
    );
    await created.wal.close();
  }
  let opened = await openWal(fs, directory, walOptions);
  const metadata = decodeMetadata(opened.metadata);
  // A founder writes its bootstrap entries right after creating the WAL; a crash in between
  // leaves an empty WAL, which gets them on the next start (with the same flags, the same bytes).
  const empty =
    opened.entries.length === 0 && opened.snapshot.index === 0 && opened.hardState.term === 0;
  if (metadata.version === 2 && empty && options.initialClusterState === 'new') {
    // Written through a WAL of its own that never yields: nothing else appends yet, and an
    // injected scheduler (the simulator's) only runs once the member has started.
    await opened.wal.close();
    const writer = await openWal(fs, directory, {
      ...walOptions,
      yieldToAppenders: () => Promise.resolve(),
    });
    const bootstrap = bootstrapEntries(options.initialCluster);
    await writer.wal.save(bootstrap.hardState, bootstrap.entries);
    await writer.wal.close();
    opened = await openWal(fs, directory, walOptions);
  }
  if (BigInt(`0x${metadata.memberId}`) !== options.memberId) {
    throw new Error(
      `data dir ${dataDir} belongs to member ${metadata.memberId}, not ${options.memberId.toString(16)}`,
    );
  }
  if (BigInt(`0x${metadata.clusterId}`) !== options.clusterId) {
    throw new Error(`data dir ${dataDir} belongs to cluster ${metadata.clusterId}`);
  }
  const founders: Member[] = (metadata.version === 1 ? metadata.founders : []).map((founder) => ({
    id: BigInt(`0x${founder.id}`),
    name: founder.name,
    peerUrls: founder.peerUrls,
    clientUrls: [],
    isLearner: false,
  }));
  const storage = new MemoryLogStorage(foundingConfState(founders.map((member) => member.id)));
  // (Version 2: the configuration at index 0 is empty; entries 1..n or a snapshot set it.)
  const snapshot = await snapshotter.loadNewest();
  if (snapshot !== null) {
    // The WAL's entries start right after its own snapshot marker; a newer snapshot file
    // (a crash between writing it and recording it in the WAL) only covers more of them.
    if (snapshot.metadata.index < opened.snapshot.index) {
      throw new Error(
        `snapshot files end at ${snapshot.metadata.index} but the WAL starts after ${opened.snapshot.index}`,
      );
    }
    // Raft needs the metadata only (a MsgSnap's data is the backend, streamed when sent); a
    // snapshot file of the older layout also holds the whole backend, which stays out of memory.
    const metadataOnly = { metadata: snapshot.metadata, data: new Uint8Array(0) };
    assert(storage.applySnapshot(metadataOnly).ok, 'a fresh storage accepts any snapshot');
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
    spool: new BackendSpool(fs, snapDirectory(dataDir)),
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

function decodeMetadata(bytes: Uint8Array): WalMetadata {
  const metadata = JSON.parse(new TextDecoder().decode(bytes)) as WalMetadata;
  const known =
    (metadata.version === 1 && Array.isArray(metadata.founders)) || metadata.version === 2;
  if (!known || typeof metadata.memberId !== 'string' || typeof metadata.clusterId !== 'string') {
    throw new Error('WAL metadata is not a Sigil member record');
  }
  return metadata;
}
