/** Deterministic ordering of member ids, so traces and quorum math never depend on Map order. */
import type { MemberId } from '../base/index.ts';

export function compareMemberIds(left: MemberId, right: MemberId): number {
  if (left < right) return -1;
  return left > right ? 1 : 0;
}

export function sortedMemberIds(ids: Iterable<MemberId>): MemberId[] {
  return [...ids].sort(compareMemberIds);
}
