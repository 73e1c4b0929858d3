/**
 * Outages must look like outages: with the only endpoint of a service down,
 * the calls the proxy could not serve are failures with a reason in the
 * stats, the metrics, the tap and the access log, and /ready and
 * `switchyard stat` say which service is down and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { renderStat, type StatsResponse } from '../../src/cli/stat.js';
import { closeSession, connect, h2Request } from '../helpers/proxy-harness.js';
import { echoClient, unary } from '../helpers/grpc-echo.js';
import { getJson, getText, samples, startTelemetryProxy, sum, until, type TelemetryProxy } from '../telemetry/harness.js';

const GRPC_CALLS = 20;
const H2_CALLS = 10;

async function downProxy(failfastTimeout: string): Promise<{ p: TelemetryProxy; endpoint: string }> {
  // Port 1 is outside the ephemeral range: nothing else on the machine (another
  // test's listener, a client socket) can take it while this test runs.
  const endpoint = '127.0.0.1:1';
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
    services: [{ name: 'api', endpoints: [endpoint], failfast: { timeout: failfastTimeout }, reconnectBackoff: { base: '20ms', max: '200ms' } }],
  });
  // The endpoint has been tried and found down before the calls start.
  const ep = p.proxy.services.get('api')!.endpoints[0]!;
  await until(() => ep.connectFailuresTotal >= 1 && ep.state === 2, 'the endpoint to be found down');
  return { p, endpoint };
}

function serviceStats(st: any): any {
  return st.services.find((s: any) => s.name === 'api');
}

test(
  'clients that give up while waiting for an endpoint are failures (no-endpoint or timeout), not cancels',
  async (t) => {
    const { p, endpoint } = await downProxy('3s');
    const client = echoClient(p.port());
    const session = await connect(p.port());
    t.after(async () => {
      client.close();
      await closeSession(session).catch(() => {});
      await p.stop();
    });
    const svc = p.proxy.services.get('api')!;

    // gRPC calls with a 1 s deadline: shorter than the 3 s failfast wait.
    const grpcCalls = Array.from({ length: GRPC_CALLS }, (_, i) =>
      unary(client, { text: `call ${i}` }, { deadlineMs: 1000 }).then(
        () => 'ok',
        (e: grpc.ServiceError) => e.code,
      ),
    );
    // HTTP/2 requests that wait in the queue, then cancel.
    const streams: http2.ClientHttp2Stream[] = [];
    for (let i = 0; i < H2_CALLS; i++) {
      const req = session.request({ ':path': `/wait/${i}` });
      req.on('error', () => {});
      req.resume();
      streams.push(req);
    }
    await until(() => svc.failfast.size >= H2_CALLS, 'the HTTP/2 requests to wait in the queue');
    for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);

    const codes = await Promise.all(grpcCalls);
    for (const c of codes) assert.ok(c === grpc.status.DEADLINE_EXCEEDED || c === grpc.status.UNAVAILABLE, `gRPC call ended with ${String(c)}`);
    const total = GRPC_CALLS + H2_CALLS;
    await until(() => serviceStats(p.telemetry.stats(60)).total.requests >= total, 'every call to be counted');

    const st = await getJson(`${p.adminUrl}/api/v1/stats?window=1m`);
    const s = serviceStats(st);
    assert.equal(s.requests, total);
    assert.equal(s.cancelled, 0, 'calls the proxy could not serve are not neutral cancels');
    assert.equal(s.failures, total);
    assert.ok(s.successRate <= 0.1, `success rate ${s.successRate}`);
    const reasons = Object.keys(s.failureReasons);
    assert.ok(reasons.length > 0 && reasons.every((r) => r === 'no-endpoint' || r === 'timeout'), JSON.stringify(s.failureReasons));
    assert.equal(sum(Object.values(s.failureReasons).map((value) => ({ value: value as number }))), total);
    assert.ok(serviceStats(st).endpoints[0].cause.includes('ECONNREFUSED'));
    assert.equal(st.listeners[0].successRate, 0);

    const m = await getText(`${p.adminUrl}/metrics`);
    assert.equal(sum(samples(m, 'switchyard_requests_total', { service: 'api', classification: 'cancelled' })), 0);
    assert.equal(sum(samples(m, 'switchyard_requests_total', { service: 'api', classification: 'failure' })), total);

    const ready = await fetch(`${p.adminUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), new RegExp(`service "api" \\(${endpoint.replace(/\./g, '\\.')}: connection refused \\(ECONNREFUSED\\)\\)`));
  },
);

test('an outage the proxy answers (queue timeout, then failfast): 0 % success, reasons in stats, tap, metrics and stat', async (t) => {
  const { p, endpoint } = await downProxy('300ms');
  const client = echoClient(p.port());
  const session = await connect(p.port());
  t.after(async () => {
    client.close();
    await closeSession(session).catch(() => {});
    await p.stop();
  });
  const tapEvents: any[] = [];
  const tapReq = await import('../telemetry/harness.js').then((h) => h.tap(p.adminUrl, 'service=api&classification=failure'));
  t.after(() => tapReq.close());

  const grpcCodes = await Promise.all(
    Array.from({ length: GRPC_CALLS }, (_, i) =>
      unary(client, { text: `call ${i}` }, { deadlineMs: 20_000 }).then(() => 'ok', (e: grpc.ServiceError) => e.code),
    ),
  );
  for (const c of grpcCodes) assert.equal(c, grpc.status.UNAVAILABLE);
  const h2 = await Promise.all(Array.from({ length: H2_CALLS }, (_, i) => h2Request(session, { ':path': `/x/${i}` })));
  for (const r of h2) {
    assert.equal(r.status, 503);
    assert.ok(['SWY_ERR_NO_ENDPOINT', 'SWY_ERR_QUEUE_TIMEOUT'].includes(String(r.headers['switchyard-error'])), String(r.headers['switchyard-error']));
  }
  const total = GRPC_CALLS + H2_CALLS;
  await tapReq.waitFor(total);
  tapEvents.push(...tapReq.events);

  const st = (await getJson(`${p.adminUrl}/api/v1/stats`)) as StatsResponse & { services: any[] };
  const s = serviceStats(st);
  assert.equal(s.requests, total);
  assert.equal(s.failures, total);
  assert.equal(s.successRate, 0);
  assert.equal(s.available, false);
  const reasons = s.failureReasons as Record<string, number>;
  assert.ok(Object.keys(reasons).every((r) => r === 'queue-timeout' || r === 'no-endpoint'), JSON.stringify(reasons));
  assert.ok((reasons['queue-timeout'] ?? 0) >= 1, JSON.stringify(reasons));
  assert.equal((reasons['queue-timeout'] ?? 0) + (reasons['no-endpoint'] ?? 0), total);
  assert.deepEqual(s.total.failureReasons, reasons);

  assert.equal(tapEvents.length, total);
  for (const e of tapEvents) {
    assert.equal(e.classification, 'failure');
    assert.ok(e.reason === 'queue-timeout' || e.reason === 'no-endpoint', e.reason);
  }
  const m = await getText(`${p.adminUrl}/metrics`);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { service: 'api', reason: 'queue-timeout' }))
    + sum(samples(m, 'switchyard_requests_total', { service: 'api', reason: 'no-endpoint' })), total);

  // switchyard stat: the service is marked, the endpoint shows why, the reasons are listed.
  const text = renderStat(st, 'services', undefined).text;
  assert.match(text, /^api .*UNAVAILABLE$/m);
  assert.match(text, new RegExp(`^  ${endpoint.replace(/\./g, '\\.')} .*reconnecting: connection refused \\(ECONNREFUSED\\)$`, 'm'));
  assert.match(text, /^api: no available endpoint for service "api" \(.*ECONNREFUSED\)\)$/m);
  assert.match(text, new RegExp(`^api: ${total} failed in the last 10s: (queue-timeout|no-endpoint) \\d+`, 'm'));
});
