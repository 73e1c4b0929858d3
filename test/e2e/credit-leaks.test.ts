/**
 * Each path that once lost HTTP/2 receive credit, driven against real peers
 * through one long-lived proxy, with the end state asserted: on every
 * connection of both sides window + unacked + outstanding = configured
 * (nothing leaked), nothing outstanding, no open streams, nothing in flight.
 * A connection that loses half its window stops its peer for good, so every
 * scenario moves more than that through the same upstream connection (16 MiB
 * window: > 8 MiB) and then checks that a request still completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { grpcFrame } from '../helpers/raw-grpc-backend.js';

const MiB = 1 << 20;

function listen(server: http2.Http2Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

function closeServer(server: http2.Http2Server, sessions: Set<http2.Http2Session>): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    for (const s of sessions) s.destroy();
  });
}

function track(server: http2.Http2Server): Set<http2.Http2Session> {
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return sessions;
}

async function proxyTo(port: number, extra: Record<string, unknown> = {}): Promise<RunningProxy> {
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's', ...extra }],
    services: [{ name: 's', endpoints: [`127.0.0.1:${port}`] }],
  });
  await waitReady(p);
  return p;
}

interface FlowState {
  connections: number;
  leaked: number;
  outstanding: number;
  streams: number;
  short: number;
}

function flow(p: RunningProxy, side: 'downstream' | 'upstream'): FlowState {
  const f: FlowState = { connections: 0, leaked: 0, outstanding: 0, streams: 0, short: 0 };
  p.proxy.forEachHttp2Connection(side, (c) => {
    f.connections++;
    f.leaked += c.recvLeaked;
    f.outstanding += c.recvOutstanding;
    f.streams += c.streams.size;
    f.short += c.recvWindowConfigured - c.recvWindow - c.recvUnacked;
  });
  return f;
}

function inflight(p: RunningProxy): number {
  let n = 0;
  for (const s of p.proxy.services.values()) n += s.inflight;
  return n;
}

/** Waits (bounded, by polling the proxy's own state) until nothing is in flight and no stream is open. */
async function settle(p: RunningProxy): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (inflight(p) === 0 && flow(p, 'upstream').streams === 0 && flow(p, 'downstream').streams === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertClean(p: RunningProxy): void {
  for (const side of ['upstream', 'downstream'] as const) {
    const f = flow(p, side);
    assert.equal(f.leaked, 0, `${side}: receive credit leaked`);
    assert.equal(f.outstanding, 0, `${side}: octets still outstanding`);
    assert.equal(f.short, 0, `${side}: window + unacked below the configured size`);
    assert.equal(f.streams, 0, `${side}: open streams`);
  }
  assert.equal(inflight(p), 0, 'requests in flight');
}

/** Writes in 64 KiB pieces as the stream drains, as a real server does (node:http2 refuses new streams past 10 MB buffered). */
function writeWithBackPressure(s: http2.ServerHttp2Stream, body: Buffer): void {
  let pos = 0;
  const more = (): void => {
    while (pos < body.length && !s.destroyed) {
      const piece = body.subarray(pos, pos + 65_536);
      pos += piece.length;
      if (pos >= body.length) {
        s.end(piece);
        return;
      }
      if (!s.write(piece)) {
        s.once('drain', more);
        return;
      }
    }
  };
  more();
}

function get(session: http2.ClientHttp2Session, path: string, timeoutMs = 10_000): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let bytes = 0;
    let status = 0;
    const t = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`${path}: no answer within ${timeoutMs} ms (wedged?)`));
    }, timeoutMs);
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      clearTimeout(t);
      resolve({ status, bytes });
    });
    req.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

test('a slow client that cancels mid-response returns the upstream credit it held (16 x 4 MiB)', async (t) => {
  const body = Buffer.alloc(4 * MiB, 1);
  const server = http2.createServer();
  const sessions = track(server);
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    s.respond({ ':status': 200 });
    if (h[':path'] === '/small') s.end('ok');
    else writeWithBackPressure(s, body);
  });
  const p = await proxyTo(await listen(server));
  t.after(async () => {
    await p.stop();
    await closeServer(server, sessions);
  });
  // Client windows of 64 KiB (node's default): the proxy holds most of each body queued.
  const client = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => client.destroy());
  for (let i = 0; i < 16; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = client.request({ ':path': '/big' });
      req.on('error', reject);
      let got = 0;
      req.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= 100_000) {
          req.pause();
          req.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      req.on('close', () => resolve());
    });
  }
  await settle(p);
  assertClean(p);
  const r = await get(client, '/small');
  assert.equal(r.status, 200);
  const big = await get(client, '/big');
  assert.equal(big.bytes, body.length);
});

test('a response the backend finished while bytes were queued for a slow client is credited as they leave (20 x 1 MiB)', async (t) => {
  const body = Buffer.alloc(MiB, 2);
  const server = http2.createServer();
  const sessions = track(server);
  server.on('stream', (s) => {
    s.on('error', () => {});
    s.respond({ ':status': 200 });
    s.end(body);
  });
  const p = await proxyTo(await listen(server));
  t.after(async () => {
    await p.stop();
    await closeServer(server, sessions);
  });
  for (let i = 0; i < 20; i++) {
    // A fresh client each time, as a user running curl in a loop would.
    const client = http2.connect(`http://127.0.0.1:${p.port()}`);
    const r = await get(client, '/');
    assert.equal(r.bytes, body.length);
    client.close();
  }
  await settle(p);
  assertClean(p);
});

