import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { connectFailureCause, Endpoint, type EndpointOwner } from '../../src/proxy/endpoint.js';
import { endpointLogEvents } from '../../src/telemetry/endpoint-log.js';
import { closedPort, getJson, memoryLogger, startTelemetryProxy, until, type TelemetryProxy } from './harness.js';

test('Endpoint: the owner hears of an outage once, however many connects fail, and of the recovery once', () => {
  let now = 1000;
  const calls: string[] = [];
  const owner: EndpointOwner = {
    onEndpointStateChange: () => {},
    onEndpointReachabilityChange: (ep, downForMs) => void calls.push(ep.cause === '' ? `up after ${downForMs}` : `down: ${ep.cause}`),
  };
  const ep = new Endpoint({ host: '127.0.0.1', port: 1 }, 1, { now: () => now }, {}, owner);
  ep.setState(1);
  assert.deepEqual(calls, [], 'a first connect is not a recovery');
  ep.connectFailed('connection refused (ECONNREFUSED)');
  for (let i = 0; i < 10; i++) {
    now += 100;
    ep.connectFailed(i < 5 ? 'connection refused (ECONNREFUSED)' : 'connect timeout after 1000 ms');
  }
  assert.equal(ep.state, 2);
  assert.equal(ep.connectFailuresTotal, 11);
  // The cause stays current; the owner heard once.
  assert.equal(ep.cause, 'connect timeout after 1000 ms');
  assert.deepEqual(calls, ['down: connection refused (ECONNREFUSED)']);
  now += 500;
  ep.setState(1);
  ep.setState(2);
  ep.setState(1);
  assert.deepEqual(calls, ['down: connection refused (ECONNREFUSED)', 'up after 1500']);
  assert.equal(ep.cause, '');
});

test('connect failure causes: words and the system code', () => {
  const err = (code: string, message = `connect ${code} 127.0.0.1:1`): Error => Object.assign(new Error(message), { code });
  assert.equal(connectFailureCause(err('ECONNREFUSED')), 'connection refused (ECONNREFUSED)');
  assert.equal(connectFailureCause(err('ENOTFOUND', 'getaddrinfo ENOTFOUND nosuchhost.invalid')), 'host not found (ENOTFOUND)');
  assert.equal(connectFailureCause(err('UND_ERR_CONNECT_TIMEOUT')), 'connect timeout (UND_ERR_CONNECT_TIMEOUT)');
  assert.equal(connectFailureCause(new Error('connect timeout after 1000 ms')), 'connect timeout after 1000 ms');
  assert.equal(connectFailureCause(err('EPROTO', 'protocol error')), 'protocol error (EPROTO)');
  assert.equal(connectFailureCause(err('EPIPE', 'write EPIPE')), 'write EPIPE');
});

/** A proxy with one service of the given endpoints, logging endpoint reachability into `lines`. */
async function proxyTo(protocol: 'http1' | 'http2', endpoints: string[]): Promise<{ p: TelemetryProxy; lines: Record<string, any>[] }> {
  const { log, lines } = await memoryLogger();
  const p = await startTelemetryProxy(
    {
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
      services: [{
        name: 'api',
        protocol,
        endpoints,
        connectTimeout: '2s',
        reconnectBackoff: { base: '10ms', max: '40ms' },
      }],
    },
    {},
    { endpointEvents: endpointLogEvents(log) },
  );
  return { p, lines };
}

function endpointOf(p: TelemetryProxy, i = 0): Endpoint {
  return p.proxy.services.get('api')!.endpoints[i]!;
}

function linesWith(lines: Record<string, any>[], msg: string): Record<string, any>[] {
  return lines.filter((l) => l.msg === msg);
}

