import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { monotonicClock, seededRandom } from '../../src/balancing/index.js';
import { healthCheckSchema } from '../../src/config/resilience-schema.js';
import { serviceObjectSchema } from '../../src/config/schema.js';
import { HealthChecker, type HealthCheckConfig, type Probe } from '../../src/policy/health-check.js';
import {
  GRPC_HEALTH_CHECK_PATH, ServingStatus, decodeHealthCheckResponse, encodeHealthCheckRequest,
} from '../../src/policy/health-check-probes.js';
import type { Endpoint } from '../../src/proxy/endpoint.js';
import { ServiceRuntime } from '../../src/proxy/service-runtime.js';
import { echoClient, startEchoServer, unary } from '../helpers/grpc-echo.js';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { ManualScheduler, endpoints, until } from './helpers.js';

function hc(raw: Record<string, unknown>): HealthCheckConfig {
  return healthCheckSchema.parse(raw);
}

/** A checker over real sockets with fast settings; `changes` emits ('change', endpoint, healthy, detail). */
function realChecker(raw: Record<string, unknown>, port: number, protocol: 'http2' | 'http1' = 'http2') {
  const [ep] = endpoints(1, monotonicClock, undefined, port) as [Endpoint];
  const changes = new EventEmitter();
  const checker = new HealthChecker(
    hc({ interval: '40ms', timeout: '500ms', jitter: 0, healthyThreshold: 2, unhealthyThreshold: 2, ...raw }),
    [ep],
    { protocol, onTransition: (e, healthy, detail) => changes.emit('change', healthy, detail, e) },
  );
  return { ep, changes, checker };
}

