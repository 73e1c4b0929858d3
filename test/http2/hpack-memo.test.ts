import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackEncoder } from '../../src/http2/hpack/index.js';

/** The same strings as fresh objects, as a proxy gets them from another connection's decoder. */
function fresh(list: readonly string[]): string[] {
  return list.map((s) => Buffer.from(s, 'latin1').toString('latin1'));
}

function roundTrip(enc: HpackEncoder, dec: HpackDecoder, list: readonly string[]): { block: Buffer; out: string[] } {
  const block = Buffer.from(enc.encode(fresh(list)));
  const out: string[] = [];
  dec.decode(block, 0, block.length, out);
  assert.deepEqual(out, list);
  return { block, out };
}

function decodeOne(dec: HpackDecoder, block: Buffer): string[] {
  const out: string[] = [];
  dec.decode(block, 0, block.length, out);
  return out;
}

const RESPONSE = [
  ':status', '200',
  'server', 'nginx/1.22.1',
  'date', 'Mon, 30 Nov 2026 19:40:01 GMT',
  'content-type', 'text/plain',
  'content-length', '2',
];

test('a repeated header list encodes to the same block as without the memo, and decodes to the same list', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  roundTrip(enc, dec, RESPONSE);
  const steady = roundTrip(enc, dec, RESPONSE).block;
  for (let i = 0; i < 5; i++) assert.deepEqual(roundTrip(enc, dec, RESPONSE).block, steady);
  // An encoder fed one field per block (so its memo never matches) writes the same octets.
  const other = new HpackEncoder();
  const oneByOne = (): Buffer =>
    Buffer.concat(RESPONSE.filter((_, i) => i % 2 === 0).map((_, k) => Buffer.from(other.encode(fresh(RESPONSE), 2 * k, 2 * k + 2))));
  oneByOne();
  assert.deepEqual(oneByOne(), steady);
});

test('a remembered reference to a dynamic entry is not reused once the entry moved or was evicted', () => {
  // A 128-octet table holds about two entries: each new field evicts older ones.
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  enc.setPeerMaxTableSize(128);
  const a = ['x-a', 'alpha', 'x-b', 'beta'];
  roundTrip(enc, dec, a);
  roundTrip(enc, dec, a); // both now indexed from the dynamic table, and remembered
  roundTrip(enc, dec, ['x-c', 'gamma', 'x-d', 'delta']); // evicts x-a and x-b
  roundTrip(enc, dec, a); // must be literals again, not stale indexes
  roundTrip(enc, dec, ['x-e', 'epsilon']); // shifts every index by one
  roundTrip(enc, dec, a);
});

test('a table size change between blocks invalidates the remembered fields', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  roundTrip(enc, dec, RESPONSE);
  roundTrip(enc, dec, RESPONSE);
  enc.setPeerMaxTableSize(0); // empties the table: every dynamic reference is gone
  roundTrip(enc, dec, RESPONSE);
  enc.setPeerMaxTableSize(4096);
  roundTrip(enc, dec, RESPONSE);
  roundTrip(enc, dec, RESPONSE);
});

test('the decoder hands out the same string for the same literal octets, and a new one when they change', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const first = roundTrip(enc, dec, RESPONSE).out;
  const again = roundTrip(enc, dec, RESPONSE).out;
  assert.equal(again[5], 'Mon, 30 Nov 2026 19:40:01 GMT');
  assert.ok(Object.is(first[5], again[5]));
  const later = RESPONSE.slice();
  later[5] = 'Mon, 30 Nov 2026 19:40:02 GMT'; // same length, one octet differs
  assert.equal(roundTrip(enc, dec, later).out[5], 'Mon, 30 Nov 2026 19:40:02 GMT');
  assert.equal(roundTrip(enc, dec, RESPONSE).out[5], 'Mon, 30 Nov 2026 19:40:01 GMT');
});

test('a malformed Huffman literal is still rejected when a valid one of the same length is remembered', () => {
  const dec = new HpackDecoder();
  // Literal without indexing, new name "a", a 2-octet Huffman value ("01": 5 + 5 bits, then padding).
  const good = Buffer.from([0x00, 0x01, 0x61, 0x82, 0x00, 0x7f]);
  const out: string[] = [];
  dec.decode(good, 0, good.length, out);
  assert.deepEqual(out, ['a', '01']);
  // All-ones padding longer than 7 bits is an error (RFC 7541 §5.2).
  const bad = Buffer.from([0x00, 0x01, 0x61, 0x82, 0xff, 0xff]);
  assert.throws(() => dec.decode(bad, 0, bad.length, []));
  assert.deepEqual(decodeOne(dec, good), ['a', '01']);
});
