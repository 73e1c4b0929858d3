import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ManualClock } from '../../src/balancing/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { echoClient, unary, type EchoClient, type EchoMessage } from '../helpers/grpc-echo.js';
import { h2Request, connect, closeSession, startH2Backend, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';

/**
 * A real grpc-js backend that attaches a per-call ORCA report to its
 * trailers (`endpoint-load-metrics-bin`, grpc-js's server call metric
 * recording): the utilization it is told, and a fixed 100 qps.
 */
async function reportingBackend(name: string, utilization: number): Promise<{ port: number; calls: number; close(): void }> {
  const def = protoLoader.loadSync(path.resolve('test/fixtures/echo.proto'), { defaults: true });
  const pkg = grpc.loadPackageDefinition(def).test as grpc.GrpcObject;
  const server = new grpc.Server({ 'grpc.server_call_metric_recording': 1 });
  const b = { port: 0, calls: 0, close: () => server.forceShutdown() };
  server.addService((pkg.Echo as grpc.ServiceClientConstructor).service, {
    Unary(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      b.calls++;
      const m = call.getMetricsRecorder();
      m.recordCPUUtilizationMetric(utilization);
      m.recordQpsMetric(100);
      m.recordNamedMetric('queue', 3);
      cb(null, { backend: name });
    },
  });
  b.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return b;
}

async function startWithClock(raw: Record<string, unknown>, clock: ManualClock): Promise<RunningProxy> {
  const proxy = new Proxy(parseConfig({ admin: { enabled: false }, ...raw }, 'test'), { policies: defaultPolicies, clock });
  await proxy.start();
  return { proxy, port: () => proxy.listeners[0]!.address.port, stop: () => proxy.stop(200) };
}

test('a gRPC backend reporting utilization 0.9 beside two at 0.3 gets 1/7 of the requests, the others 3/7 each (in-band reports, weighted-round-robin)', async (t) => {
  const backends = [await reportingBackend('hot', 0.9), await reportingBackend('cool-1', 0.3), await reportingBackend('cool-2', 0.3)];
  // A clock that moves only when the test says: weight updates happen exactly where the test puts them.
  const clock = new ManualClock(1_000);
  const p = await startWithClock({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
    services: [{
      name: 'api',
      balancer: 'weighted-round-robin',
      orca: { blackoutPeriod: '10s', weightUpdatePeriod: '1s' },
      endpoints: backends.map((b) => `127.0.0.1:${b.port}`),
    }],
  }, clock);
  let client: EchoClient | undefined;
  t.after(async () => {
    client?.close();
    await p.stop();
    for (const b of backends) b.close();
  });
  await waitReady(p);
  client = echoClient(p.port());
  // Calls go out in batches of `batch` concurrent ones (grpc-js answers slowly with call metric recording on: keep calls few and parallel).
  const seen = async (n: number, batch: number): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (let i = 0; i < n; i += batch) {
      const replies = await Promise.all(Array.from({ length: batch }, () => unary(client!, { text: 'x' })));
      for (const r of replies) out.set(r.reply.backend!, (out.get(r.reply.backend!) ?? 0) + 1);
    }
    return out;
  };
  // Before any weight counts (blackout): equal shares.
  assert.deepEqual([...(await seen(6, 6)).values()], [2, 2, 2]);
  const svc = p.proxy.services.get('api')!;
  for (const ep of svc.endpoints) assert.equal(ep.load.orca!.reports, 2, `${ep.id} reported on every response`);
  clock.advance(9_000);
  assert.deepEqual([...(await seen(6, 6)).values()], [2, 2, 2], 'still in blackout');
  clock.advance(1_000);
  // Weights 100/0.9 and 100/0.3: 1 : 3 : 3, exactly, over whole periods of 7 picks.
  const shares = await seen(70, 35);
  assert.deepEqual([shares.get('hot'), shares.get('cool-1'), shares.get('cool-2')], [10, 30, 30]);
  const util = svc.endpoints.map((e) => e.load.orca!.utilization);
  assert.deepEqual(util, [0.9, 0.3, 0.3]);
  assert.equal(svc.endpoints.reduce((n, e) => n + e.load.orca!.malformed, 0), 0);
  // Nothing left in flight.
  assert.equal(svc.endpoints.reduce((n, e) => n + e.load.pending, 0), 0);
});

test('TEXT reports in HTTP/2 response headers weight an HTTP service; a malformed one is counted and the response still relayed', async (t) => {
  const texts = ['TEXT cpu_utilization=0.8, rps_fractional=40', 'TEXT application_utilization=0.2, cpu_utilization=0.9, rps_fractional=40', 'TEXT cpu_utilization=oops'];
  const backends = await Promise.all(texts.map((text, i) =>
    startH2Backend(`b${i}`, {
      handler: (stream) => stream.respond({ ':status': 200, 'x-backend': `b${i}`, 'endpoint-load-metrics': text }, { endStream: true }),
    })));
  const clock = new ManualClock(0);
  const p = await startWithClock({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'wrr', orca: { blackoutPeriod: 0 }, endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  }, clock);
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  for (let i = 0; i < 6; i++) assert.equal((await h2Request(session, { ':path': '/' })).status, 200);
  clock.advance(1_000);
  const count = new Map<string, number>();
  for (let i = 0; i < 90; i++) {
    const who = String((await h2Request(session, { ':path': '/' })).headers['x-backend']);
    count.set(who, (count.get(who) ?? 0) + 1);
  }
  await closeSession(session);
  const eps = p.proxy.services.get('web')!.endpoints;
  // Every response of b2 carried an unreadable report: counted, never used; the response went through all the same.
  assert.deepEqual(eps.map((e) => e.load.orca!.malformed), [0, 0, count.get('b2')! + 2]);
  assert.deepEqual(eps.map((e) => e.load.orca!.reports), [count.get('b0')! + 2, count.get('b1')! + 2, 0]);
  // Weights 50 and 200; the endpoint without a usable report gets their mean, 125: 50 : 200 : 125 of 90 = 12 : 48 : 30.
  assert.deepEqual([count.get('b0'), count.get('b1'), count.get('b2')], [12, 48, 30]);
});
