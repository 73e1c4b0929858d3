/**
 * How an HTTP/1.1 client's request body is framed towards the upstream: a
 * request without a body ends with its head (no chunked framing to an
 * HTTP/1.1 endpoint, END_STREAM on the HEADERS to an HTTP/2 one), a request
 * with a body keeps it.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import test from 'node:test';
import { h1Request, startH1Backend } from '../helpers/h1-peers.js';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';

function proxyConfig(port: number, protocol: 'http1' | 'http2') {
  return {
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http1', service: 's' }],
    services: [{ name: 's', protocol, endpoints: [`127.0.0.1:${port}`] }],
  };
}

test('a request without a body reaches an HTTP/1.1 endpoint without body framing; one with a body keeps its length', async (t) => {
  const seen: Array<{ method: string; te: string | undefined; cl: string | undefined; body: string }> = [];
  const backend = await startH1Backend((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, te: req.headers['transfer-encoding'], cl: req.headers['content-length'], body });
      res.end('ok');
    });
  });
  const p = await startProxy(proxyConfig(backend.port, 'http1'));
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  assert.equal((await h1Request(p.port())).status, 200);
  assert.equal((await h1Request(p.port(), { method: 'DELETE' })).status, 200);
  assert.equal((await h1Request(p.port(), { body: Buffer.from('abc') })).status, 200);
  assert.deepEqual(seen, [
    { method: 'GET', te: undefined, cl: undefined, body: '' },
    { method: 'DELETE', te: undefined, cl: undefined, body: '' },
    { method: 'POST', te: undefined, cl: '3', body: 'abc' },
  ]);
});

test('a request without a body reaches an HTTP/2 endpoint as one HEADERS frame with END_STREAM; one with a body does not', async (t) => {
  const endAfterHeaders: boolean[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, _h) => {
    endAfterHeaders.push(stream.endAfterHeaders);
    stream.resume();
    stream.on('end', () => stream.respond({ ':status': 200 }, { endStream: true }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const p = await startProxy(proxyConfig(port, 'http2'));
  t.after(async () => {
    await p.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });
  await waitReady(p);
  assert.equal((await h1Request(p.port())).status, 200);
  assert.equal((await h1Request(p.port(), { body: Buffer.from('abc') })).status, 200);
  assert.deepEqual(endAfterHeaders, [true, false]);
});
