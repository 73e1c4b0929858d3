import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import vm from 'node:vm';
import pino from 'pino';
import { GrpcStatus, ProxyErrors } from '../../src/errors.js';
import type { Exchange } from '../../src/proxy/exchange/exchange.js';
import type { ServiceRuntime } from '../../src/proxy/service-runtime.js';
import { CORE_JS } from '../../src/telemetry/dashboard.js';
import { failureReason, REASON_NAMES } from '../../src/telemetry/failure-reason.js';
import { classify, Telemetry } from '../../src/telemetry/telemetry.js';
import { Outcome, WindowStats } from '../../src/telemetry/window-stats.js';

/** The fields classify() and failureReason() read. */
function outcome(status: number, grpcStatus: number, errorCode = ''): Exchange {
  return { status, grpcStatus, errorCode } as Exchange;
}

function reasonName(ex: Exchange): string {
  return REASON_NAMES[failureReason(ex)]!;
}

test('a client cancel while the request waited for an endpoint is a failure (no-endpoint), not a cancel', () => {
  // What the exchange records when the client gives up in the failfast queue: no status, CANCELLED, and the proxy error.
  const ex = outcome(0, GrpcStatus.CANCELLED, ProxyErrors.NO_ENDPOINT.code);
  assert.equal(classify(ex), Outcome.FAILURE);
  assert.equal(reasonName(ex), 'no-endpoint');
  // A cancel without a proxy error stays neutral.
  assert.equal(classify(outcome(0, GrpcStatus.CANCELLED)), Outcome.CANCELLED);
});

test('failure reasons come from the proxy error code first, then from the endpoint answer', () => {
  const cases: [Exchange, number, string][] = [
    // The route timeout / grpc-timeout expired while waiting: DEADLINE_EXCEEDED or 504.
    [outcome(200, GrpcStatus.DEADLINE_EXCEEDED, ProxyErrors.TIMEOUT.code), Outcome.FAILURE, 'timeout'],
    [outcome(504, -1, ProxyErrors.TIMEOUT.code), Outcome.FAILURE, 'timeout'],
    [outcome(502, -1, ProxyErrors.CONNECT_FAILED.code), Outcome.FAILURE, 'connect-failed'],
    [outcome(503, -1, ProxyErrors.QUEUE_TIMEOUT.code), Outcome.FAILURE, 'queue-timeout'],
    [outcome(200, GrpcStatus.UNAVAILABLE, ProxyErrors.NO_ENDPOINT.code), Outcome.FAILURE, 'no-endpoint'],
    // A proxy error on a 4xx is still the proxy's failure.
    [outcome(404, -1, ProxyErrors.NO_ROUTE.code), Outcome.FAILURE, 'no-route'],
    // A code this build does not know.
    [outcome(503, -1, 'SWY_ERR_SOMETHING_NEW'), Outcome.FAILURE, 'proxy-error'],
    // The endpoint's own answers.
    [outcome(503, -1), Outcome.FAILURE, 'upstream-5xx'],
    [outcome(200, GrpcStatus.UNAVAILABLE), Outcome.FAILURE, 'upstream-unavailable'],
    [outcome(200, GrpcStatus.DEADLINE_EXCEEDED), Outcome.FAILURE, 'upstream-deadline-exceeded'],
    [outcome(200, GrpcStatus.INTERNAL), Outcome.FAILURE, 'upstream-internal'],
    [outcome(0, -1), Outcome.FAILURE, 'no-response'],
    [outcome(200, GrpcStatus.NOT_FOUND), Outcome.SUCCESS, ''],
    [outcome(404, -1), Outcome.SUCCESS, ''],
    [outcome(200, GrpcStatus.OK), Outcome.SUCCESS, ''],
  ];
  for (const [ex, want, reason] of cases) {
    const got = classify(ex);
    assert.equal(got, want, `status ${ex.status} grpc ${ex.grpcStatus} ${ex.errorCode}`);
    if (got === Outcome.FAILURE) assert.equal(reasonName(ex), reason, `status ${ex.status} grpc ${ex.grpcStatus} ${ex.errorCode}`);
  }
});

test('every proxy error code has its own reason name', () => {
  const names = Object.values(ProxyErrors).map((k) => reasonName(outcome(0, -1, k.code)));
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^[a-z]+(-[a-z]+)*$/);
  assert.equal(new Set(REASON_NAMES).size, REASON_NAMES.length);
});

