/**
 * How a member's raft log begins, the way etcd begins it.
 *
 * - A founder of a new cluster (`--initial-cluster-state new`) writes one committed
 *   `add-voter` conf-change entry per initial member at indexes 1..n, term 1, ordered by member
 *   id, each carrying the member's record (id, name, peer URLs) as its context, with hard state
 *   {term 1, vote none, commit n}. Every founder writes the same bytes, and they are applied
 *   like any later conf change, so a member that joins later and replays the log from index 1
 *   rebuilds the same configuration (ARCHITECTURE §9, FINDINGS §4).
 * - A joiner (`existing`) starts with an empty log and learns everything from the leader.
 * - A member seeded from a backup (`seedMemberDataDir`, used by `sigilctl snapshot restore`)
 *   starts from a raft snapshot of the restored backend whose ConfState names the new members.
 */
import { asLogIndex, asMemberId, asTerm } from '../base/index.ts';
import {
  encodeConfChange,
  NO_MEMBER,
  type ConfState,
  type Entry,
  type HardState,
} from '../raft/index.ts';
import {
  Snapshotter,
  createWal,
  snapDirectory,
  walDirectory,
  walExists,
} from '../storage/index.ts';
import type { Backend, FileSystem } from '../storage/index.ts';
import { deleteMember, readMembers, writeMember } from './cluster-store.ts';
import { encodeMembershipContext } from './membership-change.ts';
import type { Member } from './server-api.ts';

export interface FoundingMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
}

/** What the WAL's metadata record holds (version 2: the configuration lives in the log). */
export interface WalMetadataV2 {
  readonly version: 2;
  readonly memberId: string;
  readonly clusterId: string;
}

const byId = (a: { id: bigint }, b: { id: bigint }): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export function encodeWalMetadata(memberId: bigint, clusterId: bigint): Uint8Array {
  const metadata: WalMetadataV2 = {
    version: 2,
    memberId: memberId.toString(16),
    clusterId: clusterId.toString(16),
  };
  return new TextEncoder().encode(JSON.stringify(metadata));
}

function founderRecord(founder: FoundingMember): Member {
  return {
    id: founder.id,
    name: founder.name,
    peerUrls: [...founder.peerUrls],
    clientUrls: [],
    isLearner: false,
  };
}

/** The entries 1..n and hard state every founder of a new cluster starts from. */
export function bootstrapEntries(founders: readonly FoundingMember[]): {
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
} {
  const sorted = [...founders].sort(byId);
  const entries: Entry[] = sorted.map((founder, i) => ({
    term: asTerm(1),
    index: asLogIndex(i + 1),
    type: 'conf-change',
    data: encodeConfChange({
      type: 'add-voter',
      memberId: asMemberId(founder.id),
      context: encodeMembershipContext({
        action: 'bootstrap',
        requestId: 0n,
        member: founderRecord(founder),
      }),
    }),
  }));
  const hardState: HardState = {
    term: asTerm(1),
    vote: NO_MEMBER,
    commit: asLogIndex(entries.length),
  };
  return { entries, hardState };
}

export interface SeedMemberOptions {
  readonly fs: FileSystem;
  readonly dataDir: string;
  /** The member whose data dir this is; one of `members`. */
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The new cluster's voters (their names and peer URLs; client URLs are published later). */
  readonly members: readonly FoundingMember[];
  /** The member's backend, already holding the restored data; its member list is replaced. */
  readonly backend: Backend;
  readonly walSegmentBytes?: number;
}

/**
 * Makes `dataDir` the data dir of a fresh member of a new cluster whose state is what
 * `backend` holds (etcd's `snapshot restore`). Afterwards the dir holds:
 * - the backend with the member list replaced by `members` (removed-member records and alarms
 *   cleared) and a consistent index S ≥ 1 (the backend's own, or 1 if it had none);
 * - `member/snap/`: a raft snapshot at index S, term 1, ConfState {voters: members}, whose data
 *   is the backend's full state;
 * - `member/wal/`: metadata {memberId, clusterId}, a snapshot marker (S, 1) and hard state
 *   {term 1, commit S}.
 * Every member seeded from the same backend state gets the same S, so the cluster starts with
 * one agreed log prefix; members added later receive the snapshot from the leader.
 */
export async function seedMemberDataDir(options: SeedMemberOptions): Promise<void> {
  const { fs, dataDir, backend } = options;
  if (!options.members.some((member) => member.id === options.memberId)) {
    throw new Error(`member ${options.memberId.toString(16)} is not one of the seeded members`);
  }
  const wal = walDirectory(dataDir);
  if (await walExists(fs, wal)) throw new Error(`${dataDir} already holds a member's WAL`);
  const rewrite = (writer: Parameters<typeof writeMember>[0]): void => {
    for (const old of readMembers(writer)) deleteMember(writer, old.id);
    for (const bucket of ['membersRemoved', 'alarm'] as const) {
      for (const { key } of writer.range(bucket, new Uint8Array(0), undefined)) {
        writer.delete(bucket, key);
      }
    }
    for (const member of options.members) writeMember(writer, founderRecord(member));
  };
  const existingIndex = backend.consistentIndex();
  if (existingIndex > 0) backend.write(rewrite);
  else backend.write(rewrite, 1);
  const index = asLogIndex(Math.max(existingIndex, 1));
  await backend.sync();
  const chunks: Uint8Array[] = [];
  for await (const chunk of backend.snapshot()) chunks.push(chunk);
  const data = concat(chunks);
  const confState: ConfState = {
    voters: [...options.members].sort(byId).map((member) => asMemberId(member.id)),
    learners: [],
  };
  const term = asTerm(1);
  await new Snapshotter(fs, snapDirectory(dataDir)).save({
    metadata: { index, term, confState },
    data,
  });
  const opened = await createWal(
    fs,
    wal,
    encodeWalMetadata(options.memberId, options.clusterId),
    options.walSegmentBytes === undefined ? {} : { segmentBytes: options.walSegmentBytes },
  );
  await opened.wal.saveSnapshot({ index, term });
  await opened.wal.save({ term, vote: NO_MEMBER, commit: index }, []);
  await opened.wal.close();
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
