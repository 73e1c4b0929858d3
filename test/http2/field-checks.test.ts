/**
 * The HPACK decoder marks a header block whose every field is known to pass
 * the character rules of RFC 9113 §8.2.1 (static table entries, dynamic
 * entries checked when added, literals checked now or when first decoded),
 * and the message rules skip their scan for it. These tests pin down that a
 * malformed field is still found however it is encoded: a fresh literal, a
 * later reference to the dynamic entry it was added as, a repeated Huffman
 * literal answered from the decoder's memo, or the same octets in another role.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/http2/constants.js';
import { cleanName, invalidValue } from '../../src/http2/field-syntax.js';
import {
  HpackDecoder, STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES, huffmanEncode, huffmanEncodedLength,
} from '../../src/http2/hpack/index.js';
import { startEngineTestServer } from '../helpers/engine-test-server.js';
import { RawH2Client, getRequest, headers, hpackIndexed, hpackInsert, hpackLiteral } from '../helpers/raw-h2.js';

/** A Huffman-coded string literal (RFC 7541 §5.2), its length under 127. */
function huffman(s: string): Buffer {
  const b = Buffer.alloc(1 + huffmanEncodedLength(s));
  b[0] = 0x80 | (b.length - 1);
  huffmanEncode(s, b, 1);
  return b;
}

/** Literal without indexing, new name (§6.2.2), both strings Huffman-coded. */
const huffmanField = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x00]), huffman(name), huffman(value)]);
/** Literal without indexing, name from static entry 58 user-agent (§6.2.2, 4-bit prefix 15 + 43), value Huffman-coded. */
const userAgent = (value: string): Buffer => Buffer.concat([Buffer.from([0x0f, 43]), huffman(value)]);

function decode(dec: HpackDecoder, block: Buffer): string[] {
  const out: string[] = [];
  dec.decode(block, 0, block.length, out);
  return out;
}

test('every static table entry passes the field character rules (the decoder trusts them unscanned)', () => {
  for (let i = 1; i <= STATIC_TABLE_LENGTH; i++) {
    assert.ok(cleanName(STATIC_NAMES[i]!), STATIC_NAMES[i]);
    assert.ok(!invalidValue(STATIC_VALUES[i]!), STATIC_VALUES[i]);
  }
});

test('the decoder marks a block checked only while every field passes, memo hits and dynamic references included', () => {
  const dec = new HpackDecoder();
  // :method GET, :path /, then a static-name literal: all pass.
  decode(dec, Buffer.concat([Buffer.from([0x82, 0x84]), userAgent('curl/8')]));
  assert.equal(dec.checked, true);
  // A malformed value, twice: the second time it comes from the memo.
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(decode(dec, Buffer.concat([Buffer.from([0x82]), huffmanField('x-a', 'v\r\nx')])), [':method', 'GET', 'x-a', 'v\r\nx']);
    assert.equal(dec.checked, false, `pass ${i}`);
  }
  // The same octets first as a value (fine), then as a name (uppercase: not a token).
  decode(dec, userAgent('Abc'));
  assert.equal(dec.checked, true);
  decode(dec, huffmanField('Abc', '1'));
  assert.equal(dec.checked, false);
  decode(dec, userAgent('Abc'));
  assert.equal(dec.checked, true);
  // Added to the dynamic table malformed, then referenced alone by index (62 = newest).
  decode(dec, hpackInsert('x-b', ' lead'));
  assert.equal(dec.checked, false);
  assert.deepEqual(decode(dec, Buffer.concat([Buffer.from([0x82]), hpackIndexed(62)])), [':method', 'GET', 'x-b', ' lead']);
  assert.equal(dec.checked, false);
  decode(dec, hpackInsert('x-c', 'fine'));
  assert.equal(dec.checked, true);
  assert.deepEqual(decode(dec, hpackIndexed(62)), ['x-c', 'fine']);
  assert.equal(dec.checked, true);
  // The malformed entry, one older now, still marks the block.
  decode(dec, hpackIndexed(63));
  assert.equal(dec.checked, false);
});

test('a malformed field in the dynamic table is rejected every time a request references it', { timeout: 10_000 }, async (t) => {
  const server = await startEngineTestServer();
  const c = await RawH2Client.connect(server.port);
  t.after(async () => {
    c.destroy();
    await server.close();
  });
  const base = hpackLiteral(getRequest('/'));
  const cases: Array<[string, Buffer, number]> = [
    // [what, header block, expected RST code or 0 for a 200 response]
    ['a CRLF value added to the table', Buffer.concat([base, hpackInsert('x-a', 'v\r\nx-injected: 1')]), ErrorCode.PROTOCOL_ERROR],
    ['that entry referenced by index', Buffer.concat([base, hpackIndexed(62)]), ErrorCode.PROTOCOL_ERROR],
    ['an uppercase name added to the table', Buffer.concat([base, hpackInsert('X-Up', '1')]), ErrorCode.PROTOCOL_ERROR],
    ['that entry referenced by index', Buffer.concat([base, hpackIndexed(62)]), ErrorCode.PROTOCOL_ERROR],
    ['the CRLF entry, now second', Buffer.concat([base, hpackIndexed(63)]), ErrorCode.PROTOCOL_ERROR],
    ['a well-formed field added to the table', Buffer.concat([base, hpackInsert('x-ok', '1')]), 0],
    ['that entry referenced by index', Buffer.concat([base, hpackIndexed(62)]), 0],
  ];
  const failures: string[] = [];
  for (const [what, block, code] of cases) {
    const id = c.streamId();
    c.write(headers(id, block, true));
    const f = await c.waitFrame((x) => x.streamId === id, what);
    const got = f.type === 3 ? f.payload.readUInt32BE(0) : 0;
    if (got !== code) failures.push(`${what}: frame type ${f.type}, code ${got}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(c.resetsReceived(ErrorCode.PROTOCOL_ERROR), 5);
  assert.equal(c.closed, false);
});
