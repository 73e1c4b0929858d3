import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackEncoder, HpackError, huffmanDecode } from '../../src/http2/hpack/index.js';
import { mulberry32 } from '../helpers/engine-frames.js';

test('fuzz: 5000 random and mutated blocks only return or throw HpackError', () => {
  const rnd = mulberry32(0xf00d);
  const int = (n: number): number => Math.floor(rnd() * n);
  // Corpus of valid blocks to mutate.
  const enc = new HpackEncoder();
  const corpus: Buffer[] = [];
  const names = [':method', ':path', ':authority', 'content-type', 'x-a', 'x-bb', 'cookie', 'set-cookie', 'date'];
  for (let i = 0; i < 200; i++) {
    const h: string[] = [];
    const n = 1 + int(8);
    for (let k = 0; k < n; k++) {
      let v = '';
      const len = int(5) === 0 ? int(200) : int(20);
      for (let j = 0; j < len; j++) v += String.fromCharCode(0x20 + int(95));
      h.push(names[int(names.length)]!, int(3) === 0 ? 'POST' : v);
    }
    if (i % 50 === 25) enc.setPeerMaxTableSize(int(4097));
    corpus.push(Buffer.from(enc.encode(h)));
  }

  let persistent = new HpackDecoder();
  let returned = 0;
  let threw = 0;
  for (let i = 0; i < 5000; i++) {
    let block: Buffer;
    const mode = int(5);
    if (mode === 0) {
      block = Buffer.alloc(int(64));
      for (let k = 0; k < block.length; k++) block[k] = int(256);
    } else {
      block = Buffer.from(corpus[int(corpus.length)]!);
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const kind = int(5);
        if (block.length === 0) break;
        const at = int(block.length);
        if (kind === 0) block[at] = block[at]! ^ (1 << int(8));
        else if (kind === 1) block[at] = int(256);
        else if (kind === 2) block = block.subarray(0, at);
        else if (kind === 3) block = Buffer.concat([block.subarray(0, at), Buffer.from([int(256), int(256)]), block.subarray(at)]);
        else block = Buffer.concat([block, block.subarray(at)]);
      }
    }
    const dec = i % 2 === 0 ? new HpackDecoder(int(3) === 0 ? int(5000) : 4096) : persistent;
    const out: string[] = [];
    try {
      const size = dec.decode(block, 0, block.length, out);
      assert.equal(typeof size, 'number');
      assert.equal(out.length % 2, 0);
      returned++;
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      threw++;
      if (int(4) === 0) persistent = new HpackDecoder();
    }
  }
  assert.equal(returned + threw, 5000);
  assert.ok(returned > 0 && threw > 0, `returned=${returned} threw=${threw}`);
});

test('fuzz: huffmanDecode on random octets only returns or throws HpackError', () => {
  const rnd = mulberry32(99);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(Math.floor(rnd() * 12));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
    try {
      huffmanDecode(b, 0, b.length);
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
    }
  }
});
