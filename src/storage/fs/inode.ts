/**
 * One file of the FaultyFileSystem: the bytes as of the last sync, the unsynced operations
 * since, and the current bytes (durable + unsynced) that reads see. Kept apart so that a crash
 * can replay any prefix of the unsynced operations onto the durable bytes.
 */
import { assert, type Random } from '../../base/index.ts';

export type InodeOperation =
  | { readonly kind: 'write'; readonly position: number; readonly data: Uint8Array }
  | { readonly kind: 'truncate'; readonly sizeBytes: number };

/** A byte array with spare capacity, so appends do not copy the whole file each time. */
export class GrowableBytes {
  bytes: Uint8Array;
  size: number;

  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.bytes = initial.slice();
    this.size = initial.length;
  }

  resize(sizeBytes: number): void {
    assert(sizeBytes >= 0, 'resize: negative size');
    if (sizeBytes > this.bytes.length) {
      const grown = new Uint8Array(Math.max(sizeBytes, this.bytes.length * 2, 64));
      grown.set(this.bytes.subarray(0, this.size));
      this.bytes = grown;
    } else if (sizeBytes < this.size) {
      // Bytes past the new end must read as zeros if the file grows again.
      this.bytes.fill(0, sizeBytes, this.size);
    }
    this.size = sizeBytes;
  }

  apply(operation: InodeOperation): void {
    if (operation.kind === 'truncate') {
      this.resize(operation.sizeBytes);
      return;
    }
    const end = operation.position + operation.data.length;
    if (end > this.size) this.resize(end);
    this.bytes.set(operation.data, operation.position);
  }

  snapshot(): Uint8Array {
    return this.bytes.slice(0, this.size);
  }
}

export class Inode {
  durable: Uint8Array = new Uint8Array(0);
  pending: InodeOperation[] = [];
  current = new GrowableBytes();

  write(data: Uint8Array, position: number): void {
    const operation: InodeOperation = { kind: 'write', position, data };
    this.pending.push(operation);
    this.current.apply(operation);
  }

  truncate(sizeBytes: number): void {
    const operation: InodeOperation = { kind: 'truncate', sizeBytes };
    this.pending.push(operation);
    this.current.apply(operation);
  }

  sync(): void {
    if (this.pending.length === 0) return;
    this.durable = this.current.snapshot();
    this.pending = [];
  }

  /** Keeps the first `kept` unsynced operations; with `tornWith`, a random prefix of the next
   *  write survives too (a torn write). Everything else is lost. */
  crash(kept: number, tornWith: Random | null): void {
    assert(kept >= 0 && kept <= this.pending.length, 'crash: kept out of range');
    const survivor = new GrowableBytes(this.durable);
    for (let i = 0; i < kept; i++) survivor.apply(this.pending[i]);
    const next = this.pending[kept];
    if (tornWith !== null && next !== undefined && next.kind === 'write' && next.data.length > 1) {
      const prefix = next.data.subarray(0, tornWith.int(next.data.length));
      if (prefix.length > 0)
        survivor.apply({ kind: 'write', position: next.position, data: prefix });
    }
    this.durable = survivor.snapshot();
    this.current = survivor;
    this.pending = [];
  }

  flipBit(offset: number, bit: number): void {
    assert(offset >= 0 && offset < this.current.size, 'flipBit: offset beyond end of file');
    this.current.bytes[offset] ^= 1 << bit;
    if (offset < this.durable.length) this.durable[offset] ^= 1 << bit;
    for (const operation of this.pending) {
      const inside = operation.kind === 'write' && offset >= operation.position;
      if (inside && offset < operation.position + operation.data.length) {
        operation.data[offset - operation.position] ^= 1 << bit;
      }
    }
  }
}
