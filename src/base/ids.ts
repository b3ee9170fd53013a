/**
 * Branded identifiers, so that a term can never be passed where a log index is expected.
 * Terms, indexes and revisions stay far below 2^53 in any real cluster; member ids are 64-bit
 * hashes (as in etcd) and so are bigints.
 */
declare const brand: unique symbol;
type Brand<T, Name extends string> = T & { readonly [brand]: Name };

export type Term = Brand<number, 'Term'>;
export type LogIndex = Brand<number, 'LogIndex'>;
export type Revision = Brand<number, 'Revision'>;
export type MemberId = Brand<bigint, 'MemberId'>;

export const asTerm = (value: number): Term => value as Term;
export const asLogIndex = (value: number): LogIndex => value as LogIndex;
export const asRevision = (value: number): Revision => value as Revision;
export const asMemberId = (value: bigint): MemberId => value as MemberId;

/** etcd prints member ids as lowercase hex without leading zeros. */
export const formatMemberId = (id: MemberId): string => id.toString(16);
