import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { closeSession, connect, h2Request, startH2Backend, waitReady } from '../helpers/proxy-harness.js';
import { getJson, startTelemetryProxy, tap } from './harness.js';

async function setup(t: import('node:test').TestContext, options = {}) {
  const backends = await Promise.all(['a', 'b'].map((n) => startH2Backend(n, {
    handler: (stream, headers, b) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        const path = String(headers[':path']);
        stream.respond({
          ':status': path.startsWith('/missing') ? 404 : 200,
          'x-backend': b.name,
          'x-seen-request-id': String(headers['x-request-id'] ?? ''),
          'x-seen-traceparent': String(headers.traceparent ?? ''),
        });
        stream.end('ok\n');
      });
    },
  })));
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', routes: [
      { name: 'api', match: { pathPrefix: '/api' }, backends: [{ service: 'api' }] },
      { name: 'rest', match: { pathPrefix: '/' }, backends: [{ service: 'web' }] },
    ] }],
    services: [
      { name: 'api', balancer: 'round-robin', endpoints: [`127.0.0.1:${backends[0]!.port}`] },
      { name: 'web', balancer: 'round-robin', endpoints: [`127.0.0.1:${backends[1]!.port}`] },
    ],
  }, options);
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady({ proxy: p.proxy } as never);
  return { p, backends };
}

test('tap: a subscriber gets the requests its filters select, and no others', async (t) => {
  const { p, backends } = await setup(t);
  assert.equal(p.telemetry.tap.active, false);
  const api = await tap(p.adminUrl, 'service=api');
  const notFound = await tap(p.adminUrl, 'status=4xx');
  const get = await tap(p.adminUrl, 'method=GET&path=/api/users');
  assert.equal(p.telemetry.tap.active, true);
  const s = await connect(p.port());
  for (let i = 0; i < 5; i++) await h2Request(s, { ':path': `/api/users/${i}` });
  for (let i = 0; i < 5; i++) await h2Request(s, { ':path': `/page/${i}` });
  await h2Request(s, { ':path': '/missing' });
  await h2Request(s, { ':path': '/api/orders', ':method': 'POST' }, 'x');
  await closeSession(s);
  await api.waitFor(6);
  await notFound.waitFor(1);
  await get.waitFor(5);
  // The last request above was routed to api: once its event is in, every earlier one was offered too.
  assert.equal(api.events.length, 6);
  assert.ok(api.events.every((e) => e.service === 'api' && e.route === 'api'));
  assert.equal(api.events[0]!.endpoint, `127.0.0.1:${backends[0]!.port}`);
  assert.equal(api.events[0]!.status, 200);
  assert.equal(api.events[0]!.attempts, 1);
  assert.equal(api.events[0]!.classification, 'success');
  assert.equal(api.events[5]!.method, 'POST');
  assert.equal(notFound.events.length, 1);
  assert.equal(notFound.events[0]!.path, '/missing');
  assert.equal(notFound.events[0]!.service, 'web');
  assert.equal(get.events.length, 5);
  assert.ok(get.events.every((e) => e.method === 'GET' && e.path.startsWith('/api/users')));
  for (const c of [api, notFound, get]) c.close();
  // Nobody taps any more: the data path is back to one boolean check.
  for (let i = 0; i < 200 && p.telemetry.tap.active; i++) await new Promise((r) => setImmediate(r));
  assert.equal(p.telemetry.tap.active, false);
  assert.equal((await getJson(`${p.adminUrl}/api/v1/stats`)).tapSubscribers, 0);
});

test('tap: the rate limit drops events beyond N per second and reports how many', async (t) => {
  const { p } = await setup(t);
  // When each event was offered to the tap: the number of rate windows follows from these
  // times, however long the 60 requests take on a busy machine.
  const offered: number[] = [];
  const hub = p.telemetry.tap;
  const publish = hub.publish.bind(hub);
  hub.publish = (e) => {
    offered.push(performance.now());
    publish(e);
  };
  const c = await tap(p.adminUrl, 'rate=5');
  const s = await connect(p.port());
  await Promise.all(Array.from({ length: 60 }, (_, i) => h2Request(s, { ':path': `/x/${i}` })));
  await closeSession(s);
  // Drops are reported once a second.
  await c.waitForAccounted(60);
  c.close();
  assert.equal(offered.length, 60);
  assert.equal(c.events.length + c.dropped, 60, `${c.events.length} sent + ${c.dropped} dropped`);
  // A window opens with an event at least 1 s after the previous window opened, so the
  // events span at most 1 + span/1 s windows (one more if the first event came within the
  // first second of the process clock, where the initial window starts at 0).
  const span = offered[offered.length - 1]! - offered[0]!;
  // (+1 ms: these times are taken a moment before the hub reads its own clock.)
  const windows = 1 + Math.floor((span + 1) / 1000) + (offered[0]! < 1000 ? 1 : 0);
  assert.ok(c.events.length >= 5, `sent ${c.events.length}`);
  assert.ok(c.events.length <= 5 * windows, `sent ${c.events.length} in at most ${windows} windows (${span.toFixed(0)} ms)`);
  assert.ok(c.dropped >= 60 - 5 * windows, `dropped ${c.dropped}`);
});

test('access log: one JSON line per request, x-request-id added when absent, traceparent untouched', async (t) => {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const { p } = await setup(t, { accessLog: pino({ base: null }, sink) });
  const s = await connect(p.port());
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const r1 = await h2Request(s, { ':path': '/api/a', traceparent: tp });
  const r2 = await h2Request(s, { ':path': '/page', 'x-request-id': 'client-id-1' });
  await h2Request(s, { ':path': '/missing' });
  await closeSession(s);
  const generated = String(r1.headers['x-seen-request-id']);
  assert.match(generated, /^[0-9a-f]{12}-[0-9a-z]+$/);
  assert.equal(r1.headers['x-seen-traceparent'], tp);
  assert.equal(r2.headers['x-seen-request-id'], 'client-id-1');
  for (let i = 0; i < 100 && lines.length < 3; i++) await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.map((l) => [l.path, l.status, l.service, l.route]), [
    ['/api/a', 200, 'api', 'api'], ['/page', 200, 'web', 'rest'], ['/missing', 404, 'web', 'rest'],
  ]);
  assert.equal(lines[0]!.requestId, generated);
  assert.equal(lines[0]!.traceparent, tp);
  assert.equal(lines[1]!.requestId, 'client-id-1');
  assert.equal(lines[0]!.msg, 'request');
  assert.ok(lines.every((l) => typeof l.latencyMs === 'number' && l.attempts === 1 && typeof l.endpoint === 'string'));
});
