/**
 * The HTTP/1.1 upstream pool through a real proxy: node:http2 clients,
 * node:http backends that count their connections.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import test, { type TestContext } from 'node:test';
import { startH1Backend } from '../helpers/h1-peers.js';
import { closeSession, connect, h2Request, runConcurrently, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Connections that carried requests (the pool's connect check is a TCP
 * connect closed at once, which this leaves out).
 */
function countConnections(server: http.Server): { open: number; total: number } {
  const c = { open: 0, total: 0 };
  const seen = new WeakSet<object>();
  server.prependListener('request', (req: http.IncomingMessage) => {
    const s = req.socket;
    if (seen.has(s)) return;
    seen.add(s);
    c.open++;
    c.total++;
    s.on('close', () => c.open--);
  });
  return c;
}

/**
 * A proxy with an HTTP/2 listener in front of `backend` as an HTTP/1.1
 * service (`service` adds keys to it), ready, and an HTTP/2 session to it;
 * all three are closed after the test.
 */
async function proxyTo(t: TestContext, backend: { port: number; close(): Promise<void> }, service: Record<string, unknown> = {}) {
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's' }],
    services: [{ name: 's', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`], ...service }],
  });
  await waitReady(p);
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    await backend.close();
  });
  return { p, session };
}

test('requests beyond maxConnectionsPerEndpoint wait for a connection: 40 requests, 20 at once, over at most 3 connections, all served', async (t) => {
  let inHandler = 0;
  let most = 0;
  const backend = await startH1Backend((req, res) => {
    most = Math.max(most, ++inHandler);
    // Answered a turn later, so requests overlap at the backend.
    setImmediate(() => {
      inHandler--;
      res.end(req.url);
    });
  });
  const conns = countConnections(backend.server);
  const { p, session } = await proxyTo(t, backend, { http1: { maxConnectionsPerEndpoint: 3 } });
  await runConcurrently(40, 20, async (i) => {
    const r = await h2Request(session, { ':path': `/r/${i}` });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `/r/${i}`);
  });
  assert.equal(backend.requests, 40);
  assert.ok(conns.total <= 3, `${conns.total} connections`);
  assert.ok(most >= 2 && most <= 3, `${most} at once at the backend`);
  const ep = p.proxy.services.get('s')!.endpoints[0]!;
  assert.equal(ep.pool.connectionCount, conns.open, 'the pool counts what the backend sees open');
  assert.equal(ep.load.pending, 0);
});

test('a request cancelled mid-response closes its connection; the next request gets a fresh one and is served', async (t) => {
  const backend = await startH1Backend((req, res) => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
      return; // never ends
    }
    res.end('ok');
  });
  const conns = countConnections(backend.server);
  const { p, session } = await proxyTo(t, backend);
  assert.equal((await h2Request(session, { ':path': '/warm' })).status, 200);
  assert.equal(conns.total, 1);
  const req = session.request({ ':path': '/slow' }, { endStream: true });
  await new Promise<void>((r) => req.once('data', () => r()));
  req.close();
  await waitFor(() => conns.open === 0, 'the cancelled request closed its connection');
  const r = await h2Request(session, { ':path': '/after' });
  assert.equal(r.status, 200);
  assert.equal(conns.total, 2, 'the warm connection carried /slow and was not reused');
  await waitFor(() => p.proxy.services.get('s')!.endpoints[0]!.pool.connectionCount === 1, 'one connection left');
});

test('an endpoint that refuses connections fails the request as a connect failure, answered 503 without waiting for a timeout', async (t) => {
  const backend = await startH1Backend((_req, res) => res.end('ok'));
  const port = backend.port;
  await backend.close();
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's' }],
    services: [{ name: 's', protocol: 'http1', endpoints: [`127.0.0.1:${port}`], failfast: { timeout: '200ms' } }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
  });
  const r = await h2Request(session, { ':path': '/' });
  assert.equal(r.status, 503);
  const ep = p.proxy.services.get('s')!.endpoints[0]!;
  assert.equal(ep.pool.connectionCount, 0);
  assert.match(ep.cause ?? '', /refused/);
});

test("an idle connection is closed by the pool before the endpoint's announced Keep-Alive timeout, so no request meets a closing connection", async (t) => {
  const backend = await startH1Backend((_req, res) => res.end('ok'));
  // node:http announces `Keep-Alive: timeout=3`; the pool keeps the connection 1.5 s.
  backend.server.keepAliveTimeout = 3000;
  let closedByProxy = 0;
  backend.server.prependListener('request', (req: http.IncomingMessage) => {
    req.socket.once('end', () => closedByProxy++);
  });
  const conns = countConnections(backend.server);
  const { p, session } = await proxyTo(t, backend);
  const r = await h2Request(session, { ':path': '/' });
  assert.equal(r.headers['keep-alive'], undefined, 'a hop-by-hop field');
  assert.equal(conns.open, 1);
  await waitFor(() => conns.open === 0, 'the idle connection closed', 4000);
  assert.equal(closedByProxy, 1, 'the proxy closed it first');
  assert.equal(p.proxy.services.get('s')!.endpoints[0]!.pool.connectionCount, 0);
  assert.equal((await h2Request(session, { ':path': '/' })).status, 200);
  assert.equal(conns.total, 2);
});
