import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  HpackDecoder,
  HpackEncoder,
  HpackError,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  STATIC_NAME_INDEX,
  STATIC_PAIR_INDEX,
  STATIC_NAMES,
  STATIC_VALUES,
} from '../../src/http2/hpack/index.js';

const require = createRequire(import.meta.url);

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decodeAll(dec: HpackDecoder, block: Uint8Array): { headers: string[]; size: number } {
  const headers: string[] = [];
  const size = dec.decode(block, 0, block.length, headers);
  return { headers, size };
}

function listSize(h: string[]): number {
  let n = 0;
  for (let i = 0; i < h.length; i += 2) n += h[i]!.length + h[i + 1]!.length + 32;
  return n;
}

// ---------------------------------------------------------------------------
// Huffman

test('huffman: RFC 7541 C.4 / C.6 strings', () => {
  const cases: Array<[string, string]> = [
    ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
    ['no-cache', 'a8eb 1064 9cbf'],
    ['custom-key', '25a8 49e9 5ba9 7d7f'],
    ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
    ['302', '6402'],
    ['private', 'aec3 771a 4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
    ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
    ['307', '640e ff'],
    ['gzip', '9bd9 ab'],
    [
      'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
      '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  ];
  for (const [plain, enc] of cases) {
    const bytes = hex(enc);
    assert.equal(huffmanEncodedLength(plain), bytes.length, plain);
    const out = Buffer.alloc(bytes.length + 4);
    const end = huffmanEncode(plain, out, 2);
    assert.equal(end, 2 + bytes.length);
    assert.deepEqual(out.subarray(2, end), bytes, plain);
    assert.equal(huffmanDecode(bytes, 0, bytes.length), plain);
  }
});

test('huffman: all 256 octets round-trip and match hpack.js code table', () => {
  const ref = require('hpack.js/lib/hpack/huffman.js') as { encode: Array<[number, number]> };
  let all = '';
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  for (let i = 0; i < 256; i++) {
    const one = String.fromCharCode(i);
    const buf = Buffer.alloc(8);
    const n = huffmanEncode(one, buf, 0);
    assert.equal(n, Math.ceil(ref.encode[i]![0] / 8));
    assert.equal(huffmanDecode(buf, 0, n), one);
  }
  for (const s of [all, all.split('').reverse().join(''), '', 'a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']) {
    const buf = Buffer.alloc(huffmanEncodedLength(s));
    assert.equal(huffmanEncode(s, buf, 0), buf.length);
    assert.equal(huffmanDecode(buf, 0, buf.length), s);
  }
});

test('huffman: decode errors (§5.2)', () => {
  // EOS (30 one-bits) inside the string.
  assert.throws(() => huffmanDecode(hex('ffffffff'), 0, 4), HpackError);
  assert.throws(() => huffmanDecode(hex('1fffffffff'), 0, 5), HpackError);
  // Padding longer than 7 bits: 'a' (00011) + 11 ones.
  assert.throws(() => huffmanDecode(hex('1fff'), 0, 2), HpackError);
  // A lone 0xff octet is 8 bits of padding.
  assert.throws(() => huffmanDecode(hex('ff'), 0, 1), HpackError);
  // Padding that is not a prefix of EOS: 'a' + 000.
  assert.throws(() => huffmanDecode(hex('18'), 0, 1), HpackError);
  // Valid: 'a' + 111.
  assert.equal(huffmanDecode(hex('1f'), 0, 1), 'a');
});

// ---------------------------------------------------------------------------
// Static table

test('static table: 61 entries and lookup maps', () => {
  assert.equal(STATIC_NAMES.length, 62);
  assert.equal(STATIC_NAMES[1], ':authority');
  assert.equal(STATIC_NAMES[61], 'www-authenticate');
  assert.equal(STATIC_VALUES[16], 'gzip, deflate');
  assert.equal(STATIC_NAME_INDEX.get(':status'), 8);
  assert.equal(STATIC_PAIR_INDEX.get(':status\u0000404'), 13);
  assert.equal(STATIC_PAIR_INDEX.get(':method\u0000POST'), 3);
  const ref = require('hpack.js/lib/hpack/static-table.js') as { table: Array<{ name: string; value: string }> };
  assert.equal(ref.table.length, 61);
  for (let i = 0; i < 61; i++) {
    assert.equal(STATIC_NAMES[i + 1], ref.table[i]!.name);
    assert.equal(STATIC_VALUES[i + 1], ref.table[i]!.value);
  }
});

// ---------------------------------------------------------------------------
// RFC 7541 Appendix C vectors

test('C.2.1 literal with indexing', () => {
  const dec = new HpackDecoder();
  const r = decodeAll(dec, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
  assert.deepEqual(r.headers, ['custom-key', 'custom-header']);
  assert.equal(r.size, 55);
  assert.deepEqual(dec.tableEntries(), ['custom-key', 'custom-header']);
  assert.equal(dec.tableSize, 55);
});

test('C.2.2 literal without indexing', () => {
  const dec = new HpackDecoder();
  const r = decodeAll(dec, hex('040c 2f73 616d 706c 652f 7061 7468'));
  assert.deepEqual(r.headers, [':path', '/sample/path']);
  assert.equal(dec.tableLength, 0);
});

test('C.2.3 literal never indexed', () => {
  const dec = new HpackDecoder();
  const r = decodeAll(dec, hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
  assert.deepEqual(r.headers, ['password', 'secret']);
  assert.equal(dec.tableLength, 0);
});

test('C.2.4 indexed field', () => {
  const dec = new HpackDecoder();
  const r = decodeAll(dec, hex('82'));
  assert.deepEqual(r.headers, [':method', 'GET']);
  assert.equal(dec.tableLength, 0);
});

interface Step {
  wire: string;
  headers: string[];
  table: string[];
  size: number;
}

const REQUESTS: Array<Omit<Step, 'wire'>> = [
  {
    headers: [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'],
    table: [':authority', 'www.example.com'],
    size: 57,
  },
  {
    headers: [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com', 'cache-control', 'no-cache'],
    table: ['cache-control', 'no-cache', ':authority', 'www.example.com'],
    size: 110,
  },
  {
    headers: [
      ':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com',
      'custom-key', 'custom-value',
    ],
    table: ['custom-key', 'custom-value', 'cache-control', 'no-cache', ':authority', 'www.example.com'],
    size: 164,
  },
];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

const RESPONSES: Array<Omit<Step, 'wire'>> = [
  {
    headers: [':status', '302', 'cache-control', 'private', 'date', DATE1, 'location', LOC],
    table: ['location', LOC, 'date', DATE1, 'cache-control', 'private', ':status', '302'],
    size: 222,
  },
  {
    headers: [':status', '307', 'cache-control', 'private', 'date', DATE1, 'location', LOC],
    table: [':status', '307', 'location', LOC, 'date', DATE1, 'cache-control', 'private'],
    size: 222,
  },
  {
    headers: [
      ':status', '200', 'cache-control', 'private', 'date', DATE2, 'location', LOC,
      'content-encoding', 'gzip', 'set-cookie', COOKIE,
    ],
    table: ['set-cookie', COOKIE, 'content-encoding', 'gzip', 'date', DATE2],
    size: 215,
  },
];

const C3 = [
  '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
];
const C4 = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
];
const C5 = [
  '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '4803 3330 37c1 c0bf',
  '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
];
const C6 = [
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
  '4883 640e ffc1 c0bf',
  '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
];

/** Dynamic table size update (§6.3) octets for `n`. */
function sizeUpdate(n: number): Buffer {
  if (n < 31) return Buffer.from([0x20 | n]);
  const out = [0x3f];
  let v = n - 31;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function runDecodeSequence(wires: string[], steps: Array<Omit<Step, 'wire'>>, tableSize: number): void {
  const dec = new HpackDecoder(tableSize);
  if (tableSize !== 4096) {
    // Mirror the peer having announced the smaller table via a size update.
    decodeAll(dec, sizeUpdate(tableSize));
  }
  for (let i = 0; i < wires.length; i++) {
    const r = decodeAll(dec, hex(wires[i]!));
    assert.deepEqual(r.headers, steps[i]!.headers, `block ${i + 1}`);
    assert.equal(r.size, listSize(steps[i]!.headers));
    assert.deepEqual(dec.tableEntries(), steps[i]!.table, `table after block ${i + 1}`);
    assert.equal(dec.tableSize, steps[i]!.size, `table size after block ${i + 1}`);
  }
}

function runEncodeSequence(steps: Array<Omit<Step, 'wire'>>, tableSize: number, expectWires?: string[]): void {
  const enc = new HpackEncoder(tableSize);
  const dec = new HpackDecoder(4096);
  const ref = newRefDecoder(4096);
  for (let i = 0; i < steps.length; i++) {
    const block = Buffer.from(enc.encode(steps[i]!.headers));
    if (expectWires) assert.deepEqual(block.toString('hex'), hex(expectWires[i]!).toString('hex'), `block ${i + 1}`);
    assert.deepEqual(decodeAll(dec, block).headers, steps[i]!.headers);
    assert.deepEqual(ref(block), steps[i]!.headers);
    assert.equal(dec.tableSize, enc.tableSize);
    assert.equal(dec.tableMaxSize, Math.min(tableSize, 4096));
  }
}

interface RefDecompressor {
  write(b: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
}
function newRefDecoder(size: number): (b: Buffer) => string[] {
  const hpack = require('hpack.js') as { decompressor: { create(o: unknown): RefDecompressor } };
  const d = hpack.decompressor.create({ table: { maxSize: size } });
  return (b) => {
    d.write(b);
    d.execute();
    const out: string[] = [];
    for (let h = d.read(); h !== null; h = d.read()) out.push(h.name, h.value);
    return out;
  };
}

test('C.3 requests without Huffman', () => runDecodeSequence(C3, REQUESTS, 4096));
test('C.4 requests with Huffman', () => runDecodeSequence(C4, REQUESTS, 4096));
test('C.5 responses without Huffman (table size 256, evictions)', () => runDecodeSequence(C5, RESPONSES, 256));
test('C.6 responses with Huffman (table size 256, evictions)', () => runDecodeSequence(C6, RESPONSES, 256));

test('encoder reproduces C.4 byte-for-byte', () => runEncodeSequence(REQUESTS, 4096, C4));
test('encoder round-trips the C.5/C.6 responses with a 256-octet table', () => runEncodeSequence(RESPONSES, 256));
test('encoder round-trips the C.3 requests with a 256-octet table', () => runEncodeSequence(REQUESTS, 256));

// ---------------------------------------------------------------------------
// Encoder policy

function reprs(block: Buffer): string[] {
  // Classify representations in a block using a decoder-like walk (names only need the kind).
  const kinds: string[] = [];
  let p = 0;
  const readInt = (mask: number): number => {
    let v = block[p++]! & mask;
    if (v === mask) {
      let m = 1;
      for (;;) {
        const c = block[p++]!;
        v += (c & 0x7f) * m;
        m *= 128;
        if ((c & 0x80) === 0) break;
      }
    }
    return v;
  };
  const skipStr = (): void => {
    const len = readInt(0x7f);
    p += len;
  };
  while (p < block.length) {
    const b = block[p]!;
    if (b & 0x80) {
      kinds.push('indexed:' + readInt(0x7f));
    } else if (b & 0x40) {
      const i = readInt(0x3f);
      if (i === 0) skipStr();
      skipStr();
      kinds.push('incremental:' + i);
    } else if (b & 0x20) {
      kinds.push('size:' + readInt(0x1f));
    } else {
      const never = (b & 0x10) !== 0;
      const i = readInt(0x0f);
      if (i === 0) skipStr();
      skipStr();
      kinds.push((never ? 'never:' : 'literal:') + i);
    }
  }
  return kinds;
}

test('encoder policy: sensitive, non-indexed and indexed fields', () => {
  const enc = new HpackEncoder();
  const h = [
    ':method', 'POST',
    ':path', '/pkg.Svc/Method',
    'authorization', 'Bearer abc',
    'cookie', 'a=1',
    'cookie', 'session=0123456789abcdef0123',
    'set-cookie', 'x=y',
    'content-length', '12',
    'x-request-id', 'r-1',
    ':path', '/' + 'x'.repeat(100),
    'x-custom', 'v',
  ];
  const k1 = reprs(Buffer.from(enc.encode(h)));
  assert.deepEqual(k1, [
    'indexed:3',
    'incremental:4',
    'never:23',
    'never:32',
    'incremental:32',
    'never:55',
    'literal:28',
    'incremental:0', // per-request name in no table: inserted once for its name
    'literal:4',
    'incremental:0',
  ]);
  const h2 = h.slice();
  h2[13] = '13';
  h2[15] = 'r-2';
  const block2 = Buffer.from(enc.encode(h2));
  // Block 1 inserted :path (now 65), the long cookie (64), x-request-id (63) and x-custom (62).
  assert.deepEqual(reprs(block2), [
    'indexed:3',
    'indexed:65',
    'never:23',
    'never:32',
    'indexed:64',
    'never:55',
    'literal:28',
    'literal:63',
    'literal:4',
    'indexed:62',
  ]);
  assert.equal(enc.tableLength, 4);
  const out: string[] = [];
  const dec = new HpackDecoder();
  const enc2 = new HpackEncoder();
  const b1 = Buffer.from(enc2.encode(h));
  const b2 = Buffer.from(enc2.encode(h2));
  dec.decode(b1, 0, b1.length, out);
  dec.decode(b2, 0, b2.length, out);
  assert.deepEqual(out, [...h, ...h2]);
});

test('encoder: entries larger than 3/4 of the table are not indexed', () => {
  const enc = new HpackEncoder(256);
  const big = 'v'.repeat(200);
  const block = Buffer.from(enc.encode(['x-big', big]));
  const kinds = reprs(block);
  assert.deepEqual(kinds, ['size:256', 'literal:0']);
  assert.equal(enc.tableLength, 0);
});

test('encoder: table size updates including shrink-then-grow', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const ref = newRefDecoder(4096);
  const h = ['x-a', 'one', 'x-b', 'two'];
  const roundTrip = (expectKinds?: string[]): void => {
    const block = Buffer.from(enc.encode(h));
    if (expectKinds) assert.deepEqual(reprs(block).filter((k) => k.startsWith('size:')), expectKinds);
    const out: string[] = [];
    dec.decode(block, 0, block.length, out);
    assert.deepEqual(out, h);
    assert.deepEqual(ref(block), h);
    assert.equal(enc.tableSize, dec.tableSize);
  };
  roundTrip([]);
  assert.equal(enc.tableLength, 2);
  enc.setPeerMaxTableSize(0);
  enc.setPeerMaxTableSize(4096);
  roundTrip(['size:0', 'size:4096']);
  enc.setPeerMaxTableSize(100);
  roundTrip(['size:100']);
  assert.ok(enc.tableSize <= 100);
  enc.setPeerMaxTableSize(2000);
  enc.setPeerMaxTableSize(50);
  enc.setPeerMaxTableSize(1000);
  roundTrip(['size:50', 'size:1000']);
  enc.setPeerMaxTableSize(1 << 20); // capped at our own 4096
  roundTrip(['size:4096']);
  enc.setPeerMaxTableSize(8192); // still 4096: no update
  roundTrip([]);
});

test('encoder: own cap below 4096 is announced in the first block', () => {
  const enc = new HpackEncoder(1024);
  const kinds = reprs(Buffer.from(enc.encode([':method', 'GET'])));
  assert.deepEqual(kinds, ['size:1024', 'indexed:2']);
  assert.deepEqual(reprs(Buffer.from(enc.encode([':method', 'GET']))), ['indexed:2']);
  const zero = new HpackEncoder(0);
  const dec = new HpackDecoder();
  for (let i = 0; i < 3; i++) {
    const b = Buffer.from(zero.encode(['x-a', 'b', ':authority', 'example.com']));
    const out: string[] = [];
    dec.decode(b, 0, b.length, out);
    assert.deepEqual(out, ['x-a', 'b', ':authority', 'example.com']);
    assert.equal(dec.tableLength, 0);
  }
});

test('encoder: from/to slices and scratch reuse', () => {
  const enc = new HpackEncoder();
  const h = ['a', '1', 'b', '2', 'c', '3'];
  const block = Buffer.from(enc.encode(h, 2, 4));
  const out: string[] = [];
  new HpackDecoder().decode(block, 0, block.length, out);
  assert.deepEqual(out, ['b', '2']);
  assert.throws(() => enc.encode(h, 0, 3), RangeError);
  // A large list forces the scratch buffer to grow.
  const big: string[] = [];
  for (let i = 0; i < 200; i++) big.push('x-h' + i, 'v'.repeat(i * 7));
  const b2 = Buffer.from(enc.encode(big));
  const dec = new HpackDecoder();
  dec.decode(block, 0, block.length, []);
  const out2: string[] = [];
  const size = dec.decode(b2, 0, b2.length, out2);
  assert.deepEqual(out2, big);
  assert.equal(size, listSize(big));
});

test('decoder: accepts plain Uint8Array and sub-ranges', () => {
  const wire = hex('ffff 8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d ffff');
  const u8 = new Uint8Array(wire);
  const out: string[] = [];
  new HpackDecoder().decode(u8, 2, u8.length - 2, out);
  assert.deepEqual(out, REQUESTS[0]!.headers);
});

test('decoder: latin1 bytes round-trip (0x00-0xff)', () => {
  let v = '';
  for (let i = 0; i < 256; i++) v += String.fromCharCode(i);
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  for (let k = 0; k < 3; k++) {
    const b = enc.encode(['x-bin', v, 'x-hi', '\u00e9\u00ff\u0080']);
    const out: string[] = [];
    dec.decode(b, 0, b.length, out);
    assert.deepEqual(out, ['x-bin', v, 'x-hi', '\u00e9\u00ff\u0080']);
  }
});

// ---------------------------------------------------------------------------
// Error cases

function expectHpackError(block: Buffer | number[], dec = new HpackDecoder(), msg?: RegExp): void {
  const b = Buffer.isBuffer(block) ? block : Buffer.from(block);
  assert.throws(
    () => dec.decode(b, 0, b.length, []),
    (e: unknown) => {
      assert.ok(e instanceof HpackError, `expected HpackError, got ${String(e)}`);
      assert.equal(e.code, 'SWY_ERR_HPACK');
      assert.equal(e.http2ErrorCode, 0x9);
      if (msg) assert.match(e.message, msg);
      return true;
    },
  );
}

test('errors: integer overflow and over-long integers', () => {
  expectHpackError([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], undefined, /overflow/);
  expectHpackError([0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], undefined, /too long/);
  expectHpackError([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], undefined, /too long/);
  // String length overflowing.
  expectHpackError([0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  // Largest accepted integer is 2^31 - 1; an index that big is simply out of range.
  expectHpackError([0xff, 0x80, 0xff, 0xff, 0xff, 0x07], undefined, /out of range/);
});

test('errors: truncated integer / string / field', () => {
  expectHpackError([0xff], undefined, /truncated/);
  expectHpackError([0xff, 0x81], undefined, /truncated/);
  expectHpackError([0x40, 0x0a, 0x63, 0x75], undefined, /past end/);
  expectHpackError([0x04], undefined, /truncated/);
  expectHpackError([0x40], undefined, /truncated/);
  expectHpackError([0x40, 0x01, 0x61], undefined, /truncated/);
  expectHpackError([0x04, 0x85, 0xff], undefined, /past end/);
});

test('errors: index 0 and index out of range', () => {
  expectHpackError([0x80], undefined, /index 0/);
  expectHpackError([0xbe], undefined, /out of range/); // 62 with empty table
  expectHpackError([0x7f, 0x00, 0x01, 0x61], undefined, /out of range/); // name index 63
  expectHpackError([0x0f, 0x2f, 0x01, 0x61], undefined, /out of range/); // name index 62
  const dec = new HpackDecoder();
  dec.decode(Buffer.from([0x40, 0x01, 0x61, 0x01, 0x62]), 0, 5, []);
  const out: string[] = [];
  dec.decode(Buffer.from([0xbe]), 0, 1, out);
  assert.deepEqual(out, ['a', 'b']);
  expectHpackError([0xbf], dec, /out of range/);
});

test('errors: dynamic table size update above the limit / not at block start', () => {
  // 4096 is fine, 4097 is not.
  const ok = new HpackDecoder();
  ok.decode(Buffer.from([0x3f, 0xe1, 0x1f]), 0, 3, []);
  assert.equal(ok.tableMaxSize, 4096);
  expectHpackError([0x3f, 0xe2, 0x1f], undefined, /above limit/);
  expectHpackError([0x3f, 0xe1, 0x0f], new HpackDecoder(100), /above limit/);
  // Updates after a field are not allowed; several at the start are.
  expectHpackError([0x82, 0x20], undefined, /after header field/);
  const two = new HpackDecoder();
  const out: string[] = [];
  two.decode(Buffer.from([0x20, 0x3f, 0x11, 0x82]), 0, 4, out);
  assert.deepEqual(out, [':method', 'GET']);
  assert.equal(two.tableMaxSize, 48);
});

test('errors: lowered limit requires a size update at the start of the next block', () => {
  const dec = new HpackDecoder();
  dec.decode(Buffer.from([0x40, 0x01, 0x61, 0x01, 0x62]), 0, 5, []);
  dec.setMaxTableSizeLimit(1024);
  expectHpackError([0x82], dec, /expected dynamic table size update/);
  const dec2 = new HpackDecoder();
  dec2.setMaxTableSizeLimit(1024);
  const out: string[] = [];
  dec2.decode(Buffer.from([0x3f, 0xe1, 0x07, 0x82]), 0, 4, out); // 1024
  assert.deepEqual(out, [':method', 'GET']);
  dec2.decode(Buffer.from([0x82]), 0, 1, out);
  expectHpackError([0x3f, 0xe2, 0x07], dec2, /above limit/); // 1025
  // Raising the limit does not require an update.
  const dec3 = new HpackDecoder();
  dec3.setMaxTableSizeLimit(8192);
  dec3.decode(Buffer.from([0x82]), 0, 1, []);
});

test('errors: bad Huffman in header blocks', () => {
  expectHpackError([0x04, 0x84, 0xff, 0xff, 0xff, 0xff], undefined, /EOS/);
  expectHpackError([0x04, 0x82, 0x1f, 0xff], undefined, /padding/);
  expectHpackError([0x04, 0x81, 0x18], undefined, /padding/);
  expectHpackError([0x00, 0x81, 0x18, 0x00], undefined, /padding/);
});

test('decoder returns header list size and keeps decoding large blocks', () => {
  const enc = new HpackEncoder();
  const h: string[] = [];
  for (let i = 0; i < 100; i++) h.push('x-n' + i, 'y'.repeat(1000));
  const b = Buffer.from(enc.encode(h));
  const out: string[] = [];
  const dec = new HpackDecoder();
  assert.equal(dec.decode(b, 0, b.length, out), listSize(h));
  assert.equal(out.length, 200);
});

test('decoder: table starts at 4096 until the lowered limit is acknowledged', () => {
  const dec = new HpackDecoder(100);
  assert.equal(dec.tableMaxSize, 4096);
  // Before our SETTINGS is applied the peer may fill a 4096-octet table.
  const enc = new HpackEncoder();
  const h = ['x-one', 'a'.repeat(60), 'x-two', 'b'.repeat(60)];
  const b1 = Buffer.from(enc.encode(h));
  const out: string[] = [];
  dec.decode(b1, 0, b1.length, out);
  assert.equal(dec.tableLength, 2);
  // SETTINGS acknowledged: the next block must start with a size update <= 100.
  dec.setMaxTableSizeLimit(100);
  enc.setPeerMaxTableSize(100);
  expectHpackError([0x82], dec, /expected dynamic table size update/);
  const dec2 = new HpackDecoder(100);
  const enc2 = new HpackEncoder();
  const first = Buffer.from(enc2.encode(h));
  dec2.decode(first, 0, first.length, []);
  dec2.setMaxTableSizeLimit(100);
  enc2.setPeerMaxTableSize(100);
  const b2 = Buffer.from(enc2.encode(h));
  const out2: string[] = [];
  dec2.decode(b2, 0, b2.length, out2);
  assert.deepEqual(out2, h);
  assert.equal(dec2.tableMaxSize, 100);
  assert.equal(dec2.tableSize, enc2.tableSize);
});
