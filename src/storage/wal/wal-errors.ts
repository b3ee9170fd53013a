/** Errors the WAL reports. Corruption is never skipped: it names the file and offset and the
 *  member must stop (an operator decides what to do), per docs/ARCHITECTURE.md §4. */
export class WalCorruptError extends Error {
  override readonly name = 'WalCorruptError';
  readonly code = 'EWALCORRUPT';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt record in ${file} at offset ${offset}: ${reason}`);
  }
}

/** The WAL failed a write or fsync earlier; durability can no longer be promised. */
export class WalFailedError extends Error {
  override readonly name = 'WalFailedError';
  readonly code: string;
  constructor(readonly cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(`wal: unusable after an I/O failure: ${String((cause as Error)?.message ?? cause)}`);
    this.code = typeof code === 'string' ? code : 'EWALFAILED';
  }
}