test('WindowStats: failure reasons per window and since start', () => {
  const w = new WindowStats();
  const noEndpoint = failureReason(outcome(0, 1, ProxyErrors.NO_ENDPOINT.code));
  const timeout = failureReason(outcome(504, -1, ProxyErrors.TIMEOUT.code));
  for (let i = 0; i < 5; i++) w.record(100, 1000, Outcome.SUCCESS);
  for (let i = 0; i < 8; i++) w.record(100, 1000, Outcome.FAILURE, noEndpoint);
  w.record(101, 1000, Outcome.FAILURE, timeout);
  const s = w.snapshot(101_500, 10, 1000);
  assert.equal(s.failures, 9);
  assert.deepEqual(s.failureReasons, { 'no-endpoint': 8, timeout: 1 });
  assert.equal(s.successRate, 5 / 14);
  // The 10 s window forgets them, the minute and the totals do not.
  assert.deepEqual(w.snapshot(115_500, 10, 1000).failureReasons, {});
  assert.deepEqual(w.snapshot(115_500, 60, 1000).failureReasons, { 'no-endpoint': 8, timeout: 1 });
  // A slot reused a minute later starts from zero.
  w.record(160, 1000, Outcome.FAILURE, timeout);
  assert.deepEqual(w.snapshot(160_500, 10, 1000).failureReasons, { timeout: 1 });
  assert.equal(w.totalReasons![noEndpoint], 8);
  assert.equal(w.totalReasons![timeout], 2);
});

/** A service as telemetry reads it, with no endpoint available. */
function fakeService(name: string): ServiceRuntime {
  return {
    name,
    endpoints: [],
    draining: new Set(),
    watchEndpoints: () => {},
    telemetry: undefined,
    panicMode: false,
    hasPickable: false,
    unavailableReason: () => `no available endpoint for service "${name}" (127.0.0.1:1: connection refused (ECONNREFUSED))`,
  } as unknown as ServiceRuntime;
}

function fakeExchange(service: ServiceRuntime, status: number, grpcStatus: number, errorCode: string): Exchange {
  return {
    service, status, grpcStatus, errorCode,
    lastEndpoint: null, listenerName: 'edge', routeName: 'default', path: '/pkg.Svc/Call', method: 'POST', isGrpc: true,
    startedAt: performance.now(), attempts: 0, hedges: 0, reqHeaders: [':path', '/pkg.Svc/Call'],
  } as unknown as Exchange;
}

test('an outage as users saw it: 87 answered, 89 lost in the queue reads as ~49 %, with the reason everywhere', async () => {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, any>);
      done();
    },
  });
  const t = new Telemetry({ processMetrics: false, requestIds: false, accessLog: pino(sink) });
  const events: Record<string, any>[] = [];
  t.tap.active = true;
  t.tap.publish = (e) => void events.push(e);
  const svc = fakeService('api');
  for (let i = 0; i < 87; i++) {
    const ex = fakeExchange(svc, 200, GrpcStatus.OK, '');
    t.onExchangeStart(ex);
    t.onExchangeEnd(ex);
  }
  for (let i = 0; i < 89; i++) {
    const ex = fakeExchange(svc, 0, GrpcStatus.CANCELLED, ProxyErrors.NO_ENDPOINT.code);
    t.onExchangeStart(ex);
    t.onExchangeEnd(ex);
  }
  const st = t.stats(60) as any;
  const s = st.services[0];
  assert.equal(s.successes, 87);
  assert.equal(s.failures, 89);
  assert.equal(s.cancelled, 0);
  assert.equal(s.successRate, 87 / 176);
  assert.deepEqual(s.failureReasons, { 'no-endpoint': 89 });
  assert.deepEqual(s.total.failureReasons, { 'no-endpoint': 89 });
  assert.equal(s.available, false);
  assert.match(s.unavailable, /service "api".*ECONNREFUSED/);
  assert.equal(st.listeners[0].successRate, 87 / 176);
  assert.deepEqual(st.methods[0].failureReasons, { 'no-endpoint': 89 });

  const m = await t.metrics();
  assert.match(m, /switchyard_requests_total\{[^}]*classification="failure",reason="no-endpoint"\} 89/);

  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 176);
  const failed = lines.filter((l) => l.classification === 'failure');
  assert.equal(failed.length, 89);
  for (const l of failed) {
    assert.equal(l.reason, 'no-endpoint');
    assert.equal(l.errorCode, 'SWY_ERR_NO_ENDPOINT');
  }
  assert.equal(lines[0]!.reason, '');
  assert.equal(events.length, 176);
  assert.equal(events.filter((e) => e.reason === 'no-endpoint' && e.classification === 'failure').length, 89);

  // The dashboard's headline, computed by the page's own code from the same stats.
  const ctx = vm.createContext({ st });
  vm.runInContext(CORE_JS, ctx);
  const headline = vm.runInContext('var t = summarize(st); [pct(t.successRate), failureDetail(t), t.unavailable.length]', ctx) as [string, string, number];
  assert.equal(headline[0], '49.43%');
  assert.match(headline[1], /^89 failed \(no-endpoint 89\) · 0 cancelled$/);
  assert.equal(headline[2], 1);
});

test('dashboard: a rate is rounded down, so it never reads 100.00 % while anything failed', () => {
  const ctx = vm.createContext({});
  vm.runInContext(CORE_JS, ctx);
  const pct = (r: number | null): string => vm.runInContext(`pct(${String(r)})`, ctx) as string;
  assert.equal(pct(1), '100.00%');
  assert.equal(pct(0.99996), '99.99%');
  assert.equal(pct(0.29), '29.00%');
  assert.equal(pct(0.5), '50.00%');
  assert.equal(pct(0), '0.00%');
  assert.equal(pct(null), '–');
});
