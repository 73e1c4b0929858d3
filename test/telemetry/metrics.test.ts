import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { closeSession, connect, h2Request, startH2Backend, waitReady, type H2Backend } from '../helpers/proxy-harness.js';
import { echoClient, startEchoServer, unary } from '../helpers/grpc-echo.js';
import { Outcome, WindowStats } from '../../src/telemetry/window-stats.js';
import { getJson, getText, samples, startTelemetryProxy, sum } from './harness.js';

/** A backend answering /fail with 503 and everything else with 200. */
function failingBackend(name: string): Promise<H2Backend> {
  return startH2Backend(name, {
    handler: (stream, headers) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        const fail = String(headers[':path']).startsWith('/fail');
        stream.respond({ ':status': fail ? 503 : 200, 'x-backend': name });
        stream.end(fail ? 'no\n' : 'ok\n');
      });
    },
  });
}

test('WindowStats: counts, success rate and percentiles over 10 s and 1 min windows', () => {
  const w = new WindowStats();
  // Second 100: 90 successes of 1..90 ms, 10 failures of 1 s.
  for (let i = 1; i <= 90; i++) w.record(100, i * 1000, Outcome.SUCCESS);
  for (let i = 0; i < 10; i++) w.record(100, 1_000_000, Outcome.FAILURE);
  w.record(100, 5000, Outcome.CANCELLED);
  const s = w.snapshot(100_500, 10, 1000);
  assert.equal(s.requests, 101);
  assert.equal(s.successes, 90);
  assert.equal(s.failures, 10);
  assert.equal(s.cancelled, 1);
  assert.equal(s.successRate, 0.9);
  // 101 values: the 50th percentile is the 51st smallest (50 ms, with the 5 ms cancel counted), exact to 1 %.
  assert.ok(s.latencyMs.p50! >= 50 && s.latencyMs.p50! <= 50 * 1.01, `p50 ${s.latencyMs.p50}`);
  assert.ok(s.latencyMs.p99! >= 1000 && s.latencyMs.p99! <= 1010, `p99 ${s.latencyMs.p99}`);
  // 9.5 s of window covered: 101 / 9.5 requests per second.
  assert.ok(Math.abs(s.rps - 101 / 9.5) < 1e-9, `rps ${s.rps}`);
  // 15 s later the 10 s window is empty, the 1 min window still has everything.
  const later10 = w.snapshot(115_500, 10, 1000);
  assert.equal(later10.requests, 0);
  assert.equal(later10.latencyMs.p50, null);
  const later60 = w.snapshot(115_500, 60, 1000);
  assert.equal(later60.requests, 101);
  assert.ok(later60.latencyMs.p50! >= 50);
  // After a minute and a half, nothing; totals stay.
  assert.equal(w.snapshot(190_000, 60, 1000).requests, 0);
  assert.equal(w.total, 101);
  assert.equal(w.totalFailures, 10);
});

