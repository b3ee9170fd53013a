/**
 * A PageSink onto a file. The bbolt writer hands pages over in ascending order (the metas come
 * last, at offset 0), so consecutive pages are gathered and written with one positional write
 * per megabyte instead of one per page.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { PageSink } from './bbolt-writer.ts';

const GATHER_BYTES_MAX = 1024 * 1024;

export class FilePageSink implements PageSink {
  private readonly fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** File offset of the first pending byte. */
  private pendingOffset = 0;

  constructor(
    path: string,
    private readonly pageSize: number,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
  }

  write(pageId: number, bytes: Uint8Array): void {
    const offset = pageId * this.pageSize;
    if (this.pendingBytes > 0 && offset !== this.pendingOffset + this.pendingBytes) this.flush();
    if (this.pendingBytes === 0) this.pendingOffset = offset;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= GATHER_BYTES_MAX) this.flush();
  }

  /** Writes what is gathered, optionally fsyncs, and closes the file. */
  close(sync = false): void {
    try {
      this.flush();
      if (sync) fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    let done = 0;
    while (done < joined.length) {
      done += writeSync(this.fd, joined, done, joined.length - done, this.pendingOffset + done);
    }
    this.pending = [];
    this.pendingBytes = 0;
  }
}
