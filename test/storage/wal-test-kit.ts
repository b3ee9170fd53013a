/** Shared helpers for the storage tests: entries, hard states, a fresh faulty disk. */
import { asLogIndex, asMemberId, asTerm, SeededRandom } from '../../src/base/index.ts';
import type { Entry, HardState } from '../../src/raft/types.ts';
import { FaultyFileSystem } from '../../src/storage/fs/index.ts';

export const walDir = '/data/member/wal';
export const smallSegmentBytes = 4096;
export const metadata = new Uint8Array([1, 2, 3, 4]);

export function makeEntry(index: number, term = 1, size = 10): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i) & 0xff;
  return { index: asLogIndex(index), term: asTerm(term), type: 'normal', data };
}

export function makeHardState(term: number, commit: number, vote = 0n): HardState {
  return { term: asTerm(term), vote: asMemberId(vote), commit: asLogIndex(commit) };
}

export function faultyDisk(seed = 1): FaultyFileSystem {
  return new FaultyFileSystem(new SeededRandom(seed));
}

/** Lets every queued microtask and one event-loop turn run (e.g. a flush loop to finish). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