async function ready(adminUrl: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${adminUrl}/ready`);
  return { status: r.status, text: await r.text() };
}

function listen(server: http.Server | http2.Http2Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

test('HTTP/2 endpoint on a closed port: one warning with the cause after many attempts, one info line on recovery', async (t) => {
  const port = await closedPort();
  const { p, lines } = await proxyTo('http2', [`127.0.0.1:${port}`]);
  const server = http2.createServer();
  t.after(async () => {
    await p.stop();
    await new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
  });
  const ep = endpointOf(p);
  await until(() => ep.connectFailuresTotal >= 5, 'five failed connects');
  const warns = linesWith(lines, 'endpoint unreachable');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.equal(warns[0]!.level, 40);
  assert.equal(warns[0]!.service, 'api');
  assert.equal(warns[0]!.endpoint, `127.0.0.1:${port}`);
  assert.match(warns[0]!.cause, /connection refused \(ECONNREFUSED\)/);
  assert.equal(lines.length, 1, 'nothing else is logged per retry');

  // /ready names the service, the endpoint and the cause.
  const r = await ready(p.adminUrl);
  assert.equal(r.status, 503);
  assert.equal(r.text, `not ready: no available endpoint for service "api" (127.0.0.1:${port}: connection refused (ECONNREFUSED))\n`);
  const st = await getJson(`${p.adminUrl}/api/v1/stats`);
  assert.equal(st.services[0].available, false);
  assert.equal(st.services[0].endpoints[0].state, 'reconnecting');
  assert.match(st.services[0].endpoints[0].cause, /ECONNREFUSED/);
  const topo = await getJson(`${p.adminUrl}/api/v1/topology`);
  assert.match(topo.services[0].endpoints[0].cause, /ECONNREFUSED/);

  // The endpoint comes up on that port: one info line, state ready, /ready 200.
  await listen(server, port);
  await until(() => ep.state === 1, 'the endpoint to be ready');
  const infos = linesWith(lines, 'endpoint reachable again');
  assert.equal(infos.length, 1);
  assert.equal(infos[0]!.level, 30);
  assert.equal(infos[0]!.service, 'api');
  assert.equal(infos[0]!.endpoint, `127.0.0.1:${port}`);
  assert.ok(infos[0]!.downForMs >= 0);
  assert.equal(linesWith(lines, 'endpoint unreachable').length, 1);
  assert.equal(ep.cause, '');
  assert.deepEqual(await ready(p.adminUrl), { status: 200, text: 'ready\n' });
  const after = await getJson(`${p.adminUrl}/api/v1/stats`);
  assert.equal(after.services[0].available, true);
  assert.equal(after.services[0].endpoints[0].cause, null);
});

test('an http2 service pointed at an HTTP/1.1-only server: one warning saying HTTP/2 never started, reconnects back off instead of looping', async (t) => {
  let connections = 0;
  const h1 = http.createServer((_req, res) => res.end('HTTP/1.1 only'));
  h1.on('connection', () => connections++);
  await listen(h1, 0);
  const port = (h1.address() as { port: number }).port;
  const { p, lines } = await proxyTo('http2', [`127.0.0.1:${port}`]);
  t.after(async () => {
    await p.stop();
    h1.closeAllConnections();
    await new Promise<void>((r) => h1.close(() => r()));
  });
  const ep = endpointOf(p);
  await until(() => ep.connectFailuresTotal >= 3, 'three failed attempts');
  const warns = linesWith(lines, 'endpoint unreachable');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.match(warns[0]!.cause, /no HTTP\/2 from the endpoint: closed before its SETTINGS/);
  assert.equal(ep.state, 2, 'reconnecting, not ready');
  // Backoff (10 ms → 40 ms here) bounds the attempts: a reconnect loop would make thousands.
  const seen = connections;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(connections - seen <= 60, `${connections - seen} connections in 500 ms`);
  const r = await ready(p.adminUrl);
  assert.equal(r.status, 503);
  assert.match(r.text, /no HTTP\/2 from the endpoint/);
});

test('a misspelt endpoint (nosuchhost.invalid): one warning naming the host lookup failure, and /ready names it', async (t) => {
  const { p, lines } = await proxyTo('http2', ['nosuchhost.invalid:8080']);
  t.after(() => p.stop());
  const svc = p.proxy.services.get('api')!;
  // Configured hostnames are resolved (and re-resolved) by the service's source; until
  // the name resolves the service has no endpoint, and the source says why.
  await until(() => (svc.discovery?.errors ?? 0) >= 1, 'a failed lookup');
  assert.equal(svc.endpoints.length, 0);
  const warns = linesWith(lines, 'discovery failed; keeping the last endpoint set');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.equal(warns[0]!.service, 'api');
  // ENOTFOUND where a resolver answers; EAI_AGAIN where none is reachable.
  assert.match(warns[0]!.error, /^cannot resolve nosuchhost\.invalid: .*\((ENOTFOUND|EAI_AGAIN)\)$/);
  const r = await ready(p.adminUrl);
  assert.equal(r.status, 503);
  assert.match(r.text, /^not ready: no endpoint for service "api": hostnames nosuchhost\.invalid failed: cannot resolve nosuchhost\.invalid: .*(ENOTFOUND|EAI_AGAIN)\)\n$/);
});

test('HTTP/1.1: an idle live endpoint is ready and an idle dead one reconnecting with its cause, without any request', async (t) => {
  const live = http.createServer((_req, res) => res.end('ok'));
  await listen(live, 0);
  const livePort = (live.address() as import('node:net').AddressInfo).port;
  const deadPort = await closedPort();
  const { p, lines } = await proxyTo('http1', [`127.0.0.1:${livePort}`, `127.0.0.1:${deadPort}`]);
  const revived = http.createServer((_req, res) => res.end('back'));
  t.after(async () => {
    await p.stop();
    live.closeAllConnections();
    await new Promise<void>((r) => live.close(() => r()));
    revived.closeAllConnections();
    await new Promise<void>((r) => (revived.listening ? revived.close(() => r()) : r()));
  });
  const good = endpointOf(p, 0);
  const bad = endpointOf(p, 1);
  await until(() => good.state === 1, 'the live endpoint to be ready');
  // Three checks of the dead one (backoff 100, 200 ms between them).
  await until(() => bad.connectFailuresTotal >= 3, 'three failed connect checks');
  assert.equal(bad.state, 2);
  assert.match(bad.cause, /connection refused \(ECONNREFUSED\)/);
  const topo = await getJson(`${p.adminUrl}/api/v1/topology`);
  assert.deepEqual(topo.services[0].endpoints.map((e: any) => e.state), ['ready', 'reconnecting']);
  const warns = linesWith(lines, 'endpoint unreachable');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.equal(warns[0]!.endpoint, `127.0.0.1:${deadPort}`);
  assert.equal(good.cause, '');
  // One endpoint is up: the service is available.
  assert.equal((await ready(p.adminUrl)).status, 200);

  // The dead one comes back: the next check finds it, one info line.
  await listen(revived, deadPort);
  await until(() => bad.state === 1, 'the revived endpoint to be ready');
  assert.equal(linesWith(lines, 'endpoint reachable again').length, 1);
  assert.equal(linesWith(lines, 'endpoint unreachable').length, 1);
});

test('HTTP/1.1: a misspelt endpoint is reported once, and /ready names it', async (t) => {
  const { p, lines } = await proxyTo('http1', ['nosuchhost.invalid:80']);
  t.after(() => p.stop());
  const svc = p.proxy.services.get('api')!;
  await until(() => (svc.discovery?.errors ?? 0) >= 1, 'a failed lookup');
  const warns = linesWith(lines, 'discovery failed; keeping the last endpoint set');
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.match(warns[0]!.error, /(ENOTFOUND|EAI_AGAIN)/);
  const r = await ready(p.adminUrl);
  assert.equal(r.status, 503);
  assert.match(r.text, /service "api": hostnames nosuchhost\.invalid failed: cannot resolve nosuchhost\.invalid: /);
});
