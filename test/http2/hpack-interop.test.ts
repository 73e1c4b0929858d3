import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { HpackDecoder, HpackEncoder } from '../../src/http2/hpack/index.js';
import { mulberry32 } from '../helpers/engine-frames.js';

const require = createRequire(import.meta.url);

interface RefHeader {
  name: string;
  value: string;
  huffman?: boolean;
  neverIndex?: boolean;
}
interface RefCompressor {
  write(headers: RefHeader[]): void;
  read(): Buffer | null;
  _table: { updateSize(n: number): void };
}
interface RefDecompressor {
  write(b: Buffer): void;
  execute(): void;
  read(): RefHeader | null;
}
const hpack = require('hpack.js') as {
  compressor: { create(o: unknown): RefCompressor };
  decompressor: { create(o: unknown): RefDecompressor };
};

const NAME_POOL = [
  ':method', ':scheme', ':path', ':authority', ':status', 'accept', 'accept-encoding', 'accept-language',
  'authorization', 'cache-control', 'content-length', 'content-type', 'cookie', 'date', 'etag', 'host',
  'if-modified-since', 'location', 'set-cookie', 'user-agent', 'via', 'www-authenticate', 'te',
  'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-status', 'grpc-message', 'x-request-id',
  'traceparent', 'x-forwarded-for', 'x-envoy-upstream', 'x-custom-a', 'x-custom-b', 'x-tenant',
];
const VALUE_POOL = ['GET', 'POST', '/', '/index.html', 'http', 'https', '200', '404', 'gzip, deflate', 'trailers', 'application/grpc', ''];

class Gen {
  readonly rnd: () => number;
  private readonly extraNames: string[] = [];
  private readonly seen: string[] = [];
  constructor(seed: number, private readonly hiBytes = false) {
    this.rnd = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  randomString(len: number, lo: number, hi: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(lo + this.int(hi - lo + 1));
    return s;
  }
  name(): string {
    const r = this.rnd();
    if (r < 0.7) return NAME_POOL[this.int(NAME_POOL.length)]!;
    if (r < 0.9 && this.extraNames.length > 0) return this.extraNames[this.int(this.extraNames.length)]!;
    let n = 'x-';
    const len = 1 + this.int(20);
    for (let i = 0; i < len; i++) n += 'abcdefghijklmnopqrstuvwxyz0123456789-'[this.int(37)];
    this.extraNames.push(n);
    if (this.extraNames.length > 50) this.extraNames.shift();
    return n;
  }
  value(): string {
    const r = this.rnd();
    let v: string;
    if (r < 0.1) v = '';
    else if (r < 0.4 && this.seen.length > 0) return this.seen[this.int(this.seen.length)]!;
    else if (r < 0.5) v = VALUE_POOL[this.int(VALUE_POOL.length)]!;
    else if (r < 0.55) v = this.randomString(100 + this.int(200), 0x20, 0x7e);
    else if (this.hiBytes && r < 0.65) v = this.randomString(1 + this.int(40), 0x00, 0xff);
    else v = this.randomString(1 + this.int(30), 0x20, 0x7e);
    this.seen.push(v);
    if (this.seen.length > 40) this.seen.shift();
    return v;
  }
  headers(): string[] {
    const n = this.int(16);
    const h: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = this.name();
      // Repeat whole earlier pairs fairly often.
      h.push(name, this.value());
    }
    return h;
  }
}

function refEncode(c: RefCompressor, h: string[], rnd: () => number): Buffer {
  const list: RefHeader[] = [];
  for (let i = 0; i < h.length; i += 2) {
    list.push({ name: h[i]!, value: h[i + 1]!, huffman: rnd() < 0.8, neverIndex: rnd() < 0.05 });
  }
  c.write(list);
  return c.read() ?? Buffer.alloc(0);
}

function refDecode(d: RefDecompressor, b: Buffer): string[] {
  d.write(b);
  d.execute();
  const out: string[] = [];
  for (let h = d.read(); h !== null; h = d.read()) out.push(h.name, h.value);
  return out;
}

const N = 10_000;

