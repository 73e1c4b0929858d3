/**
 * The access log's byte counts and its tunnel entries: a request's body
 * octets relayed each way (HTTP/1.1 and HTTP/2 clients), and a WebSocket
 * logged and counted once, when its tunnel closes, like a request.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Writable } from 'node:stream';
import pino from 'pino';
import { closeSession, connect, h2Request, startH2Backend, waitReady } from '../helpers/proxy-harness.js';
import { h1Request } from '../helpers/h1-peers.js';
import { waitFor } from '../helpers/wait.js';
import { assertNothingOpen, closeClean, echoInOrder, startH1WsBackend, startH2WsBackend, wsConnect, wsOverH2 } from '../helpers/ws-peers.js';
import { startTelemetryProxy, type TelemetryProxy } from './harness.js';

/** Bigger than HTTP/2's initial 64 KiB window: the body crosses flow control. */
const REQUEST_BODY = 100_000;
const RESPONSE_BODY = 54_321;

type Line = Record<string, any>;

function logSink(): { lines: Line[]; logger: pino.Logger } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ base: null }, sink) };
}

async function proxyWithLog(t: TestContext, raw: Record<string, unknown>, logger: pino.Logger): Promise<TelemetryProxy> {
  const p = await startTelemetryProxy(raw, { accessLog: logger });
  t.after(() => p.stop());
  await waitReady({ proxy: p.proxy } as never);
  return p;
}

test('access log: requestBytes and responseBytes are the body octets relayed each way, for HTTP/2 and HTTP/1.1 clients', async (t) => {
  const b = await startH2Backend('a', {
    handler: (stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(Buffer.alloc(RESPONSE_BODY, 0x62));
      });
    },
  });
  t.after(() => b.close());
  const { lines, logger } = logSink();
  const p = await proxyWithLog(t, {
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', routes: [{ name: 'all', service: 'api' }] }],
    services: [{ name: 'api', endpoints: [`127.0.0.1:${b.port}`] }],
  }, logger);
  const body = Buffer.alloc(REQUEST_BODY, 0x61);
  const s = await connect(p.port());
  const r2 = await h2Request(s, { ':method': 'POST', ':path': '/h2' }, body);
  const g2 = await h2Request(s, { ':path': '/h2-get' });
  await closeSession(s);
  const r1 = await h1Request(p.port(), { path: '/h1', body });
  const g1 = await h1Request(p.port(), { path: '/h1-get' });
  for (const r of [r2, g2, r1, g1]) assert.deepEqual([r.status, r.body.length], [200, RESPONSE_BODY]);
  await waitFor(() => lines.length === 4, 'four access log lines');
  const byPath = new Map(lines.map((l) => [l.path, l]));
  assert.deepEqual(['/h2', '/h2-get', '/h1', '/h1-get'].map((path) => [path, byPath.get(path)?.requestBytes, byPath.get(path)?.responseBytes]), [
    ['/h2', REQUEST_BODY, RESPONSE_BODY],
    ['/h2-get', 0, RESPONSE_BODY],
    ['/h1', REQUEST_BODY, RESPONSE_BODY],
    ['/h1-get', 0, RESPONSE_BODY],
  ]);
  assert.ok(lines.every((l) => l.upgrade === ''), 'requests are no upgrades');
});

test('a WebSocket is one access log entry and one request in the stats, when its tunnel closes: status, endpoint, client address and bytes each way', async (t) => {
  const h1 = await startH1WsBackend('h1');
  const h2 = await startH2WsBackend('h2');
  t.after(async () => {
    await h1.close();
    await h2.close();
  });
  const { lines, logger } = logSink();
  const p = await proxyWithLog(t, {
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
  }, logger);
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  session.on('error', () => {});
  t.after(() => session.destroy());
  await waitFor(() => session.remoteSettings.enableConnectProtocol === true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL');

  // HTTP/1.1 Upgrade to an HTTP/1.1 service, then extended CONNECT to an HTTP/2 one.
  const ws1 = await wsConnect(p.port(), '/one');
  const ws2 = await wsOverH2(session, '/two');
  const n = 10;
  await echoInOrder(ws1, n, 'a');
  await echoInOrder(ws2, n, 'b');
  // Open tunnels are not logged yet.
  assert.equal(lines.length, 0);
  assert.equal(await closeClean(ws1), 1000);
  assert.equal(await closeClean(ws2), 1000);
  await assertNothingOpen(p, [h1, h2]);
  await waitFor(() => lines.length === 2, 'one access log line per tunnel');

  // WebSocket frames (RFC 6455 §5.2): the client's are masked (2 + 4 octets of header),
  // the server's are not (2); a message `a-i-xxx` is 4 + (i % 50) octets, and the
  // close frames carry 1000 and "bye" (5 octets).
  let payload = 0;
  for (let i = 0; i < n; i++) payload += 4 + (i % 50);
  const up = payload + n * 6 + (6 + 5);
  const down = payload + n * 2 + (2 + 5);
  const [l1, l2] = [lines.find((l) => l.route === 'to-h1')!, lines.find((l) => l.route === 'to-h2')!];
  assert.deepEqual(
    [l1.method, l1.path, l1.status, l1.service, l1.endpoint, l1.upgrade, l1.classification, l1.clientAddress, l1.requestBytes, l1.responseBytes],
    ['GET', '/one', 101, 'one', `127.0.0.1:${h1.port}`, 'websocket', 'success', '127.0.0.1', up, down],
  );
  assert.deepEqual(
    [l2.method, l2.path, l2.status, l2.service, l2.endpoint, l2.upgrade, l2.classification, l2.clientAddress, l2.requestBytes, l2.responseBytes],
    ['CONNECT', '/two', 200, 'two', `127.0.0.1:${h2.port}`, 'websocket', 'success', '127.0.0.1', up, down],
  );
  // Like a request: an x-request-id went upstream and into the log; the duration is the tunnel's life.
  assert.equal(h1.heads[0]!['x-request-id'], l1.requestId);
  assert.equal(h2.heads[0]!['x-request-id'], l2.requestId);
  assert.ok(l1.latencyMs > 0 && l2.latencyMs > 0);

  const stats = p.telemetry.stats(10) as { services: { name: string; requests: number; statusCodes: Record<string, number>; inFlight: number }[] };
  const one = stats.services.find((s) => s.name === 'one')!;
  const two = stats.services.find((s) => s.name === 'two')!;
  assert.deepEqual([one.requests, one.statusCodes, one.inFlight], [1, { 101: 1 }, 0]);
  assert.deepEqual([two.requests, two.statusCodes, two.inFlight], [1, { 200: 1 }, 0]);
});