/** The next health transition, with what the deciding probe saw. */
async function nextChange(changes: EventEmitter, timeoutMs = 5000): Promise<{ healthy: boolean; detail: string }> {
  // A referenced timer: the checker's own timers do not keep the process alive.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no health change within ${timeoutMs} ms`)), timeoutMs);
  try {
    const [healthy, detail] = (await once(changes, 'change', { signal: ac.signal })) as [boolean, string];
    return { healthy, detail };
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------ gRPC health v1 codec

test('HealthCheckRequest and HealthCheckResponse are encoded and decoded by hand', () => {
  assert.deepEqual([...encodeHealthCheckRequest('')], [0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeHealthCheckRequest('a.B')], [0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x2e, 0x42]);
  const long = encodeHealthCheckRequest('x'.repeat(200));
  assert.deepEqual([...long.subarray(0, 8)], [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
  const frame = (...bytes: number[]) => Buffer.from([0, 0, 0, 0, bytes.length, ...bytes]);
  assert.equal(decodeHealthCheckResponse(frame(0x08, 1)), ServingStatus.SERVING);
  assert.equal(decodeHealthCheckResponse(frame(0x08, 2)), ServingStatus.NOT_SERVING);
  assert.equal(decodeHealthCheckResponse(frame()), ServingStatus.UNKNOWN, 'proto3 default');
  // Unknown fields of every wire type are skipped.
  assert.equal(decodeHealthCheckResponse(frame(0x12, 2, 0x61, 0x62, 0x18, 0x96, 0x01, 0x25, 1, 2, 3, 4, 0x08, 1)), 1);
  assert.equal(decodeHealthCheckResponse(frame(0x08)), undefined, 'truncated');
  assert.equal(decodeHealthCheckResponse(Buffer.from([1, 0, 0, 0, 2, 0x08, 1])), undefined, 'compressed');
});

// ------------------------------------------------------------------ state machine, manual time

test('starts healthy; unhealthy after unhealthyThreshold failures, healthy after healthyThreshold successes', () => {
  const sched = new ManualScheduler();
  const eps = endpoints(2, sched.clock);
  let results = [true, true];
  const probed: number[] = [];
  const probe: Probe = async (t) => {
    probed.push(t.port);
    return { healthy: results[t.port - 7001]!, detail: 'fake' };
  };
  const checker = new HealthChecker(hc({ interval: '1s', jitter: 0, unhealthyThreshold: 3, healthyThreshold: 2 }), eps, {
    protocol: 'http2', scheduler: sched.schedule, probe,
  });
  assert.equal(eps[0]!.healthy, true, 'traffic flows before the first probe');
  return (async () => {
    const step = async (ms: number): Promise<void> => {
      sched.advance(ms);
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    checker.start();
    await step(0);
    assert.deepEqual(probed, [7001, 7002], 'first probes right away without jitter');
    results = [false, true];
    await step(1000);
    await step(1000);
    assert.equal(eps[0]!.healthy, true, 'two failures are not enough');
    await step(1000);
    assert.equal(eps[0]!.healthy, false);
    assert.equal(eps[1]!.healthy, true);
    assert.equal(checker.status(eps[0]!)!.failures, 3);
    results = [true, true];
    await step(1000);
    assert.equal(eps[0]!.healthy, false, 'one success is not enough');
    results = [false, true];
    await step(1000);
    results = [true, true];
    await step(1000);
    assert.equal(eps[0]!.healthy, false, 'a failure restarts the success count');
    await step(1000);
    assert.equal(eps[0]!.healthy, true);
    assert.equal(eps[0]!.readySince, sched.clock.now(), 'returns through slow start');
    assert.equal(probed.length, 16);
    checker.stop();
    assert.equal(sched.pending, 0);
    await step(10_000);
    assert.equal(probed.length, 16, 'no probes after stop');
  })();
});

test('intervals are spread by the jitter, first probes within jitter × interval', async () => {
  const sched = new ManualScheduler();
  const eps = endpoints(50, sched.clock);
  const checker = new HealthChecker(hc({ interval: '10s', jitter: 20 }), eps, {
    protocol: 'http2', scheduler: sched.schedule, random: seededRandom(7), probe: async () => ({ healthy: true, detail: '' }),
  });
  checker.start();
  const first = sched.delays();
  assert.ok(first.every((d) => d >= 0 && d <= 2000), String(first));
  assert.ok(new Set(first).size > 40, 'spread');
  sched.advance(2000);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  // Every probe has answered (here, once the clock stood at 2 s): the next one is 10 s ± 20 % later.
  const next = sched.delays();
  assert.equal(next.length, 50);
  assert.ok(next.every((d) => d >= 8000 && d <= 12_000), String(next));
  assert.ok(new Set(next).size > 40, 'spread');
  checker.stop();
});

test('a probe that never answers fails after the timeout', async () => {
  const [ep] = endpoints(1, monotonicClock) as [Endpoint];
  let aborted = 0;
  const changes = new EventEmitter();
  const checker = new HealthChecker(hc({ interval: '20ms', timeout: '30ms', jitter: 0, unhealthyThreshold: 2 }), [ep], {
    protocol: 'http2',
    probe: (_t, signal) => new Promise(() => signal.addEventListener('abort', () => aborted++)),
    onTransition: (_e, healthy, detail) => changes.emit('change', healthy, detail),
  });
  checker.start();
  const c = await nextChange(changes, 2000);
  checker.stop();
  assert.deepEqual(c, { healthy: false, detail: 'no answer within 30 ms' });
  assert.ok(aborted >= 2, 'the probe is told to give up');
});

test('panic threshold: when health checks fail every endpoint, the service balances over all of them', async () => {
  const sched = new ManualScheduler();
  const service = new ServiceRuntime(
    serviceObjectSchema.parse({ name: 's', balancer: 'round-robin', endpoints: ['127.0.0.1:7101', '127.0.0.1:7102', '127.0.0.1:7103', '127.0.0.1:7104'] }),
    { clock: sched.clock, random: seededRandom(1) },
  );
  const bad = new Set([7101]);
  const checker = new HealthChecker(hc({ interval: '1s', jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 }), service.endpoints, {
    protocol: 'http2', scheduler: sched.schedule, probe: async (t) => ({ healthy: !bad.has(t.port), detail: '' }),
  });
  const picks = () => new Set(Array.from({ length: 8 }, () => service.pick(undefined, null)?.port));
  const step = async (): Promise<void> => {
    sched.advance(1000);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  checker.start();
  await step();
  assert.deepEqual([...picks()].sort(), [7102, 7103, 7104]);
  assert.equal(service.panicMode, false);
  bad.add(7102).add(7103);
  await step();
  assert.equal(service.panicMode, true, '1 of 4 healthy is below 50 %');
  assert.deepEqual([...picks()].sort(), [7101, 7102, 7103, 7104]);
  bad.clear();
  await step();
  assert.equal(service.panicMode, false);
  checker.stop();
  service.close(false);
});

// ------------------------------------------------------------------ real probes

test('tcp: a closed port turns unhealthy after the threshold, healthy again when it reopens', async (t) => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const { ep, changes, checker } = realChecker({ type: 'tcp' }, port);
  t.after(() => {
    checker.stop();
    server.close();
  });
  checker.start();
  await until(() => checker.status(ep)!.successes >= 2, 2000, 'successful probes');
  assert.equal(ep.healthy, true);
  await new Promise<void>((r) => server.close(() => r()));
  const down = await nextChange(changes);
  assert.equal(down.healthy, false);
  assert.match(down.detail, /ECONNREFUSED/);
  assert.equal(checker.status(ep)!.failures, 2);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  assert.equal((await nextChange(changes)).healthy, true);
  assert.equal(ep.healthy, true);
});

test('http over HTTP/2 prior knowledge: /healthz switching between 200 and 503', async (t) => {
  let status = 200;
  const seen: { path: string; method: string; ua: string }[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    seen.push({ path: String(headers[':path']), method: String(headers[':method']), ua: String(headers['user-agent']) });
    stream.respond({ ':status': headers[':path'] === '/healthz' ? status : 404 });
    stream.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { ep, changes, checker } = realChecker({ type: 'http' }, (server.address() as AddressInfo).port);
  t.after(() => {
    checker.stop();
    server.close();
  });
  checker.start();
  await until(() => checker.status(ep)!.successes >= 1, 2000, 'a probe');
  assert.deepEqual(seen[0], { path: '/healthz', method: 'GET', ua: 'switchyard-health-check' });
  status = 503;
  assert.deepEqual(await nextChange(changes), { healthy: false, detail: 'status 503' });
  status = 204;
  assert.deepEqual(await nextChange(changes), { healthy: true, detail: 'status 204' });
});

test('http over HTTP/1.1 for http1 services, with expectedStatus and path', async (t) => {
  let status = 200;
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    res.statusCode = status;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { ep, changes, checker } = realChecker(
    { type: 'http', path: '/ready', expectedStatus: { min: 200, max: 200 } },
    (server.address() as AddressInfo).port,
    'http1',
  );
  t.after(() => {
    checker.stop();
    server.close();
    server.closeAllConnections();
  });
  checker.start();
  await until(() => checker.status(ep)!.successes >= 1, 2000, 'a probe');
  assert.equal(paths[0], '/ready');
  status = 204; // outside { 200, 200 }
  assert.deepEqual(await nextChange(changes), { healthy: false, detail: 'status 204' });
  status = 200;
  assert.equal((await nextChange(changes)).healthy, true);
});

test('http: an endpoint that accepts connections but never answers fails by timeout', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.resume(); // read (and ignore) the request, so that the client's close is seen
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { changes, checker } = realChecker({ type: 'http', timeout: '60ms' }, (server.address() as AddressInfo).port);
  t.after(() => {
    checker.stop();
    server.close();
  });
  checker.start();
  assert.deepEqual(await nextChange(changes), { healthy: false, detail: 'no answer within 60 ms' });
  checker.stop();
  // Timed-out probes close their connections.
  await until(() => sockets.size === 0, 2000, 'probe connections closed');
});

// ------------------------------------------------------------------ gRPC health server (grpc-js, hand-encoded)

const identity = (b: Buffer): Buffer => b;
const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: GRPC_HEALTH_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Adds grpc.health.v1.Health/Check to a grpc-js server; `statuses` maps service names to ServingStatus. */
function addHealthService(server: grpc.Server, statuses: Map<string, number>, checks: string[] = []): void {
  server.addService(HEALTH_SERVICE, {
    Check(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const req = call.request;
      // HealthCheckRequest { string service = 1; } with a one-byte length (names are short here).
      const name = req.length > 2 && req[0] === 0x0a ? req.subarray(2, 2 + req[1]!).toString('utf8') : '';
      checks.push(name);
      const status = statuses.get(name);
      if (status === undefined) {
        cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${name}` });
        return;
      }
      cb(null, Buffer.from([0x08, status]));
    },
  });
}

async function grpcHealthServer(statuses: Map<string, number>, checks: string[]): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  addHealthService(server, statuses, checks);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port };
}

test('grpc: SERVING, NOT_SERVING and back, against a grpc-js server', async (t) => {
  const statuses = new Map<string, number>([['', ServingStatus.SERVING], ['pkg.Svc', ServingStatus.SERVING]]);
  const checks: string[] = [];
  const { server, port } = await grpcHealthServer(statuses, checks);
  const { ep, changes, checker } = realChecker({ type: 'grpc', grpcService: 'pkg.Svc' }, port);
  t.after(() => {
    checker.stop();
    server.forceShutdown();
  });
  checker.start();
  await until(() => checker.status(ep)!.successes >= 1, 2000, 'a probe');
  assert.equal(checks[0], 'pkg.Svc');
  assert.equal(checker.status(ep)!.last!.detail, 'SERVING');
  statuses.set('pkg.Svc', ServingStatus.NOT_SERVING);
  assert.deepEqual(await nextChange(changes), { healthy: false, detail: 'NOT_SERVING' });
  statuses.set('pkg.Svc', ServingStatus.SERVING);
  assert.deepEqual(await nextChange(changes), { healthy: true, detail: 'SERVING' });
  statuses.set('pkg.Svc', ServingStatus.SERVICE_UNKNOWN);
  assert.deepEqual(await nextChange(changes), { healthy: false, detail: 'SERVICE_UNKNOWN' });
});

test('grpc: an unknown service name (NOT_FOUND) and a server without the health service are unhealthy', async (t) => {
  const { server, port } = await grpcHealthServer(new Map<string, number>([['', ServingStatus.SERVING]]), []);
  const echo = await startEchoServer('no-health');
  const a = realChecker({ type: 'grpc', grpcService: 'nope' }, port);
  const b = realChecker({ type: 'grpc' }, echo.port);
  t.after(() => {
    a.checker.stop();
    b.checker.stop();
    server.forceShutdown();
    echo.close();
  });
  a.checker.start();
  b.checker.start();
  const [ca, cb] = await Promise.all([nextChange(a.changes), nextChange(b.changes)]);
  assert.equal(ca.healthy, false);
  assert.match(ca.detail, /^grpc-status 5 \(unknown service nope\)/);
  assert.equal(cb.healthy, false);
  assert.match(cb.detail, /^grpc-status 12/);
});

// ------------------------------------------------------------------ end to end through the proxy

test('through the proxy: an endpoint failing /healthz gets no requests while unhealthy, and gets them again after recovery', async (t) => {
  const sick = new Set<string>();
  const served = new Map<string, number>();
  const handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, b: { name: string }) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/healthz') {
      stream.respond({ ':status': sick.has(b.name) ? 503 : 200 });
      stream.end();
      return;
    }
    served.set(b.name, (served.get(b.name) ?? 0) + 1);
    stream.respond({ ':status': 200, 'x-backend': b.name });
    stream.end();
  };
  const b1 = await startH2Backend('b1', { handler });
  const b2 = await startH2Backend('b2', { handler });
  const p = await startProxy({
    listeners: [{ name: 'in', listen: '127.0.0.1:0', protocol: 'http2', service: 'svc' }],
    services: [{
      name: 'svc',
      balancer: 'round-robin',
      endpoints: [`127.0.0.1:${b1.port}`, `127.0.0.1:${b2.port}`],
      healthCheck: { type: 'http', interval: '50ms', timeout: '500ms', jitter: 0, unhealthyThreshold: 2, healthyThreshold: 2 },
    }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    await Promise.all([b1.close(), b2.close()]);
  });
  await waitReady(p);
  const ep2 = p.proxy.services.get('svc')!.endpoints.find((e) => e.port === b2.port)!;
  const burst = async (n: number): Promise<Map<string, number>> => {
    served.clear();
    for (let i = 0; i < n; i++) assert.equal((await h2Request(session, { ':path': '/api' })).status, 200);
    return new Map(served);
  };
  assert.deepEqual(Object.fromEntries(await burst(20)), { b1: 10, b2: 10 });

  sick.add('b2');
  const tookMs = await until(() => !ep2.healthy, 3000, 'b2 unhealthy');
  assert.ok(tookMs < 50 * 2 + 800, `noticed after ${tookMs} ms`);
  assert.deepEqual(Object.fromEntries(await burst(50)), { b1: 50 });

  sick.delete('b2');
  await until(() => ep2.healthy, 3000, 'b2 healthy');
  const back = await burst(40);
  assert.equal(back.get('b2'), 20);
});

test('through the proxy: a gRPC endpoint switching to NOT_SERVING stops getting calls within interval × threshold, and returns', async (t) => {
  const e1 = await startEchoServer('g1');
  const e2 = await startEchoServer('g2');
  const h1 = new Map<string, number>([['', ServingStatus.SERVING]]);
  const h2 = new Map<string, number>([['', ServingStatus.SERVING]]);
  addHealthService(e1.server, h1);
  addHealthService(e2.server, h2);
  const p = await startProxy({
    listeners: [{ name: 'grpc', listen: '127.0.0.1:0', protocol: 'auto', service: 'echo' }],
    services: [{
      name: 'echo',
      balancer: 'round-robin',
      endpoints: [`127.0.0.1:${e1.port}`, `127.0.0.1:${e2.port}`],
      healthCheck: { type: 'grpc', interval: '100ms', timeout: '500ms', jitter: 0, unhealthyThreshold: 2, healthyThreshold: 2 },
    }],
  });
  const client = echoClient(p.port());
  t.after(async () => {
    client.close();
    await p.stop();
    e1.close();
    e2.close();
  });
  await waitReady(p);
  const ep2 = p.proxy.services.get('echo')!.endpoints.find((e) => e.port === e2.port)!;
  const calls = async (n: number): Promise<Record<string, number>> => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const { reply } = await unary(client, { text: `${i}` });
      seen[reply.backend!] = (seen[reply.backend!] ?? 0) + 1;
    }
    return seen;
  };
  assert.deepEqual(await calls(10), { g1: 5, g2: 5 });

  h2.set('', ServingStatus.NOT_SERVING);
  const tookMs = await until(() => !ep2.healthy, 3000, 'g2 unhealthy');
  // Two failed probes, the first up to one interval away, plus a margin for slow machines.
  assert.ok(tookMs <= 100 * 2 + 800, `noticed after ${tookMs} ms`);
  assert.deepEqual(await calls(20), { g1: 20 });

  h2.set('', ServingStatus.SERVING);
  await until(() => ep2.healthy, 3000, 'g2 healthy');
  assert.deepEqual(await calls(10), { g1: 5, g2: 5 });
});
