/**
 * The service runtime applying endpoint sets from a discovery source: members
 * that stay keep their state, conditions are honoured, removed endpoints drain,
 * and guards and telemetry follow the set. The source here is a programmatic
 * one handed in through DiscoveryOptions.sourceFor (the embedding API); the
 * endpoints are real node:http2 servers on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { monotonicClock, seededRandom } from '../../src/balancing/index.js';
import { parseConfig, type ServiceConfig } from '../../src/config/index.js';
import type { DiscoveredEndpoint, DiscoverySink, DiscoverySource } from '../../src/discovery/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { ServiceRuntime, type EndpointEvents } from '../../src/proxy/service-runtime.js';
import { Telemetry } from '../../src/telemetry/index.js';
import { closeSession, connect, h2Request, startH2Backend, type H2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

/** A source the test drives by hand. */
class HandSource implements DiscoverySource {
  readonly kind = 'hand';
  readonly description = 'hand-driven test source';
  sink: DiscoverySink | undefined;
  stopped = false;
  start(sink: DiscoverySink): void {
    this.sink = sink;
  }
  stop(): void {
    this.stopped = true;
  }
  send(eps: DiscoveredEndpoint[]): void {
    assert.ok(this.sink, 'started');
    this.sink.update(eps);
  }
}

function ep(port: number, extra: Partial<DiscoveredEndpoint> = {}): DiscoveredEndpoint {
  return { address: { host: '127.0.0.1', port }, weight: 1, ready: true, serving: true, terminating: false, ...extra };
}

function serviceConfig(raw: Record<string, unknown> = {}): ServiceConfig {
  const c = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'l', listen: '127.0.0.1:0', service: 's' }],
    services: [{ name: 's', discovery: { file: '/unused/by/this/test.yaml' }, ...raw }],
  }, 'test');
  return c.services[0]!;
}

function runtime(source: HandSource, raw: Record<string, unknown> = {}, events?: EndpointEvents): ServiceRuntime {
  const s = new ServiceRuntime(serviceConfig(raw), {
    clock: monotonicClock,
    random: seededRandom(7),
    policies: defaultPolicies,
    events,
    discovery: { sourceFor: () => source },
  });
  s.start();
  return s;
}


function pickCounts(s: ServiceRuntime, n: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const e = s.pick(undefined, null);
    if (e !== undefined) out.set(e.port, (out.get(e.port) ?? 0) + 1);
  }
  return out;
}

async function backends(n: number): Promise<H2Backend[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startH2Backend(`b${i}`)));
}

test('an endpoint that stays keeps its object, connections and load record; weight and zone changes apply in place', async (t) => {
  const [a, b] = await backends(2);
  const src = new HandSource();
  const s = runtime(src, { balancer: 'weighted-round-robin' });
  t.after(async () => {
    s.close(false);
    await Promise.all([a!.close(), b!.close()]);
  });
  src.send([ep(a!.port), ep(b!.port)]);
  await waitFor(() => s.endpoints.every((e) => e.state === 1), 'both connected');
  const first = s.endpoints.find((e) => e.port === a!.port)!;
  const sessionsBefore = a!.sessions;
  src.send([ep(a!.port, { weight: 3, zone: 'zone-a', forZones: ['zone-a'], name: 'pod-a' }), ep(b!.port)]);
  const same = s.endpoints.find((e) => e.port === a!.port)!;
  assert.equal(same, first, 'the same endpoint object');
  assert.equal(same.weight, 3);
  assert.equal(same.zone, 'zone-a');
  assert.deepEqual(same.forZones, ['zone-a']);
  assert.equal(same.sourceName, 'pod-a');
  assert.equal(a!.sessions, sessionsBefore, 'no new connection');
  const counts = pickCounts(s, 400);
  assert.equal(counts.get(a!.port), 300, 'weight 3 of 4');
  assert.equal(counts.get(b!.port), 100);
});

test('serving-but-terminating endpoints take requests only while no ready one exists; not-ready ones none', async (t) => {
  const [a, b, c] = await backends(3);
  const src = new HandSource();
  const s = runtime(src);
  t.after(async () => {
    s.close(false);
    await Promise.all([a!.close(), b!.close(), c!.close()]);
  });
  src.send([ep(a!.port), ep(b!.port, { ready: false, serving: true, terminating: true }), ep(c!.port, { ready: false, serving: false })]);
  await waitFor(() => s.hasPickable, 'a pickable endpoint');
  assert.deepEqual([...pickCounts(s, 200).keys()], [a!.port], 'only the ready one');
  assert.equal(s.endpoints.length, 2, 'the not-ready, not-serving one is not a member');
  assert.ok(s.endpoints.find((e) => e.port === b!.port)!.terminating);

  // a goes away: the terminating one serves rather than nothing.
  src.send([ep(b!.port, { ready: false, serving: true, terminating: true })]);
  assert.deepEqual([...pickCounts(s, 200).keys()], [b!.port]);
  assert.equal(s.unavailableReason(), '');

  // A ready endpoint is back: the terminating one is left alone again.
  src.send([ep(c!.port), ep(b!.port, { ready: false, serving: true, terminating: true })]);
  await waitFor(() => s.endpoints.find((e) => e.port === c!.port)!.state === 1, 'c connected');
  assert.deepEqual([...pickCounts(s, 200).keys()], [c!.port]);
});

