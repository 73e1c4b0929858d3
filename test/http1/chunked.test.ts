/**
 * The chunked transfer coding: every split of the input decodes the same,
 * data arrives without copies, and each framing error that has been used for
 * request smuggling is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, chunkHead, CRLF, LAST_CHUNK, type BodySink } from '../../src/http1/chunked.js';

class Collect implements BodySink {
  parts: Buffer[] = [];
  onBodyData(data: Buffer): void {
    this.parts.push(data);
  }
  text(): string {
    return Buffer.concat(this.parts).toString('latin1');
  }
}

function decodeAll(input: string, splits: number[] = []): { body: string; end: number; d: ChunkedDecoder } {
  const buf = Buffer.from(input, 'latin1');
  const d = new ChunkedDecoder();
  const sink = new Collect();
  const cuts = [0, ...splits, buf.length];
  let end = -1;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const piece = buf.subarray(cuts[k], cuts[k + 1]);
    end = d.decode(piece, 0, sink);
    if (end < 0 || d.done) {
      end = end < 0 ? -1 : cuts[k]! + end;
      break;
    }
    end = cuts[k + 1]!;
  }
  return { body: sink.text(), end, d };
}

const MESSAGE = '5;name=value\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT';

test('decodes chunks, skips extensions and trailers, and stops at the end of the message', () => {
  const { body, end, d } = decodeAll(MESSAGE);
  assert.equal(body, 'helloabcdefghijklmnopqrstuvwxyz');
  assert.equal(d.done, true);
  assert.equal(d.error, undefined);
  assert.equal(MESSAGE.slice(end), 'NEXT');
});

test('every split of the input into two or three pieces gives the same result', () => {
  const n = MESSAGE.length;
  for (let a = 1; a < n; a++) {
    const r = decodeAll(MESSAGE, [a]);
    assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz', `split at ${a}`);
    assert.equal(MESSAGE.slice(r.end), 'NEXT', `split at ${a}`);
    for (let b = a + 1; b < n; b += 7) {
      const r3 = decodeAll(MESSAGE, [a, b]);
      assert.equal(r3.body, 'helloabcdefghijklmnopqrstuvwxyz', `split at ${a},${b}`);
      assert.equal(r3.d.done, true);
    }
  }
});

test('one byte at a time gives the same result', () => {
  const all = Array.from({ length: MESSAGE.length - 1 }, (_, i) => i + 1);
  const r = decodeAll(MESSAGE, all);
  assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz');
  assert.equal(MESSAGE.slice(r.end), 'NEXT');
});

test('chunk data is passed as a view of the input, not a copy', () => {
  const buf = Buffer.from('4\r\nabcd\r\n0\r\n\r\n', 'latin1');
  const sink = new Collect();
  const d = new ChunkedDecoder();
  assert.equal(d.decode(buf, 0, sink), buf.length);
  assert.equal(sink.parts.length, 1);
  assert.equal(sink.parts[0]!.buffer, buf.buffer);
});

test('decodes from the given start offset', () => {
  const buf = Buffer.from('HEAD3\r\nabc\r\n0\r\n\r\n', 'latin1');
  const sink = new Collect();
  const d = new ChunkedDecoder();
  assert.equal(d.decode(buf, 4, sink), buf.length);
  assert.equal(sink.text(), 'abc');
  assert.equal(d.done, true);
});

test('reset() makes the decoder ready for the next message', () => {
  const d = new ChunkedDecoder();
  const sink = new Collect();
  d.decode(Buffer.from('zz'), 0, sink);
  assert.ok(d.error);
  d.reset();
  assert.equal(d.error, undefined);
  const buf = Buffer.from('2\r\nok\r\n0\r\n\r\n');
  assert.equal(d.decode(buf, 0, sink), buf.length);
  assert.equal(d.done, true);
  assert.equal(sink.text(), 'ok');
});

test('accepts upper- and lower-case hex and leading zeros up to sixteen digits', () => {
  assert.equal(decodeAll('000000000000000A\r\n0123456789\r\n0\r\n\r\n').body, '0123456789');
  assert.equal(decodeAll('a\r\n0123456789\r\n0\r\n\r\n').body, '0123456789');
});

const refused: Array<[string, string]> = [
  ['bad hex digit', '5x\r\nhello\r\n0\r\n\r\n'],
  ['empty size', '\r\nhello\r\n0\r\n\r\n'],
  ['negative size', '-5\r\nhello\r\n0\r\n\r\n'],
  ['size prefixed with 0x', '0x5\r\nhello\r\n0\r\n\r\n'],
  ['more than sixteen hex digits', '00000000000000005\r\nhello\r\n0\r\n\r\n'],
  ['size over 2^53', 'fffffffffffffff\r\n'],
  ['size over 2^64', 'ffffffffffffffffff\r\n'],
  ['bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
  ['bare LF after an extension', '5;a=b\nhello\r\n0\r\n\r\n'],
  ['bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
  ['missing CRLF after data', '5\r\nhelloX\r\n0\r\n\r\n'],
  ['LF only after data', '5\r\nhello\n0\r\n\r\n'],
  ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
  ['bare LF in the trailer section', '0\r\nx: 1\n\r\n'],
  ['bare LF ending the message', '0\r\n\n'],
  ['control byte in an extension', '5;a\x00b\r\nhello\r\n0\r\n\r\n'],
];

for (const [name, input] of refused) {
  test(`refuses ${name}, at any split`, () => {
    for (let a = 0; a < input.length; a++) {
      const r = decodeAll(input, a === 0 ? [] : [a]);
      assert.equal(r.end, -1, `split at ${a}`);
      assert.ok(r.d.error, `split at ${a}`);
      assert.equal(r.d.decode(Buffer.from('0\r\n\r\n'), 0, new Collect()), -1, 'stays failed');
    }
  });
}

test('refuses an over-long size/extension line, bounded by the constructor argument', () => {
  const d = new ChunkedDecoder(64);
  assert.equal(d.decode(Buffer.from(`5;${'a'.repeat(100)}\r\nhello\r\n`), 0, new Collect()), -1);
  assert.match(d.error!, /too long/);
  const ok = new ChunkedDecoder(64);
  const buf = Buffer.from(`5;${'a'.repeat(50)}\r\nhello\r\n0\r\n\r\n`);
  assert.equal(ok.decode(buf, 0, new Collect()), buf.length);
});

test('refuses a trailer section without bound', () => {
  const d = new ChunkedDecoder();
  const sink = new Collect();
  assert.equal(d.decode(Buffer.from('0\r\n'), 0, sink), 3);
  let r = 0;
  for (let i = 0; i < 100 && r >= 0; i++) r = d.decode(Buffer.from(`x-pad: ${'p'.repeat(1000)}\r\n`), 0, sink);
  assert.equal(r, -1);
  assert.match(d.error!, /trailer/);
});

class KeepTrailers extends Collect {
  trailers: string[][] = [];
  onTrailers(fields: string[]): void {
    this.trailers.push(fields);
  }
}

test('a sink with onTrailers gets the trailer fields once, names lower-cased and values trimmed, at every split', () => {
  const input = '3\r\nabc\r\n0\r\nGrpc-Status: 0 \r\ngrpc-message:\tok\r\n\r\nNEXT';
  const buf = Buffer.from(input, 'latin1');
  for (let a = 0; a < buf.length - 4; a++) {
    const d = new ChunkedDecoder();
    const sink = new KeepTrailers();
    let end = a === 0 ? -1 : d.decode(buf.subarray(0, a), 0, sink);
    if (!d.done) end = a + d.decode(buf.subarray(a), 0, sink);
    assert.equal(input.slice(end), 'NEXT', `split at ${a}`);
    assert.equal(sink.text(), 'abc');
    assert.deepEqual(sink.trailers, [['grpc-status', '0', 'grpc-message', 'ok']], `split at ${a}`);
  }
  const none = new KeepTrailers();
  new ChunkedDecoder().decode(Buffer.from('0\r\n\r\n'), 0, none);
  assert.deepEqual(none.trailers, [[]]);
});

test('a kept trailer field that is malformed is refused; the same bytes are skipped by a sink without onTrailers', () => {
  for (const line of [' folded: 1', 'no-colon', ': empty-name', 'sp ace: 1', 'nul: a\x00b']) {
    const input = `0\r\n${line}\r\n\r\n`;
    const kept = new ChunkedDecoder();
    assert.equal(kept.decode(Buffer.from(input, 'latin1'), 0, new KeepTrailers()), -1, line);
    assert.match(kept.error!, /trailer/);
    const skipped = new ChunkedDecoder();
    assert.equal(skipped.decode(Buffer.from(input, 'latin1'), 0, new Collect()), input.length, line);
  }
});

test('the encoder pieces round-trip through the decoder', () => {
  const parts = [Buffer.from('a'.repeat(300)), Buffer.from('b'), Buffer.alloc(70000, 0x63)];
  const wire: Buffer[] = [];
  for (const p of parts) wire.push(chunkHead(p.length), p, CRLF);
  wire.push(LAST_CHUNK);
  assert.equal(chunkHead(300).toString(), '12c\r\n');
  assert.equal(LAST_CHUNK.toString(), '0\r\n\r\n');
  const buf = Buffer.concat(wire);
  const sink = new Collect();
  const d = new ChunkedDecoder();
  assert.equal(d.decode(buf, 0, sink), buf.length);
  assert.ok(Buffer.concat(sink.parts).equals(Buffer.concat(parts)));
});