test(`interop: our encoder -> hpack.js decoder, ${N} blocks, persistent table`, () => {
  const gen = new Gen(0x5eed1);
  const enc = new HpackEncoder();
  const ref = hpack.decompressor.create({ table: { maxSize: 4096 } });
  const ours = new HpackDecoder();
  let totalIn = 0;
  let totalOut = 0;
  for (let i = 0; i < N; i++) {
    const h = gen.headers();
    const block = Buffer.from(enc.encode(h));
    assert.deepEqual(refDecode(ref, block), h, `block ${i}`);
    const out: string[] = [];
    ours.decode(block, 0, block.length, out);
    assert.deepEqual(out, h, `block ${i} (own decoder)`);
    assert.equal(ours.tableSize, enc.tableSize);
    for (const s of h) totalIn += s.length;
    totalOut += block.length;
  }
  assert.ok(totalOut < totalIn, 'compression should be effective');
});

test(`interop: hpack.js encoder -> our decoder, ${N} blocks, persistent table`, () => {
  const gen = new Gen(0xc0ffee);
  const c = hpack.compressor.create({ table: { maxSize: 4096 } });
  const dec = new HpackDecoder();
  for (let i = 0; i < N; i++) {
    const h = gen.headers();
    const block = refEncode(c, h, gen.rnd);
    const out: string[] = [];
    const size = dec.decode(block, 0, block.length, out);
    assert.deepEqual(out, h, `block ${i}`);
    let expect = 0;
    for (let k = 0; k < h.length; k += 2) expect += h[k]!.length + h[k + 1]!.length + 32;
    assert.equal(size, expect);
  }
});

test('interop: latin1 bytes 0x00-0xff both ways', () => {
  const gen = new Gen(77, true);
  const enc = new HpackEncoder();
  const ref = hpack.decompressor.create({ table: { maxSize: 4096 } });
  const c = hpack.compressor.create({ table: { maxSize: 4096 } });
  const dec = new HpackDecoder();
  for (let i = 0; i < 2000; i++) {
    const h = gen.headers();
    assert.deepEqual(refDecode(ref, Buffer.from(enc.encode(h))), h);
    const out: string[] = [];
    const b = refEncode(c, h, gen.rnd);
    dec.decode(b, 0, b.length, out);
    assert.deepEqual(out, h);
  }
});

test('interop: table size changes mid-sequence (down to 0 and back up)', () => {
  const gen = new Gen(4242);
  const sizes = [4096, 0, 4096, 256, 1024, 0, 0, 2048, 64, 4096];
  // Our encoder -> hpack.js decoder and our decoder.
  {
    const enc = new HpackEncoder();
    const ref = hpack.decompressor.create({ table: { maxSize: 4096 } });
    const dec = new HpackDecoder();
    for (let i = 0; i < 3000; i++) {
      if (i % 100 === 50) {
        const s = sizes[(i / 100) % sizes.length | 0]!;
        enc.setPeerMaxTableSize(s);
        if (gen.rnd() < 0.5) {
          // Sometimes shrink to zero and come back before the next block.
          enc.setPeerMaxTableSize(0);
          enc.setPeerMaxTableSize(s);
        }
      }
      const h = gen.headers();
      const block = Buffer.from(enc.encode(h));
      assert.deepEqual(refDecode(ref, block), h, `block ${i}`);
      const out: string[] = [];
      dec.decode(block, 0, block.length, out);
      assert.deepEqual(out, h, `block ${i} (own decoder)`);
      assert.equal(dec.tableSize, enc.tableSize);
      assert.equal(dec.tableMaxSize, enc.tableMaxSize);
    }
  }
  // hpack.js encoder -> our decoder. hpack.js does not emit the update itself,
  // so the size update octets are prepended by hand.
  {
    const c = hpack.compressor.create({ table: { maxSize: 4096 } });
    const dec = new HpackDecoder();
    for (let i = 0; i < 3000; i++) {
      let prefix: number[] = [];
      if (i % 100 === 50) {
        const s = sizes[(i / 100) % sizes.length | 0]!;
        c._table.updateSize(s);
        prefix = s < 31 ? [0x20 | s] : [0x3f, ...varint(s - 31)];
        if (s < 4096) {
          // Exercise the "lowered SETTINGS limit" path on our side too.
          dec.setMaxTableSizeLimit(s);
        } else {
          dec.setMaxTableSizeLimit(4096);
        }
      }
      const h = gen.headers();
      const block = Buffer.concat([Buffer.from(prefix), refEncode(c, h, gen.rnd)]);
      const out: string[] = [];
      dec.decode(block, 0, block.length, out);
      assert.deepEqual(out, h, `block ${i}`);
    }
  }
});

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
