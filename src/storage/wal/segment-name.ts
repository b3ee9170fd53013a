/**
 * Segment file names, etcd's layout: `%016x-%016x.wal` = sequence number, then the index of the
 * first entry the segment was opened for (the last index written + 1 at the cut).
 */
import { assert, asLogIndex, type LogIndex } from '../../base/index.ts';

export interface SegmentName {
  readonly sequence: number;
  readonly firstIndex: LogIndex;
}

const pattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
/** Where the next segment is prepared (preallocated) before it gets its final name. */
export const spareSegmentName = 'segment.tmp';

export function formatSegmentName(name: SegmentName): string {
  assert(Number.isSafeInteger(name.sequence) && name.sequence >= 0, 'bad segment sequence');
  assert(Number.isSafeInteger(name.firstIndex) && name.firstIndex >= 0, 'bad segment index');
  const hex = (value: number): string => value.toString(16).padStart(16, '0');
  return `${hex(name.sequence)}-${hex(name.firstIndex)}.wal`;
}

export function parseSegmentName(fileName: string): SegmentName | null {
  const match = pattern.exec(fileName);
  if (match === null) return null;
  const sequence = Number.parseInt(match[1], 16);
  const firstIndex = Number.parseInt(match[2], 16);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(firstIndex)) return null;
  return { sequence, firstIndex: asLogIndex(firstIndex) };
}

/** The segment names in a directory listing, in sequence order. */
export function listSegments(fileNames: readonly string[]): SegmentName[] {
  const names: SegmentName[] = [];
  for (const fileName of fileNames) {
    const name = parseSegmentName(fileName);
    if (name !== null) names.push(name);
  }
  return names.sort((left, right) => left.sequence - right.sequence);
}
