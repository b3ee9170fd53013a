/**
 * HPACK (RFC 7541) for the client port's HTTP/2 server: reading the header blocks a client
 * sends, with the same dynamic-table state as the client's encoder, and writing responses in a
 * form that leaves the receiver's dynamic table untouched.
 *
 * The decoder takes every representation (indexed, the three literal forms, table size updates)
 * and Huffman-coded strings. The encoder writes static-table references and literals without
 * indexing (never-indexed fields stay never-indexed) and no Huffman coding: nothing it writes
 * enters a dynamic table, so its output is understood by any decoder in any state.
 *
 * Header names and values are handled as latin1 strings: HPACK strings are octets, and latin1
 * maps each octet to one UTF-16 unit and back without loss.
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS, STATIC_TABLE } from './hpack-tables.ts';

export interface HeaderField {
  readonly name: string;
  readonly value: string;
  /** Sent as "never indexed" (RFC 7541 §6.2.3): intermediaries must keep it that way. */
  readonly sensitive: boolean;
}

/** A malformed block: HTTP/2 makes this a connection error (COMPRESSION_ERROR). */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

/** Per entry, the size RFC 7541 §4.1 charges on top of name and value. */
const ENTRY_OVERHEAD_BYTES = 32;
/** Longer integers than this cannot be a real length or index (and would lose precision). */
const INTEGER_MAX = 2 ** 31 - 1;

/** The Huffman code as a binary trie: node n's children sit at [2n] (bit 0) and [2n + 1]
 *  (bit 1); a negative entry -1 - s is the leaf of byte s, 0 a code that does not exist. */
const HUFFMAN_TRIE = buildHuffmanTrie();

function buildHuffmanTrie(): Int32Array {
  const trie: number[] = [0, 0];
  for (let symbol = 0; symbol < 256; symbol++) {
    const code = HUFFMAN_CODES[symbol];
    let node = 0;
    for (let bit = HUFFMAN_LENGTHS[symbol] - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (bit === 0) {
        if (trie[slot] !== 0) throw new Error(`Huffman table: code of ${symbol} is not unique`);
        trie[slot] = -1 - symbol;
        break;
      }
      if (trie[slot] < 0) throw new Error(`Huffman table: a code is a prefix of ${symbol}'s`);
      if (trie[slot] === 0) {
        trie[slot] = trie.length / 2;
        trie.push(0, 0);
      }
      node = trie[slot];
    }
  }
  return Int32Array.from(trie);
}

export function huffmanDecode(bytes: Uint8Array): string {
  const out = Buffer.allocUnsafe(Math.ceil((bytes.length * 8) / 5));
  let length = 0;
  let node = 0;
  let pendingBits = 0;
  let pendingAllOnes = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >>> bit) & 1;
      const next = HUFFMAN_TRIE[2 * node + one];
      if (next < 0) {
        out[length++] = -1 - next;
        node = 0;
        pendingBits = 0;
        pendingAllOnes = true;
      } else if (next === 0) {
        // Only EOS (30 ones) runs off the trie; a string must never contain it (§5.2).
        throw new HpackError('Huffman string contains EOS or an invalid code');
      } else {
        node = next;
        pendingBits++;
        pendingAllOnes &&= one === 1;
      }
    }
  }
  // Padding is the most significant bits of EOS (all ones), shorter than one byte (§5.2).
  if (pendingBits > 7 || !pendingAllOnes) throw new HpackError('invalid Huffman padding');
  return out.toString('latin1', 0, length);
}

/** One direction of one connection: the dynamic table a peer's encoder fills. */
export class HpackDecoder {
  /** Newest first, so HPACK index 62 is entries[0]. */
  private entries: [string, string][] = [];
  private tableBytes = 0;
  private tableLimit: number;

  /** `maxTableBytes`: the SETTINGS_HEADER_TABLE_SIZE this side announced (4096 by default). */
  constructor(private readonly maxTableBytes = 4096) {
    this.tableLimit = maxTableBytes;
  }

  /** Bytes the dynamic table holds now (RFC 7541 §4.1 accounting). */
  get dynamicTableBytes(): number {
    return this.tableBytes;
  }

