/**
 * WebSockets through the proxy, with the `ws` library at both ends: HTTP/1.1
 * clients to HTTP/1.1 services (Upgrade relayed) and to HTTP/2 services
 * (RFC 8441 extended CONNECT), HTTP/2 clients with extended CONNECT to both,
 * balancing of concurrent tunnels, the idle timeout, the drain at stop, and
 * the answers when an upgrade cannot be carried.
 *
 * The peers are in test/helpers/ws-peers.ts: the real ws framing code runs
 * on real HTTP/1.1 connections and HTTP/2 streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { WebSocket } from 'ws';
import { startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';
import {
  assertNothingOpen, closeClean, closed, echoInOrder, openTunnels, startH1WsBackend, startH2WsBackend, wsConnect, wsOverH2,
} from '../helpers/ws-peers.js';
import { upgradeRecords } from '../../src/proxy/upgrade/upgrade-counters.js';

function proxyFor(services: { name: string; protocol: string; ports: number[] }[], route: Record<string, unknown> = {}): Promise<RunningProxy> {
  return startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', routes: [{ name: 'ws', service: services[0]!.name, ...route }] }],
    services: services.map((s) => ({ name: s.name, protocol: s.protocol, balancer: 'round-robin', endpoints: s.ports.map((p) => `127.0.0.1:${p}`) })),
  });
}

test('a WebSocket to an HTTP/1.1 service: handshake with a subprotocol, 1,000 messages each way in order, clean close, counters back to 0', async (t) => {
  const b = await startH1WsBackend('a');
  const p = await proxyFor([{ name: 'chat', protocol: 'http1', ports: [b.port] }]);
  t.after(async () => {
    await p.stop();
    await b.close();
  });
  await waitReady(p);
  const ws = await wsConnect(p.port(), '/chat', ['chat.v1']);
  assert.equal(ws.protocol, 'chat.v1');
  const before = [...upgradeRecords()].find((r) => r.service === 'chat')!;
  assert.equal(before.open, 1);
  await echoInOrder(ws, 1000, 'h1');
  assert.equal(await closeClean(ws), 1000);
  await assertNothingOpen(p, [b]);
  const r = [...upgradeRecords()].find((x) => x.service === 'chat')!;
  assert.deepEqual([r.listener, r.route, r.protocol, r.total], ['edge', 'ws', 'websocket', 1]);
  assert.ok(r.bytesUpstream > 1000 * 6 && r.bytesDownstream > 1000 * 6, `bytes ${r.bytesUpstream}/${r.bytesDownstream}`);
  // The upgrade reached the backend as an upgrade, hop-by-hop fields aside.
  assert.equal(b.heads[0]!.upgrade, 'websocket');
  assert.match(String(b.heads[0]!.connection), /upgrade/i);
});

test('a WebSocket to an HTTP/2 service goes as an extended CONNECT (RFC 8441): 1,000 messages each way in order, clean close', async (t) => {
  const b = await startH2WsBackend('h2a');
  const p = await proxyFor([{ name: 'chat2', protocol: 'http2', ports: [b.port] }]);
  t.after(async () => {
    await p.stop();
    await b.close();
  });
  await waitReady(p);
  const ws = await wsConnect(p.port(), '/chat', ['chat.v2']);
  assert.equal(ws.protocol, 'chat.v2');
  await echoInOrder(ws, 1000, 'h2');
  assert.equal(await closeClean(ws), 1000);
  await assertNothingOpen(p, [b]);
  const h = b.heads[0]!;
  assert.deepEqual([h[':method'], h[':protocol'], h[':path'], h['sec-websocket-key']], ['CONNECT', 'websocket', '/chat', undefined]);
});

test('100 concurrent WebSockets spread over 3 HTTP/1.1 endpoints, and nothing left open after they close', async (t) => {
  const bs = await Promise.all(['e1', 'e2', 'e3'].map((n) => startH1WsBackend(n)));
  const p = await proxyFor([{ name: 'fan', protocol: 'http1', ports: bs.map((b) => b.port) }]);
  t.after(async () => {
    await p.stop();
    await Promise.all(bs.map((b) => b.close()));
  });
  await waitReady(p);
  const sockets = await Promise.all(Array.from({ length: 100 }, () => wsConnect(p.port())));
  const svc = p.proxy.services.get('fan')!;
  // Open tunnels count as requests in flight, for the balancer and the service.
  assert.equal(svc.inflight, 100);
  assert.equal(svc.endpoints.reduce((n, e) => n + e.load.pending, 0), 100);
  await Promise.all(sockets.map((ws, i) => echoInOrder(ws, 10, `c${i}`)));
  const counts = bs.map((b) => b.accepted);
  for (const c of counts) assert.ok(c >= 25 && c <= 42, `per-endpoint WebSockets ${counts.join('/')}`);
  await Promise.all(sockets.map((ws) => closeClean(ws)));
  await assertNothingOpen(p, bs);
});

test('an HTTP/2 client with extended CONNECT reaches an HTTP/1.1 WebSocket service and an HTTP/2 one', async (t) => {
  const h1 = await startH1WsBackend('h1');
  const h2 = await startH2WsBackend('h2');
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', routes: [
        { name: 'to-h1', match: { pathPrefix: '/one' }, service: 'one' },
        { name: 'to-h2', match: { pathPrefix: '/two' }, service: 'two' },
      ],
    }],
    services: [
      { name: 'one', protocol: 'http1', endpoints: [`127.0.0.1:${h1.port}`] },
      { name: 'two', protocol: 'http2', endpoints: [`127.0.0.1:${h2.port}`] },
    ],
  });
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  session.on('error', () => {});
  t.after(async () => {
    session.destroy();
    await p.stop();
    await h1.close();
    await h2.close();
  });
  await waitReady(p);
  // RFC 8441 §3: the listener advertises SETTINGS_ENABLE_CONNECT_PROTOCOL.
  await waitFor(() => session.remoteSettings.enableConnectProtocol === true, 'the listener to advertise SETTINGS_ENABLE_CONNECT_PROTOCOL');
  for (const path of ['/one', '/two']) {
    const ws = await wsOverH2(session, path);
    await echoInOrder(ws, 200, path);
    assert.equal(await closeClean(ws), 1000, `close code through ${path}`);
  }
  await assertNothingOpen(p, [h1, h2]);
  // The HTTP/1.1 backend got a real WebSocket handshake, with the proxy's key.
  assert.equal(h1.heads[0]!.upgrade, 'websocket');
  assert.ok(typeof h1.heads[0]!['sec-websocket-key'] === 'string');
});

test('an idle WebSocket is closed after the route upgradeIdleTimeout; a busy one is not', async (t) => {
  const b = await startH1WsBackend('a');
  const p = await proxyFor([{ name: 'idle', protocol: 'http1', ports: [b.port] }], { upgradeIdleTimeout: '300ms' });
  t.after(async () => {
    await p.stop();
    await b.close();
  });
  await waitReady(p);
  const quiet = await wsConnect(p.port());
  const busy = await wsConnect(p.port());
  let quietClosed = false;
  const quietCode = closed(quiet).then((c) => {
    quietClosed = true;
    return c;
  });
  // The busy one sends every 100 ms until the quiet one is closed.
  while (!quietClosed) {
    await echoInOrder(busy, 1, 'ping');
    busy.removeAllListeners('message');
    busy.removeAllListeners('close');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Closed by the proxy: no close frame (it does not speak WebSocket), so 1006.
  assert.equal(await quietCode, 1006);
  assert.equal(busy.readyState, WebSocket.OPEN);
  assert.equal(await closeClean(busy), 1000);
  await assertNothingOpen(p, [b]);
});

test('a tunnel open at stop is closed by the drain deadline', async (t) => {
  const b = await startH1WsBackend('a');
  const h2b = await startH2WsBackend('b');
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', routes: [
        { match: { pathPrefix: '/one' }, service: 'one' },
        { match: { pathPrefix: '/two' }, service: 'two' },
      ],
    }],
    services: [
      { name: 'one', protocol: 'http1', endpoints: [`127.0.0.1:${b.port}`] },
      { name: 'two', protocol: 'http2', endpoints: [`127.0.0.1:${h2b.port}`] },
    ],
  });
  t.after(async () => {
    await b.close();
    await h2b.close();
  });
  await waitReady(p);
  const ws1 = await wsConnect(p.port(), '/one');
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  session.on('error', () => {});
  const ws2 = await wsOverH2(session, '/two');
  await echoInOrder(ws1, 5, 'before');
  const c1 = closed(ws1);
  const c2 = closed(ws2);
  const stopping = p.proxy.stop(400);
  // Still carried during the drain.
  await echoInOrder(ws2, 5, 'during');
  await stopping;
  assert.equal(await c1, 1006);
  assert.equal(await c2, 1006);
  session.destroy();
  await waitFor(() => openTunnels() === 0 && b.open === 0 && h2b.open === 0, 'tunnels and backends to close');
});

test('an upgrade the service cannot carry gets 502 SWY_ERR_UPGRADE_UNSUPPORTED; an endpoint refusal is relayed; h2c is served without the upgrade', async (t) => {
  const plain = await startH2WsBackend('no-connect', false);
  const h1 = await startH1WsBackend('h1');
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', routes: [
        { match: { pathPrefix: '/h2' }, service: 'plain' },
        { service: 'one' },
      ],
    }],
    services: [
      { name: 'plain', protocol: 'http2', endpoints: [`127.0.0.1:${plain.port}`] },
      { name: 'one', protocol: 'http1', endpoints: [`127.0.0.1:${h1.port}`] },
    ],
  });
  t.after(async () => {
    await p.stop();
    await plain.close();
    await h1.close();
  });
  await waitReady(p);
  const err = await wsConnect(p.port(), '/h2').then(() => null, (e: { status?: number; headers?: http.IncomingHttpHeaders }) => e);
  assert.equal(err?.status, 502);
  assert.equal(err?.headers?.['switchyard-error'], 'SWY_ERR_UPGRADE_UNSUPPORTED');
  assert.equal(plain.heads.length, 0);

  const refused = await wsConnect(p.port(), '/forbidden').then(() => null, (e: { status?: number; headers?: http.IncomingHttpHeaders }) => e);
  assert.equal(refused?.status, 403);
  assert.equal(refused?.headers?.['x-backend'], 'h1');

  // RFC 9113 §3.1: no h2c upgrade; the request is answered as HTTP/1.1.
  const res = await new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: p.port(), path: '/plain-h2c',
      headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' },
    }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d));
      r.on('end', () => resolve({ status: r.statusCode!, body, headers: r.headers }));
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
  assert.deepEqual([res.status, res.body, res.headers['x-backend']], [200, 'plain /plain-h2c', 'h1']);
  const seen = h1.heads.at(-1)!;
  assert.equal(seen.upgrade, undefined);
  assert.equal(seen['http2-settings'], undefined);
  await assertNothingOpen(p, [h1]);
});