test('HTTP/2: /metrics and /api/v1/stats count exactly what was sent, by status and endpoint', async (t) => {
  const backends = await Promise.all(['a', 'b'].map(failingBackend));
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', routes: [
      { name: 'bad', match: { pathPrefix: '/fail' }, backends: [{ service: 'web' }] },
      { name: 'good', match: { pathPrefix: '/' }, backends: [{ service: 'web' }] },
    ] }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady({ proxy: p.proxy } as never);
  const s = await connect(p.port());
  for (let i = 0; i < 100; i++) {
    const r = await h2Request(s, { ':path': i % 5 === 0 ? `/fail/${i}` : `/ok?i=${i}` });
    assert.equal(r.status, i % 5 === 0 ? 503 : 200);
  }
  await closeSession(s);

  const m = await getText(`${p.adminUrl}/metrics`);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { route: 'good', status_code: '200', classification: 'success' })), 80);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { route: 'bad', status_code: '503', classification: 'failure' })), 20);
  assert.equal(sum(samples(m, 'switchyard_requests_total')), 100);
  // Round robin: 50 per endpoint, each series labelled with listener, service and endpoint.
  for (const b of backends) {
    assert.equal(sum(samples(m, 'switchyard_requests_total', { listener: 'edge', service: 'web', endpoint: `127.0.0.1:${b.port}` })), 50);
    assert.equal(sum(samples(m, 'switchyard_endpoint_state', { endpoint: `127.0.0.1:${b.port}`, state: 'ready' })), 1);
    assert.equal(sum(samples(m, 'switchyard_upstream_connections', { endpoint: `127.0.0.1:${b.port}` })), 1);
  }
  assert.equal(sum(samples(m, 'switchyard_request_duration_seconds_count')), 100);
  assert.equal(sum(samples(m, 'switchyard_request_duration_seconds_bucket', { le: '+Inf' })), 100);
  assert.equal(sum(samples(m, 'switchyard_requests_in_flight', { service: 'web' })), 0);
  assert.equal(sum(samples(m, 'switchyard_request_retries_total')), 0);
  assert.equal(sum(samples(m, 'switchyard_client_connections_total', { listener: 'edge' })), 1);
  assert.ok(samples(m, 'switchyard_http2_engine_events_total', { event: 'refused_streams' }).length === 1);
  assert.ok(m.includes('# TYPE switchyard_requests_total counter'));
  assert.ok(m.includes('# TYPE switchyard_request_duration_seconds histogram'));

  const st = await getJson(`${p.adminUrl}/api/v1/stats?window=1m`);
  const web = st.services.find((x: any) => x.name === 'web');
  assert.equal(web.requests, 100);
  assert.equal(web.total.requests, 100);
  assert.equal(web.failures, 20);
  assert.equal(web.successRate, 0.8);
  assert.deepEqual(web.statusCodes, { 200: 80, 503: 20 });
  assert.deepEqual(web.endpoints.map((e: any) => e.share), [0.5, 0.5]);
  assert.deepEqual(web.endpoints.map((e: any) => e.state), ['ready', 'ready']);
  assert.equal(st.listeners.find((l: any) => l.name === 'edge').requests, 100);
  assert.equal(st.routes.find((r: any) => r.name === 'bad').requests, 20);
  assert.equal(st.routes.find((r: any) => r.name === 'good').requests, 80);
  // Paths without their query string.
  assert.equal(st.paths.find((x: any) => x.name === '/ok').requests, 80);
  const topo = await getJson(`${p.adminUrl}/api/v1/topology`);
  assert.deepEqual(topo.listeners[0].routes.map((r: any) => r.name), ['bad', 'good']);
  assert.equal(topo.services[0].endpoints.length, 2);
  const bad = await fetch(`${p.adminUrl}/api/v1/stats?window=5m`);
  assert.equal(bad.status, 400);
});

