/**
 * The HPACK codec against RFC 7541's own examples (Appendix C): literal forms, a sequence of
 * requests sharing a dynamic table, with and without Huffman coding, and responses that evict
 * from a 256-byte table. The Huffman table is checked to be a complete prefix code whose codes
 * are the canonical ones for their lengths, as the RFC's code is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeHeaderBlock,
  HpackDecoder,
  HpackError,
  huffmanDecode,
  type HeaderField,
} from '../../src/api/http2/hpack.ts';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../src/api/http2/hpack-tables.ts';

const hex = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const pairs = (fields: readonly HeaderField[]): string[][] =>
  fields.map(({ name, value }) => [name, value]);

const REQUESTS = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const SECOND = [...REQUESTS, ['cache-control', 'no-cache']];
const THIRD = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

describe('HPACK (RFC 7541 Appendix C)', () => {
  it('C.2: the literal representations and an indexed field', () => {
    const decoder = new HpackDecoder();
    const c21 = decoder.decode(
      hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'),
    );
    assert.deepEqual(pairs(c21), [['custom-key', 'custom-header']]);
    assert.equal(decoder.dynamicTableBytes, 55);
    const fresh = new HpackDecoder();
    assert.deepEqual(pairs(fresh.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))), [
      [':path', '/sample/path'],
    ]);
    assert.equal(fresh.dynamicTableBytes, 0, 'without indexing adds nothing');
    const never = fresh.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
    assert.deepEqual(never, [{ name: 'password', value: 'secret', sensitive: true }]);
    assert.deepEqual(pairs(fresh.decode(hex('82'))), [[':method', 'GET']]);
  });

  it('C.3: three requests sharing a dynamic table, without Huffman coding', () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(
      pairs(decoder.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))),
      REQUESTS,
    );
    assert.equal(decoder.dynamicTableBytes, 57);
    assert.deepEqual(pairs(decoder.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'))), SECOND);
    assert.equal(decoder.dynamicTableBytes, 110);
    const third = hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65');
    assert.deepEqual(pairs(decoder.decode(third)), THIRD);
    assert.equal(decoder.dynamicTableBytes, 164);
  });

  it('C.4: the same requests with Huffman coding', () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(
      pairs(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))),
      REQUESTS,
    );
    assert.deepEqual(pairs(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))), SECOND);
    const third = hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf');
    assert.deepEqual(pairs(decoder.decode(third)), THIRD);
    assert.equal(decoder.dynamicTableBytes, 164);
  });

  it('C.6.1: a Huffman-coded response into a 256-byte table', () => {
    const decoder = new HpackDecoder(256);
    const block = hex(
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6' +
        '2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
    );
    assert.deepEqual(pairs(decoder.decode(block)), [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    assert.equal(decoder.dynamicTableBytes, 222);
  });

  it('evicts oldest entries first and empties the table for an oversized entry', () => {
    const decoder = new HpackDecoder(100);
    // Two literal-with-indexing fields of 32 + 1 + 30 = 63 bytes: the second evicts the first.
    const field = (name: string): string =>
      '40' + '01' + Buffer.from(name).toString('hex') + '1e' + '61'.repeat(30);
    decoder.decode(hex(field('a')));
    assert.equal(decoder.dynamicTableBytes, 63);
    assert.deepEqual(pairs(decoder.decode(hex(field('b') + 'be'))), [
      ['b', 'a'.repeat(30)],
      ['b', 'a'.repeat(30)],
    ]);
    assert.throws(() => decoder.decode(hex('bf')), HpackError, 'the first entry was evicted');
    decoder.decode(hex('40 01 63 7f 00' + '61'.repeat(127)));
    assert.equal(decoder.dynamicTableBytes, 0, 'an entry over the limit empties the table');
  });

  it('refuses malformed blocks instead of guessing', () => {
    const bad = [
      'be', // index 62: the dynamic table is empty
      '80', // index 0
      '3fe21f', // size update to 4096 + 1 over a 4096 limit
      '82 20', // size update after a field
      '41 0a 61', // string longer than the block
      '41 81 fe', // Huffman padding longer than 7 bits or not all ones: 0xfe
      '41 84 ff ff ff ff', // EOS inside a string
      'ff ff ff ff ff 0f', // integer overflow
    ];
    for (const block of bad) {
      assert.throws(() => new HpackDecoder().decode(hex(block)), HpackError, block);
    }
  });

  it('the Huffman code is complete, prefix-free and canonical', () => {
    // Kraft's sum over the 256 bytes plus EOS (30 bits) is exactly 1 for a complete code.
    let kraft = 2 ** -30;
    for (const length of HUFFMAN_LENGTHS) kraft += 2 ** -length;
    assert.equal(kraft, 1);
    // Canonical: sorted by (length, symbol), each code is the previous plus one, shifted left
    // when the length grows. Building the decoder's trie already rejected any prefix.
    const order = [...Array(256).keys()].sort(
      (a, b) => HUFFMAN_LENGTHS[a] - HUFFMAN_LENGTHS[b] || a - b,
    );
    let code = 0;
    let length = HUFFMAN_LENGTHS[order[0]];
    for (const [i, symbol] of order.entries()) {
      if (i > 0) {
        code = (code + 1) * 2 ** (HUFFMAN_LENGTHS[symbol] - length);
        length = HUFFMAN_LENGTHS[symbol];
      }
      assert.equal(HUFFMAN_CODES[symbol], code, `code of ${symbol}`);
    }
    // Every byte value decodes back from its code (padded with ones to a byte boundary).
    for (let symbol = 0; symbol < 256; symbol++) {
      const bits = HUFFMAN_CODES[symbol].toString(2).padStart(HUFFMAN_LENGTHS[symbol], '0');
      const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '1');
      const bytes = Uint8Array.from(padded.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
      assert.equal(huffmanDecode(bytes), String.fromCharCode(symbol));
    }
  });

  it('encodes without touching any dynamic table, and decodes back to the same fields', () => {
    const fields: HeaderField[] = [
      { name: ':method', value: 'POST', sensitive: false },
      { name: ':authority', value: '127.0.0.1:2379', sensitive: false },
      { name: ':path', value: '/etcdserverpb.Maintenance/Status', sensitive: false },
      { name: 'content-type', value: 'application/grpc', sensitive: false },
      { name: 'authorization', value: 'token', sensitive: true },
      { name: 'x-long', value: 'v'.repeat(300), sensitive: false },
    ];
    const decoder = new HpackDecoder();
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(decoder.decode(encodeHeaderBlock(fields)), fields);
      assert.equal(decoder.dynamicTableBytes, 0);
    }
    assert.deepEqual(
      [...encodeHeaderBlock([{ name: ':method', value: 'GET', sensitive: false }])],
      [0x82],
    );
  });
});
