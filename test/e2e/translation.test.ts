import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function body(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

interface H1Result {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
}

function h1Request(port: number, method: string, path: string, headers: http.OutgoingHttpHeaders, data?: Buffer): Promise<H1Result> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('HTTP/1.1 client → HTTP/2 backend: bodies, Host → :authority, trailers back in chunked encoding', async (t) => {
  const backend = await startH2Backend('h2b', {
    handler(stream, headers) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        const b = Buffer.concat(chunks);
        stream.respond(
          { ':status': 200, 'x-authority': String(headers[':authority']), 'x-sha': sha(b), 'x-connection-header': String(headers['connection'] ?? 'absent') },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': sha(b) }));
        stream.end(b);
      });
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'h2' }],
    services: [{ name: 'h2', protocol: 'http2', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const data = body(3 * 1024 * 1024 + 17, 1);
  const r = await h1Request(p.port(), 'POST', '/upload?x=1', { host: 'example.test:8080', te: 'trailers', connection: 'keep-alive' }, data);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-authority'], 'example.test:8080');
  assert.equal(r.headers['x-connection-header'], 'absent', 'connection-specific headers are not forwarded');
  assert.equal(r.body.length, data.length);
  assert.equal(sha(r.body), sha(data));
  assert.equal(r.trailers['x-checksum'], sha(data));
});

test('HTTP/2 client → HTTP/1.1 backend: bodies both ways, :authority → Host, trailers from the backend', async (t) => {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const b = Buffer.concat(chunks);
      res.writeHead(200, { 'x-host': String(req.headers.host), 'x-sha': sha(b), 'x-http-version': req.httpVersion, trailer: 'x-checksum' });
      res.addTrailers({ 'x-checksum': sha(b) });
      res.end(b);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'h1' }],
    services: [{ name: 'h1', protocol: 'http1', endpoints: [`127.0.0.1:${port}`] }],
  });
  t.after(async () => {
    await p.stop();
    server.closeAllConnections();
    server.close();
  });
  const session = await connect(p.port());
  const data = body(2 * 1024 * 1024 + 5, 2);
  const r = await h2Request(session, { ':method': 'POST', ':path': '/echo', ':authority': 'svc.test' }, data);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-host'], 'svc.test');
  assert.equal(r.headers['x-http-version'], '1.1');
  assert.equal(sha(r.body), sha(data));
  assert.equal(r.trailers?.['x-checksum'], sha(data));
  const g = await h2Request(session, { ':method': 'GET', ':path': '/' });
  assert.equal(g.status, 200);
  assert.equal(g.body.length, 0);
  await closeSession(session);
});

test('one auto listener serves HTTP/1.1 and HTTP/2 clients on the same port', async (t) => {
  const backend = await startH2Backend('both');
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const h1 = await h1Request(p.port(), 'GET', '/', {});
  assert.equal(h1.status, 200);
  assert.equal(h1.headers['x-backend'], 'both');
  const session = await connect(p.port());
  const h2 = await h2Request(session, { ':path': '/' });
  await closeSession(session);
  assert.equal(h2.status, 200);
  assert.equal(h2.headers['x-backend'], 'both');
});

test('HTTP/2 client uploading to an HTTP/1.1 backend that reads slowly: the client is held back, proxy memory stays bounded', async (t) => {
  let received = 0;
  let paused: http.IncomingMessage | undefined;
  const server = http.createServer((req, res) => {
    // Read 1 MiB, then stop reading until the test resumes us.
    req.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= 1 << 20 && paused === undefined) {
        paused = req;
        req.pause();
      }
    });
    req.on('end', () => res.end(String(received)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'h1' }],
    services: [{ name: 'h1', protocol: 'http1', endpoints: [`127.0.0.1:${(server.address() as AddressInfo).port}`] }],
  });
  t.after(async () => {
    await p.stop();
    server.closeAllConnections();
    server.close();
  });
  const session = await connect(p.port());
  const req = session.request({ ':method': 'POST', ':path': '/upload' }, { endStream: false });
  const total = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  let written = 0;
  const memBefore = process.memoryUsage().arrayBuffers;
  // Write as fast as the stream accepts; with back-pressure, writing stalls while the backend is paused.
  const pump = (): void => {
    while (written < total) {
      written += chunk.length;
      if (!req.write(chunk)) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
  for (let i = 0; i < 400 && paused === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(paused, 'the backend started reading');
  let last = -1;
  for (let i = 0; i < 100 && written !== last; i++) {
    last = written;
    await new Promise((r) => setTimeout(r, 50));
  }
  const grown = process.memoryUsage().arrayBuffers - memBefore;
  t.diagnostic(`client stalled after writing ${written} bytes; buffer memory grew by ${grown}`);
  assert.ok(written < 32 * 1024 * 1024, `the client was held back (wrote ${written} of ${total})`);
  paused!.resume();
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => chunks.push(d));
  await new Promise<void>((r) => req.on('end', () => r()));
  assert.equal(Buffer.concat(chunks).toString(), String(total));
  await closeSession(session);
});