  /**
   * `maxListBytes` bounds the decoded list (RFC 9113 §6.5.2 accounting, 32 bytes per field on
   * top of name and value): a small block can name a large table entry many times over.
   */
  decode(block: Uint8Array, maxListBytes = Number.POSITIVE_INFINITY): HeaderField[] {
    const reader = new BlockReader(block);
    const fields: HeaderField[] = [];
    let listBytes = 0;
    const add = (field: HeaderField): void => {
      listBytes += field.name.length + field.value.length + ENTRY_OVERHEAD_BYTES;
      if (listBytes > maxListBytes) throw new HpackError('header list too large');
      fields.push(field);
    };
    let fieldSeen = false;
    while (!reader.done) {
      const first = reader.peek();
      if ((first & 0x80) !== 0) {
        const [name, value] = this.entry(reader.integer(7));
        add({ name, value, sensitive: false });
        fieldSeen = true;
      } else if ((first & 0xe0) === 0x20) {
        // A size update must come before the block's first field (§4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const limit = reader.integer(5);
        if (limit > this.maxTableBytes) throw new HpackError('dynamic table size over the limit');
        this.tableLimit = limit;
        this.evictTo(limit);
      } else {
        const indexed = (first & 0xc0) === 0x40;
        const sensitive = (first & 0xf0) === 0x10;
        const nameIndex = reader.integer(indexed ? 6 : 4);
        const name = nameIndex === 0 ? reader.string() : this.entry(nameIndex)[0];
        const value = reader.string();
        add({ name, value, sensitive });
        if (indexed) this.insert(name, value);
        fieldSeen = true;
      }
    }
    return fields;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('header index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const entry = this.entries[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`header index ${index} is not in the table`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD_BYTES;
    // An entry larger than the table empties it and is not added (§4.4).
    this.evictTo(Math.max(0, this.tableLimit - size));
    if (size > this.tableLimit) return;
    this.entries.unshift([name, value]);
    this.tableBytes += size;
  }

  private evictTo(limit: number): void {
    while (this.tableBytes > limit) {
      const [name, value] = this.entries.pop()!;
      this.tableBytes -= name.length + value.length + ENTRY_OVERHEAD_BYTES;
    }
  }
}

class BlockReader {
  private at = 0;

  constructor(private readonly block: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.block.length;
  }

  peek(): number {
    return this.block[this.at];
  }

  /** An integer with an N-bit prefix (§5.1). */
  integer(prefixBits: number): number {
    if (this.done) throw new HpackError('truncated integer');
    const mask = (1 << prefixBits) - 1;
    let value = this.block[this.at++] & mask;
    if (value < mask) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.done) throw new HpackError('truncated integer');
      const byte = this.block[this.at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (value > INTEGER_MAX) throw new HpackError('integer too large');
      if ((byte & 0x80) === 0) return value;
    }
  }

  /** A string literal (§5.2), Huffman-coded or raw. */
  string(): string {
    if (this.done) throw new HpackError('truncated string');
    const huffman = (this.peek() & 0x80) !== 0;
    const length = this.integer(7);
    if (this.at + length > this.block.length) throw new HpackError('truncated string');
    const bytes = this.block.subarray(this.at, this.at + length);
    this.at += length;
    return huffman ? huffmanDecode(bytes) : Buffer.from(bytes).toString('latin1');
  }
}

/** HPACK index of each static (name, value) pair, and of the first entry of each name. */
const STATIC_PAIRS = new Map<string, number>();
const STATIC_NAMES = new Map<string, number>();
for (const [i, [name, value]] of STATIC_TABLE.entries()) {
  STATIC_PAIRS.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAMES.has(name)) STATIC_NAMES.set(name, i + 1);
}

/** A header block that uses only the static table (see the file comment). */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const { name, value, sensitive } of fields) {
    const exact = sensitive ? undefined : STATIC_PAIRS.get(`${name}\0${value}`);
    if (exact !== undefined) {
      writeInteger(out, 0x80, 7, exact);
      continue;
    }
    // Literal without indexing (0000) or never indexed (0001), with an indexed or new name.
    const nameIndex = STATIC_NAMES.get(name) ?? 0;
    writeInteger(out, sensitive ? 0x10 : 0x00, 4, nameIndex);
    if (nameIndex === 0) writeString(out, name);
    writeString(out, value);
  }
  return Uint8Array.from(out);
}

function writeInteger(out: number[], flags: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function writeString(out: number[], text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  writeInteger(out, 0x00, 7, bytes.length);
  for (const byte of bytes) out.push(byte);
}
