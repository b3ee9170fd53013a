/** The public surface of the lessor. */
export {
  Lessor,
  LEASE_TTL_MAX_SECONDS,
  type LessorOptions,
  type LeaseTimeToLive,
} from './lessor.ts';
export { LeaseError, isLeaseError, type LeaseErrorCode } from './lease-errors.ts';
export {
  LEASE_ID_MIN,
  LEASE_ID_MAX,
  isValidLeaseId,
  encodeLeaseId,
  decodeLeaseId,
} from './lease-codec.ts';
