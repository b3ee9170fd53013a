/**
 * Helpers for bbolt tests: a page sink that assembles the file in memory, and a model of a
 * database (nested maps of buckets) that can be written and read back for comparison.
 */
import { compareBytes } from '../../src/base/index.ts';
import {
  BboltReader,
  BboltWriter,
  type BucketBuilder,
  type BucketRef,
  BytesPageSource,
  type FinishedBucket,
  type PageSink,
} from '../../src/backup/index.ts';

export class MemoryPageSink implements PageSink {
  private readonly writes: { pageId: number; bytes: Uint8Array }[] = [];
  readonly order: number[] = [];

  constructor(private readonly pageSize: number) {}

  write(pageId: number, bytes: Uint8Array): void {
    this.writes.push({ pageId, bytes: bytes.slice() });
    this.order.push(pageId);
  }

  toBytes(): Uint8Array {
    const end = Math.max(...this.writes.map((w) => w.pageId * this.pageSize + w.bytes.length));
    const out = new Uint8Array(end);
    for (const { pageId, bytes } of this.writes) out.set(bytes, pageId * this.pageSize);
    return out;
  }
}

/** A bucket's contents: plain values and nested buckets, under distinct keys. */
export interface BucketModel {
  readonly values: ReadonlyMap<string, Uint8Array>;
  readonly buckets: ReadonlyMap<string, BucketModel>;
}

const keyOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

function build(writer: BboltWriter, model: BucketModel, into: BucketBuilder): void {
  const keys = [...model.values.keys(), ...model.buckets.keys()].map(keyOf).sort(compareBytes);
  for (const key of keys) {
    const hex = Buffer.from(key).toString('hex');
    const value = model.values.get(hex);
    if (value !== undefined) into.put(key, value);
    else into.putBucket(key, finishModel(writer, model.buckets.get(hex)!));
  }
}

function finishModel(writer: BboltWriter, model: BucketModel): FinishedBucket {
  const builder = writer.bucket();
  build(writer, model, builder);
  return builder.finish();
}

export function writeModel(
  root: BucketModel,
  options: { pageSize: number; storeFreelist?: boolean },
): Uint8Array {
  const sink = new MemoryPageSink(options.pageSize);
  const writer = new BboltWriter(sink, options);
  const builder = writer.bucket();
  build(writer, root, builder);
  const written = writer.finish(builder);
  const bytes = sink.toBytes();
  if (bytes.length !== written.sizeBytes) throw new Error('sink and writer disagree on size');
  return bytes;
}

export function readModel(bytes: Uint8Array): BucketModel {
  const reader = BboltReader.open(new BytesPageSource(bytes));
  const visited = new Set<number>();
  const read = (bucket: BucketRef): BucketModel => {
    const values = new Map<string, Uint8Array>();
    const buckets = new Map<string, BucketModel>();
    for (const entry of reader.entries(bucket, visited)) {
      const hex = Buffer.from(entry.key).toString('hex');
      if (entry.bucket !== undefined) buckets.set(hex, read(entry.bucket));
      else values.set(hex, entry.value.slice());
    }
    return { values, buckets };
  };
  return read(reader.root());
}
