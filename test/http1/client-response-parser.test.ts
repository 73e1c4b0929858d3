import assert from 'node:assert/strict';
import test from 'node:test';
import { ResponseParser, type ResponseHandler } from '../../src/http1/response-parser.js';

class Recorder implements ResponseHandler {
  heads: Array<[number, string[]]> = [];
  body: Buffer[] = [];
  ends: string[][] = [];
  onResponseHead(status: number, fields: string[]): void {
    this.heads.push([status, fields]);
  }
  onResponseData(data: Buffer): void {
    this.body.push(Buffer.from(data));
  }
  onResponseEnd(trailers: string[]): void {
    this.ends.push(trailers);
  }
  text(): string {
    return Buffer.concat(this.body).toString('latin1');
  }
}

/** Feeds `wire` to a fresh parser in pieces of `step` bytes; returns the recorder and whether every piece parsed. */
function parse(wire: string, step = wire.length, head = false): { r: Recorder; p: ResponseParser; ok: boolean } {
  const r = new Recorder();
  const p = new ResponseParser(r);
  p.expect(head);
  const b = Buffer.from(wire, 'latin1');
  let ok = true;
  for (let i = 0; i < b.length && ok; i += step) ok = p.execute(b.subarray(i, i + step));
  return { r, p, ok };
}

test('a content-length response parses the same whole and byte by byte, names lowercased, values trimmed', () => {
  const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:  a b \t\r\nSet-Cookie: 1\r\nSet-Cookie: 2\r\n\r\nhello';
  for (const step of [wire.length, 7, 1]) {
    const { r, p, ok } = parse(wire, step);
    assert.ok(ok, p.error);
    assert.deepEqual(r.heads, [[200, ['content-length', '5', 'x-thing', 'a b', 'set-cookie', '1', 'set-cookie', '2']]]);
    assert.equal(r.text(), 'hello');
    assert.deepEqual(r.ends, [[]]);
    assert.equal(p.busy, false);
    assert.equal(p.keepAlive, true);
  }
});

test('a chunked response with extensions and trailers, split at every byte', () => {
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n';
  for (const step of [wire.length, 3, 1]) {
    const { r, p, ok } = parse(wire, step);
    assert.ok(ok, p.error);
    assert.equal(r.text(), 'hello0123456789');
    assert.deepEqual(r.ends, [['x-checksum', 'abc']]);
    assert.equal(p.busy, false);
  }
});

test('HEAD, 204 and 304 have no body whatever their Content-Length says; 1xx heads come before the final one', () => {
  const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 1000, true);
  assert.ok(head.ok);
  assert.deepEqual(head.r.ends, [[]]);
  for (const status of [204, 304]) {
    const { r, ok } = parse(`HTTP/1.1 ${status} X\r\nContent-Length: 3\r\n\r\n`);
    assert.ok(ok);
    assert.deepEqual(r.ends, [[]]);
  }
  const { r, ok } = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
  assert.ok(ok);
  assert.deepEqual(r.heads.map((h) => h[0]), [100, 103, 201]);
  assert.equal(r.ends.length, 1);
});

test('without a length the body runs until the endpoint closes, and the connection is not kept', () => {
  const { r, p, ok } = parse('HTTP/1.1 200 OK\r\n\r\nsome bytes');
  assert.ok(ok);
  assert.equal(p.untilClose, true);
  assert.equal(p.keepAlive, false);
  assert.equal(r.ends.length, 0);
  assert.equal(p.finish(), true);
  assert.equal(r.text(), 'some bytes');
  assert.equal(r.ends.length, 1);
});

test('Connection: close and HTTP/1.0 end keep-alive; HTTP/1.0 with keep-alive keeps it', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').p.keepAlive, false);
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 0\r\n\r\n').p.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').p.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').p.keepAlive, true);
});

test('framing a lenient parser would guess at is a protocol error: bare LF, obs-fold, CL+TE, differing CL, bad chunk size', () => {
  const bad: Array<[string, RegExp]> = [
    ['HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', /bare LF/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n', /bare LF/],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n', /folding/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /differing/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\n', /Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /Content-Length/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /chunk data not followed by CRLF/],
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', /field name/],
    ['HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', /field value/],
    ['HTTP/2 200\r\n\r\n', /status line/],
    ['HTTP/1.1 20 OK\r\n\r\n', /status line|status code/],
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /protocol switch/],
  ];
  for (const [wire, why] of bad) {
    const { p, ok } = parse(wire);
    assert.equal(ok, false, JSON.stringify(wire));
    assert.match(p.error ?? '', why, JSON.stringify(wire));
  }
  // Identical repeated lengths are one length (RFC 9110 §8.6).
  assert.ok(parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok').ok);
});

test('bytes after the response, with no request outstanding, are a protocol error; a head over the limit too', () => {
  const { p, ok } = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n');
  assert.equal(ok, false);
  assert.match(p.error ?? '', /no request outstanding/);
  const r = new Recorder();
  const small = new ResponseParser(r, 64);
  small.expect(false);
  assert.equal(small.execute(Buffer.from(`HTTP/1.1 200 OK\r\nX-Long: ${'a'.repeat(100)}`)), false);
  assert.match(small.error ?? '', /too large/);
});