test('a content-length mismatch after the window was charged returns that credit (40 x 512 KiB)', async (t) => {
  const server = http2.createServer();
  const sessions = track(server);
  const chunk = Buffer.alloc(512 * 1024, 3);
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    if (h[':path'] === '/ok') {
      s.respond({ ':status': 200 });
      s.end('fine');
      return;
    }
    // Announces 10 octets and sends far more: the proxy resets the stream (§8.1.1).
    s.respond({ ':status': 200, 'content-length': '10' });
    s.end(chunk);
  });
  const p = await proxyTo(await listen(server));
  t.after(async () => {
    await p.stop();
    await closeServer(server, sessions);
  });
  const client = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => client.destroy());
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => {
      const req = client.request({ ':path': '/bad' });
      req.on('error', () => {});
      req.resume();
      req.on('close', () => resolve());
    });
  }
  await settle(p);
  assertClean(p);
  assert.equal((await get(client, '/ok')).status, 200);
});

test('an early answer while the request body is queued upstream credits the client, which can go on (h2 upstream, 2 MiB uploads)', async (t) => {
  const server = http2.createServer({ settings: { initialWindowSize: 65_535 } });
  const sessions = track(server);
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    if (h[':path'] === '/ok') {
      s.resume();
      s.on('end', () => {
        s.respond({ ':status': 200 });
        s.end('fine');
      });
      return;
    }
    // Answers before reading the body, and never reads it.
    s.respond({ ':status': 413, 'content-type': 'text/plain' });
    s.end('too large');
  });
  const p = await proxyTo(await listen(server));
  t.after(async () => {
    await p.stop();
    await closeServer(server, sessions);
  });
  const upload = Buffer.alloc(2 * MiB, 4);
  // node:http2 clients, one connection per upload: node's client stops
  // emitting responses on a session after a few streams whose unsent bodies
  // were refused (also without a proxy in between), so one connection each.
  for (let i = 0; i < 6; i++) {
    const client = http2.connect(`http://127.0.0.1:${p.port()}`);
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': '/upload', ':method': 'POST' });
      let status = 0;
      let text = '';
      const timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000);
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (text += d));
      // RST_STREAM(NO_ERROR) after a complete response is not an error (§8.1).
      req.on('error', (e) => (status === 0 ? reject(e) : undefined));
      req.on('close', () => {
        clearTimeout(timer);
        resolve({ status, body: text });
      });
      req.end(upload);
    });
    client.close();
    assert.equal(r.status, 413);
    assert.equal(r.body, 'too large');
  }
  // nghttp: 12 uploads at once on one connection, then the same connection goes on.
  const file = join(mkdtempSync(join(tmpdir(), 'swy-upload-')), 'body');
  writeFileSync(file, upload);
  const base = `http://127.0.0.1:${p.port()}`;
  const uris = Array.from({ length: 12 }, (_, i) => `${base}/upload/${i}`);
  const out = await run('nghttp', ['-n', '-v', '-d', file, ...uris]);
  assert.equal(out.match(/:status: 413/g)?.length ?? 0, 12, out.slice(-2000));
  await settle(p);
  assertClean(p);
  const client = http2.connect(base);
  t.after(() => client.destroy());
  const ok = await new Promise<number>((resolve, reject) => {
    const req = client.request({ ':path': '/ok', ':method': 'POST' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.end(Buffer.alloc(300_000, 5));
  });
  assert.equal(ok, 200);
});

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err !== null && stdout.length === 0) reject(new Error(`${cmd}: ${err.message} ${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

test('held gRPC responses discarded by retries and deadlines return their credit (30 calls x 256 KiB)', async (t) => {
  const big = Buffer.alloc(256 * 1024, 6);
  let calls = 0;
  const server = http2.createServer();
  const sessions = track(server);
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    const n = calls++;
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    if (h[':path'] === '/test.Echo/Stall') {
      // Headers and part of a message, then nothing: the route deadline ends it.
      s.write(big.subarray(0, 100_000));
      return;
    }
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': n % 2 === 0 ? '14' : '0' }));
    // One message held by the proxy until the trailers say whether to retry.
    const head = Buffer.alloc(5);
    head.writeUInt32BE(big.length, 1);
    s.write(head);
    s.write(big);
    s.end();
  });
  const port = await listen(server);
  const p = await startProxy({
    listeners: [{
      name: 'l', listen: '127.0.0.1:0', protocol: 'http2',
      routes: [
        { match: { path: '/test.Echo/Stall' }, service: 's', timeout: '200ms', retry: { on: ['unavailable'], attempts: 2 } },
        { match: {}, service: 's', retry: { on: ['unavailable'], attempts: 3, bufferSize: 1 << 20, backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 1, minPerSecond: 1000 } } },
      ],
    }],
    services: [{ name: 's', endpoints: [`127.0.0.1:${port}`] }],
  });
  await waitReady(p);
  t.after(async () => {
    await p.stop();
    await closeServer(server, sessions);
  });
  const client = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(() => client.destroy());
  const call = (path: string): Promise<{ grpcStatus: string; bytes: number }> =>
    new Promise((resolve, reject) => {
      const req = client.request({ ':path': path, ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
      let bytes = 0;
      let grpcStatus = '';
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      req.on('trailers', (tr) => (grpcStatus = String(tr['grpc-status'])));
      req.on('data', (d: Buffer) => (bytes += d.length));
      req.on('error', reject);
      req.on('close', () => resolve({ grpcStatus, bytes }));
      req.end(grpcFrame('hi'));
    });
  for (let i = 0; i < 30; i++) {
    const r = await call('/test.Echo/Say');
    assert.equal(r.grpcStatus, '0', `call ${i}`);
    assert.equal(r.bytes, big.length + 5);
  }
  for (let i = 0; i < 5; i++) {
    const r = await call('/test.Echo/Stall');
    assert.equal(r.grpcStatus, '4', 'DEADLINE_EXCEEDED at the route timeout');
  }
  await settle(p);
  assertClean(p);
});
