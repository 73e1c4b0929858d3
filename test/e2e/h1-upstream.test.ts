/**
 * HTTP/1.1 upstreams under load: large responses keep flowing while the
 * client takes them, and a connection lost before the response is retried
 * where the route retries resets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { closeSession, connect, runConcurrently, startProxy, waitReady } from '../helpers/proxy-harness.js';

function listen(server: http.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

test('responses over the 1 MiB pause mark from an HTTP/1.1 upstream complete, 24 x 3 MiB, 6 at once', async (t) => {
  const body = Buffer.alloc(3 << 20);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  const digest = createHash('sha256').update(body).digest('hex');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length) });
    // Written in pieces, as a real server streams a file.
    let pos = 0;
    const more = (): void => {
      while (pos < body.length) {
        const piece = body.subarray(pos, pos + 65_536);
        pos += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  const port = await listen(server);
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's' }],
    services: [{ name: 's', protocol: 'http1', endpoints: [`127.0.0.1:${port}`] }],
  });
  await waitReady(p);
  // Large client windows: the proxy hands most bytes over as they arrive, so
  // the upstream pause mark is reached with everything already taken.
  const session = await connect(p.port(), { settings: { initialWindowSize: 16 << 20 } });
  session.setLocalWindowSize(64 << 20);
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  await runConcurrently(24, 6, async (i) => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': `/file/${i}` });
      const h = createHash('sha256');
      const timer = setTimeout(() => reject(new Error(`request ${i} stalled`)), 30_000);
      req.on('data', (d: Buffer) => h.update(d));
      req.on('end', () => {
        clearTimeout(timer);
        resolve(h.digest('hex'));
      });
      req.on('error', reject);
    });
    assert.equal(got, digest, `request ${i}`);
  });
  let inflight = 0;
  for (const s of p.proxy.services.values()) inflight += s.inflight;
  assert.equal(inflight, 0);
});

test('an HTTP/1.1 upstream connection lost before the response is retried on a route that retries resets (idempotent method)', async (t) => {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    // Every other request loses its connection before any response.
    if (n++ % 2 === 0) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('second time lucky');
  });
  const port = await listen(server);
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', routes: [{ match: {}, service: 's', retry: { on: ['reset'], attempts: 3 } }] }],
    services: [{ name: 's', protocol: 'http1', endpoints: [`127.0.0.1:${port}`] }],
  });
  await waitReady(p);
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  for (let i = 0; i < 5; i++) {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/', ':method': 'PUT' });
      let status = 0;
      let text = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (text += d));
      req.on('end', () => resolve({ status, body: text }));
      req.on('error', reject);
      req.end('payload');
    });
    assert.equal(r.status, 200, `request ${i}: ${r.body}`);
    assert.equal(r.body, 'second time lucky');
  }
});