test('gRPC: counts by grpc-status and method; failures follow the classification', async (t) => {
  const servers = await Promise.all(['g1', 'g2'].map((n) => startEchoServer(n)));
  const p = await startTelemetryProxy({
    listeners: [{ name: 'grpc', listen: '127.0.0.1:0', protocol: 'http2', service: 'echo' }],
    services: [{ name: 'echo', balancer: 'round-robin', endpoints: servers.map((s) => `127.0.0.1:${s.port}`) }],
  });
  const client = echoClient(p.port());
  t.after(async () => {
    client.close();
    await p.stop();
    for (const s of servers) s.close();
  });
  await waitReady({ proxy: p.proxy } as never);
  for (let i = 0; i < 30; i++) await unary(client, { text: `ok ${i}` });
  for (let i = 0; i < 10; i++) await assert.rejects(unary(client, { text: 'x', failCode: grpc.status.UNAVAILABLE }));
  for (let i = 0; i < 5; i++) await assert.rejects(unary(client, { text: 'x', failCode: grpc.status.NOT_FOUND }));

  const m = await getText(`${p.adminUrl}/metrics`);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { grpc_status: '0', classification: 'success' })), 30);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { grpc_status: '14', classification: 'failure' })), 10);
  // NOT_FOUND is an answer, not a failure of the service.
  assert.equal(sum(samples(m, 'switchyard_requests_total', { grpc_status: '5', classification: 'success' })), 5);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { status_code: '200' })), 45);
  assert.equal(sum(samples(m, 'switchyard_grpc_requests_total', { grpc_method: 'test.Echo/Unary' })), 45);
  assert.equal(sum(samples(m, 'switchyard_grpc_requests_total', { grpc_method: 'test.Echo/Unary', grpc_status: '14' })), 10);

  const st = await getJson(`${p.adminUrl}/api/v1/stats`);
  const method = st.methods.find((x: any) => x.name === 'test.Echo/Unary');
  assert.equal(method.requests, 45);
  assert.equal(method.failures, 10);
  assert.deepEqual(method.grpcStatuses, { 0: 30, 5: 5, 14: 10 });
  assert.equal(method.successRate, 35 / 45);
  const echo = st.services.find((x: any) => x.name === 'echo');
  assert.deepEqual(echo.grpcStatuses, { 0: 30, 5: 5, 14: 10 });
});

test('latency percentiles and histogram reflect a backend that takes 50 ms', async (t) => {
  const slow = await startH2Backend('slow', { delayMs: 50 });
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'slow' }],
    services: [{ name: 'slow', endpoints: [`127.0.0.1:${slow.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await slow.close();
  });
  await waitReady({ proxy: p.proxy } as never);
  const s = await connect(p.port());
  await Promise.all(Array.from({ length: 20 }, () => h2Request(s, { ':path': '/' })));
  await closeSession(s);
  const st = await getJson(`${p.adminUrl}/api/v1/stats?window=10s`);
  const svc = st.services[0];
  assert.equal(svc.requests, 20);
  // Never below the backend's delay; generous above it for scheduling on a busy machine.
  for (const q of ['p50', 'p95', 'p99', 'p999']) {
    assert.ok(svc.latencyMs[q] >= 50, `${q} ${svc.latencyMs[q]} >= 50`);
    assert.ok(svc.latencyMs[q] < 1000, `${q} ${svc.latencyMs[q]} < 1000`);
  }
  assert.ok(svc.endpoints[0].latencyEstimateMs > 0);
  const m = await getText(`${p.adminUrl}/metrics`);
  assert.equal(sum(samples(m, 'switchyard_request_duration_seconds_bucket', { le: '0.025' })), 0);
  assert.equal(sum(samples(m, 'switchyard_request_duration_seconds_bucket', { le: '+Inf' })), 20);
  assert.ok(sum(samples(m, 'switchyard_request_duration_seconds_sum')) >= 20 * 0.05);
});

test('hedged attempts are counted in switchyard_request_hedges_total, apart from retries', async (t) => {
  const slow = await startH2Backend('slow', { delayMs: 400 });
  const fast = await startH2Backend('fast');
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web', routes: [{ name: 'hedged', match: {}, service: 'web', idempotent: true, hedge: { delay: '30ms' } }] }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: [`127.0.0.1:${slow.port}`, `127.0.0.1:${fast.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await slow.close();
    await fast.close();
  });
  const s = await connect(p.port());
  for (let i = 0; i < 6; i++) {
    const r = await h2Request(s, { ':path': '/' });
    assert.equal(r.headers['x-backend'], 'fast', 'the hedge to the fast endpoint answers first');
  }
  await closeSession(s);
  const m = await getText(`${p.adminUrl}/metrics`);
  const hedges = sum(samples(m, 'switchyard_request_hedges_total', { route: 'hedged' }));
  assert.ok(hedges >= 3 && hedges <= 6, `hedges counted: ${hedges}`);
  assert.equal(sum(samples(m, 'switchyard_request_retries_total', { route: 'hedged' })), 0);
});
