/**
 * Flood limits with their default values: rapid reset, PING, SETTINGS,
 * empty DATA and CONTINUATION floods from raw sockets end in GOAWAY
 * ENHANCE_YOUR_CALM (counted in engineCounters.floodsDetected), while other
 * connections to the same server keep being served.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { engineCounters, ErrorCode } from '../../src/http2/index.js';
import { startEngineTestServer, type EngineTestServer } from '../helpers/engine-test-server.js';
import {
  F, PREFACE, RawPeer, T, continuation, data, frame, getRequest, goawayCode, headers, hpackLiteral, ping, rstStream,
  settings, settingsAck, within,
} from '../helpers/engine-frames.js';

let srv: EngineTestServer;
let bystander: http2.ClientHttp2Session;
const peers: RawPeer[] = [];

function nodeGet(session: http2.ClientHttp2Session, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

before(async () => {
  srv = await startEngineTestServer();
  bystander = http2.connect(`http://127.0.0.1:${srv.port}`);
  bystander.on('error', () => {});
  assert.equal((await nodeGet(bystander)).status, 200);
});

after(async () => {
  for (const p of peers) p.destroy();
  await new Promise<void>((r) => bystander.close(() => r()));
  await srv.close();
});

async function abuse(name: string, build: () => Buffer[]): Promise<void> {
  const floods = engineCounters.floodsDetected;
  const p = new RawPeer(srv.port);
  peers.push(p);
  await p.ready;
  p.write([PREFACE, settings([]), settingsAck()]);
  p.write(build());
  const g = await within(p.waitFrame((f) => f.type === T.GOAWAY, 'GOAWAY'), 10_000, name);
  assert.equal(goawayCode(g), ErrorCode.ENHANCE_YOUR_CALM, `${name}: ${g.payload.subarray(8).toString()}`);
  assert.equal(engineCounters.floodsDetected, floods + 1, `${name}: floodsDetected`);
  await within(p.waitClose(), 10_000, `${name}: close`);
  // Other connections are unaffected: the one opened before, and a new one.
  assert.equal((await nodeGet(bystander)).body, 'hello\n');
  const fresh = http2.connect(`http://127.0.0.1:${srv.port}`);
  try {
    assert.equal((await nodeGet(fresh)).status, 200);
  } finally {
    fresh.close();
  }
}

const POST = hpackLiteral(getRequest('/echo', 'POST'));

test('rapid reset: 1,001 HEADERS + RST_STREAM pairs (maxResetsPerWindow 1000)', { timeout: 30_000 }, async () => {
  await abuse('rapid reset', () => {
    const out: Buffer[] = [];
    for (let i = 0; i < 1001; i++) {
      const id = 1 + 2 * i;
      out.push(headers(id, POST, false), rstStream(id, ErrorCode.CANCEL));
    }
    return out;
  });
});

test('PING flood: 1,001 PINGs (maxPingsPerWindow 1000)', { timeout: 30_000 }, async () => {
  await abuse('PING flood', () => Array.from({ length: 1001 }, (_, i) => ping(Buffer.alloc(8, i & 0xff))));
});

test('SETTINGS flood: 101 SETTINGS frames after the first (maxSettingsPerWindow 100)', { timeout: 30_000 }, async () => {
  await abuse('SETTINGS flood', () => Array.from({ length: 101 }, () => settings([4, 65535])));
});

test('empty DATA flood: 1,001 empty DATA frames without END_STREAM (maxEmptyDataPerWindow 1000)', { timeout: 30_000 }, async () => {
  await abuse('empty DATA flood', () => [headers(1, POST, false), ...Array.from({ length: 1001 }, () => data(1, Buffer.alloc(0)))]);
});

test('CONTINUATION flood: 33 CONTINUATION frames in one header block (maxContinuationFrames 32)', { timeout: 30_000 }, async () => {
  await abuse('CONTINUATION flood', () => [
    frame(T.HEADERS, F.END_STREAM, 1, hpackLiteral(getRequest('/'))),
    ...Array.from({ length: 33 }, () => continuation(1, hpackLiteral(['x-pad', 'p']), false)),
  ]);
});

test('below the limits nothing trips: 990 resets, 990 PINGs and 32 CONTINUATION frames are served', { timeout: 30_000 }, async () => {
  const floods = engineCounters.floodsDetected;
  const p = new RawPeer(srv.port);
  peers.push(p);
  await p.ready;
  const out: Buffer[] = [PREFACE, settings([]), settingsAck()];
  for (let i = 0; i < 990; i++) out.push(headers(1 + 2 * i, POST, false), rstStream(1 + 2 * i, ErrorCode.CANCEL));
  for (let i = 0; i < 990; i++) out.push(ping(Buffer.alloc(8, 1)));
  const id = 1 + 2 * 990;
  out.push(frame(T.HEADERS, F.END_STREAM, id, hpackLiteral(getRequest('/'))));
  for (let i = 0; i < 32; i++) out.push(continuation(id, hpackLiteral([`x-pad-${i}`, 'p']), i === 31));
  out.push(ping(Buffer.from('lastping')));
  p.write(out);
  await within(p.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.toString() === 'lastping', 'the last PING ACK'), 10_000, 'below limits');
  const resp = await within(p.waitFrame((f) => f.type === T.DATA && f.streamId === id && (f.flags & F.END_STREAM) !== 0, 'the response'), 10_000, 'response');
  assert.equal(resp.payload.toString(), 'hello\n');
  assert.equal(p.parser.frames.some((f) => f.type === T.GOAWAY), false);
  assert.equal(engineCounters.floodsDetected, floods);
});