test('a removed endpoint drains: never picked, health checks stop, connections close when its requests end; re-adding it makes a fresh member', async (t) => {
  let probesToA = 0;
  const hold: (() => void)[] = [];
  const handler = (name: string) => (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    stream.on('error', () => {});
    stream.resume();
    if (headers[':path'] === '/healthz') {
      if (name === 'a') probesToA++;
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    const answer = (): void => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-backend': name });
      stream.end('ok');
    };
    if (headers[':path'] === '/hold') hold.push(answer);
    else answer();
  };
  const a = await startH2Backend('a', { handler: handler('a') });
  const b = await startH2Backend('b', { handler: handler('b') });
  const src = new HandSource();
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's' }],
    services: [{
      name: 's',
      discovery: { file: '/unused/by/this/test.yaml' },
      balancer: 'round-robin',
      drainTimeout: '10s',
      healthCheck: { type: 'http', path: '/healthz', interval: '30ms', jitter: 0 },
    }],
  }, 'test');
  const telemetry = new Telemetry({ processMetrics: false });
  const proxy = new Proxy(config, { policies: defaultPolicies, observer: telemetry, discovery: { sourceFor: () => src } });
  telemetry.attach(proxy);
  await proxy.start();
  const session = await connect(proxy.listeners[0]!.address.port);
  t.after(async () => {
    for (const h of hold.splice(0)) h();
    await closeSession(session).catch(() => {});
    await proxy.stop(200);
    await Promise.all([a.close(), b.close()]);
  });
  const s = proxy.services.get('s')!;
  src.send([ep(a.port)]);
  await waitFor(() => probesToA >= 2, 'a probed');

  // One request held on a, then a leaves.
  const held = h2Request(session, { ':method': 'GET', ':path': '/hold' });
  await waitFor(() => hold.length === 1, 'the held request at a');
  src.send([ep(b.port)]);
  const removed = [...s.draining][0]!;
  assert.equal(removed.port, a.port);
  assert.equal(removed.state, 3, 'removed');
  const probesAtRemoval = probesToA;
  for (let i = 0; i < 20; i++) {
    const r = await h2Request(session, { ':method': 'GET', ':path': '/' });
    assert.equal(r.headers['x-backend'], 'b');
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(probesToA, probesAtRemoval, 'no probe after removal');
  const metrics = async (): Promise<string> => telemetry.metrics();
  assert.match(await metrics(), new RegExp(`switchyard_endpoint_pending_requests\\{service="s",endpoint="127.0.0.1:${a.port}"\\} 1`), 'a draining endpoint is still in the metrics');

  // Re-added while draining: a new member; the draining one finishes its request.
  src.send([ep(a.port), ep(b.port)]);
  const fresh = s.endpoints.find((e) => e.port === a.port)!;
  assert.notEqual(fresh, removed);
  assert.equal(s.draining.size, 1);
  hold.shift()!();
  const r = await held;
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-backend'], 'a');
  await waitFor(() => s.draining.size === 0, 'the drain to end');
  // One series per endpoint id: the re-added member took the record over.
  const text = await metrics();
  const series = text.split('\n').filter((l) => l.startsWith(`switchyard_endpoint_pending_requests{service="s",endpoint="127.0.0.1:${a.port}"}`));
  assert.equal(series.length, 1, text);

  // Removed for good: after the drain, its series leave /metrics.
  src.send([ep(b.port)]);
  await waitFor(() => s.draining.size === 0, 'the second drain');
  assert.doesNotMatch(await metrics(), new RegExp(`endpoint="127.0.0.1:${a.port}"`));
});

test('a failing source keeps the last set, is reported once per cause, recovers, and is stopped with the service', async (t) => {
  const [a] = await backends(1);
  const src = new HandSource();
  const seen: string[] = [];
  const s = runtime(src, {}, {
    discoveryFailed: (service, source, message) => seen.push(`failed ${service} ${source}: ${message}`),
    discoveryRecovered: (service) => seen.push(`recovered ${service}`),
    endpointsChanged: (service, added, removed, updated, total) => seen.push(`changed ${service} +${added.length} -${removed.length} ~${updated} =${total}`),
  });
  t.after(async () => {
    s.close(false);
    await a!.close();
  });
  assert.match(s.unavailableReason(), /waiting for hand-driven test source/);
  src.send([ep(a!.port)]);
  src.sink!.error('boom 1');
  src.sink!.error('boom 1');
  src.sink!.error('boom 2');
  assert.equal(s.endpoints.length, 1, 'the last set stays');
  assert.equal(s.discovery!.healthy, false);
  assert.equal(s.discovery!.lastError, 'boom 2');
  assert.equal(s.discovery!.errors, 3);
  src.send([ep(a!.port)]);
  assert.equal(s.discovery!.healthy, true);
  assert.deepEqual(seen, [
    'changed s +1 -0 ~0 =1',
    'failed s hand-driven test source: boom 1',
    'failed s hand-driven test source: boom 2',
    'recovered s',
  ]);
  s.close(true);
  assert.equal(src.stopped, true);
  src.sink!.update([]);
  assert.equal(s.discovery!.updates, 2, 'nothing applied after close');
});
