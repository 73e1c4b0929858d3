/**
 * The programmatic API as a user imports it: `switchyard` and
 * `switchyard/http2` resolved through the package's `exports` (Node's
 * self-reference), a proxy started in this process in front of real
 * node:http2 backends, reloaded and stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig, startProxy, type Config } from 'switchyard';
import { connectHttp2, type StreamHandler } from 'switchyard/http2';
import { closeSession, connect, h2Request, startH2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

function edgeConfig(endpoints: number[], extra: Record<string, unknown> = {}): Config {
  return parseConfig({
    admin: { enabled: false },
    log: { level: 'silent' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web' }],
    services: [{ name: 'web', endpoints: endpoints.map((p) => `127.0.0.1:${p}`) }],
    ...extra,
  });
}

/** Which backend answered each of `n` sequential GETs through the proxy. */
async function backendsOf(port: number, n: number): Promise<string[]> {
  const session = await connect(port);
  try {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await h2Request(session, { ':path': `/${i}` });
      assert.equal(r.status, 200);
      out.push(String(r.headers['x-backend']));
    }
    return out;
  } finally {
    await closeSession(session);
  }
}

test('the package name resolves to the built entry points through exports', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', "const m = await import('switchyard'); const h = await import('switchyard/http2'); console.log(typeof m.startProxy, typeof m.loadConfig, typeof h.connectHttp2, import.meta.resolve('switchyard'))"], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [start, load, engine, url] = r.stdout.trim().split(' ');
  assert.deepEqual([start, load, engine], ['function', 'function', 'function']);
  assert.ok(url!.endsWith('/dist/src/index.js'), url);
});

test('startProxy forwards to a node:http2 backend, reload moves traffic to another, stop closes the port', async (t) => {
  const a = await startH2Backend('a');
  const b = await startH2Backend('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(edgeConfig([a.port]));
  t.after(() => proxy.stop(0));
  const { port } = proxy.address('edge');
  assert.deepEqual(proxy.address(), proxy.address('edge'));
  assert.throws(() => proxy.address('nope'), /no listener named "nope" \(listeners: edge\)/);
  assert.equal(proxy.adminAddress(), undefined);

  assert.deepEqual(await backendsOf(port, 3), ['a', 'a', 'a']);
  assert.equal(proxy.ready, true);

  const outcome = await proxy.reload(edgeConfig([b.port]));
  assert.deepEqual(outcome.needsRestart, []);
  assert.deepEqual(outcome.changes.endpoints, { added: 1, removed: 1 });
  assert.deepEqual(proxy.config.services[0]!.endpoints.map((e) => e.address.port), [b.port]);
  // Same listener, same port: the socket was kept.
  assert.equal(proxy.address('edge').port, port);
  await waitFor(() => proxy.ready, 'the new endpoint');
  const before = a.requests;
  assert.deepEqual(await backendsOf(port, 3), ['b', 'b', 'b']);
  assert.equal(a.requests, before);

  // A restart-only setting is reported and keeps its running value.
  const withAdmin = await proxy.reload(edgeConfig([b.port], { admin: { listen: '127.0.0.1:0' } }));
  assert.deepEqual(withAdmin.needsRestart, ['admin']);
  assert.equal(proxy.config.admin.enabled, false);

  const stopped = proxy.stop(100);
  assert.equal(proxy.stop(), stopped, 'a second stop returns the same promise');
  await stopped;
  await assert.rejects(connect(port), /ECONNREFUSED/);
  await assert.rejects(proxy.reload(edgeConfig([a.port])), /the proxy is stopped/);
});

test('a proxy from loadConfig with admin enabled serves /ready and counts requests in /metrics', async (t) => {
  const a = await startH2Backend('a');
  t.after(() => a.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'switchyard.yaml');
  writeFileSync(file, [
    'admin: { listen: 127.0.0.1:0 }',
    'log: { level: silent }',
    'listeners:',
    '  - { name: edge, listen: 127.0.0.1:0, service: web }',
    'services:',
    `  - { name: web, endpoints: [127.0.0.1:${a.port}] }`,
    '',
  ].join('\n'));
  const proxy = await startProxy(await loadConfig(file));
  t.after(() => proxy.stop(0));
  const admin = proxy.adminAddress();
  assert.ok(admin !== undefined && admin.port > 0);
  assert.deepEqual(await backendsOf(proxy.address().port, 4), ['a', 'a', 'a', 'a']);
  const ready = await fetch(`http://127.0.0.1:${admin.port}/ready`);
  assert.equal(ready.status, 200);
  await ready.arrayBuffer();
  const metrics = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('switchyard_requests_total{') && l.includes('service="web"') && l.includes('status_code="200"'));
  assert.ok(line !== undefined, 'a 200 request counter for service web');
  assert.equal(Number(line.slice(line.lastIndexOf(' ') + 1)), 4);
  await proxy.stop(0);
  await assert.rejects(fetch(`http://127.0.0.1:${admin.port}/ready`));
});

test('the HTTP/2 engine from switchyard/http2 sends a request through the proxy', async (t) => {
  const a = await startH2Backend('a');
  t.after(() => a.close());
  const proxy = await startProxy(edgeConfig([a.port]));
  t.after(() => proxy.stop(0));
  const socket = net.connect(proxy.address().port, '127.0.0.1');
  const response = await new Promise<{ headers: string[]; body: string }>((resolve, reject) => {
    let headers: string[] = [];
    let body = '';
    const handler: StreamHandler = {
      onHeaders(_s, h) {
        headers = h;
      },
      onData(s, data, end) {
        body += data.toString();
        s.consume(data.length);
        if (end) resolve({ headers, body });
      },
      onTrailers() {
        resolve({ headers, body });
      },
      onReset(_s, code) {
        reject(new Error(`reset ${code}`));
      },
      onDataSent() {},
    };
    const conn = connectHttp2(socket, { onClose: (_c, err) => err && reject(err) });
    conn.request([':method', 'GET', ':scheme', 'http', ':path', '/engine', ':authority', 'localhost'], true, handler);
    t.after(() => conn.destroy());
  });
  assert.equal(response.headers[response.headers.indexOf(':status') + 1], '200');
  assert.equal(response.headers[response.headers.indexOf('x-backend') + 1], 'a');
  assert.equal(response.body, 'hello from a\n');
});

test('bad input: parseConfig names the key path; startProxy on a held port rejects with EADDRINUSE and leaves nothing open', async (t) => {
  assert.throws(
    () => parseConfig({ listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web' }], services: [{ name: 'web', endpoints: ['127.0.0.1:1'], balancer: 'fastest' }] }),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path.startsWith('services[0].balancer')),
  );
  const held = net.createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => held.close(() => r())));
  const port = (held.address() as net.AddressInfo).port;
  const free = net.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  const freePort = (free.address() as net.AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  // The first listener binds, the second cannot: the first must be closed again.
  const config = parseConfig({
    admin: { enabled: false },
    log: { level: 'silent' },
    listeners: [
      { name: 'first', listen: `127.0.0.1:${freePort}`, service: 'web' },
      { name: 'second', listen: `127.0.0.1:${port}`, service: 'web' },
    ],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  });
  await assert.rejects(startProxy(config), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE' && e.message.includes(String(port)));
  await assert.rejects(connect(freePort), /ECONNREFUSED/);
});
