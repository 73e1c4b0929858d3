import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { closeSession, connect, h2Request, runConcurrently, startH2Backend, startProxy, type H2Backend, type RunningProxy } from '../helpers/proxy-harness.js';
import { samples, startTelemetryProxy } from '../telemetry/harness.js';
import { waitFor } from '../helpers/wait.js';
import { EndpointState } from '../../src/proxy/endpoint.js';

const SERVICE_MS = 25;
/** Requests each backend serves at once (its worker pool); endpointCapacity says the same. */
const SLOTS = 3;

/**
 * A backend that serves `limit` requests at a time (the rest wait in FIFO
 * order, as a worker pool does) and answers each after SERVICE_MS.
 */
interface Slots {
  limit: number;
  active: number;
  queue: http2.ServerHttp2Stream[];
  /** Requests that found every slot taken and waited, by the `x-from` header of the client. */
  queued: Map<string, number>;
}

function serve(stream: http2.ServerHttp2Stream, slots: Slots, name: string): void {
  slots.active++;
  setTimeout(() => {
    slots.active--;
    if (!stream.destroyed) {
      stream.respond({ ':status': 200, 'x-backend': name });
      stream.end();
    }
    const next = slots.queue.shift();
    if (next !== undefined) serve(next, slots, name);
  }, SERVICE_MS);
}

async function zoneBackend(name: string, host: string, slots: Slots): Promise<H2Backend> {
  return startH2Backend(name, {
    host,
    handler(stream, headers) {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        if (slots.active < slots.limit) return serve(stream, slots, name);
        const from = String(headers['x-from']);
        slots.queued.set(from, (slots.queued.get(from) ?? 0) + 1);
        slots.queue.push(stream);
      });
    },
  });
}

const ZONES = { a: ['127.0.0.11', '127.0.0.12'], b: ['127.0.0.21', '127.0.0.22'], c: ['127.0.0.31', '127.0.0.32'] } as const;
type Zone = keyof typeof ZONES;

interface Fleet {
  backends: { zone: Zone; backend: H2Backend; slots: Slots }[];
  endpoints: { address: string; zone: Zone }[];
  zoneOf(name: string): Zone;
}

async function startFleet(): Promise<Fleet> {
  const backends: Fleet['backends'] = [];
  for (const zone of Object.keys(ZONES) as Zone[]) {
    for (const [i, host] of ZONES[zone].entries()) {
      const slots: Slots = { limit: SLOTS, active: 0, queue: [], queued: new Map() };
      backends.push({ zone, backend: await zoneBackend(`${zone}${i}`, host, slots), slots });
    }
  }
  return {
    backends,
    endpoints: backends.map((b) => ({ address: `${ZONES[b.zone][Number(b.backend.name.slice(1))]}:${b.backend.port}`, zone: b.zone })),
    zoneOf: (name) => name[0] as Zone,
  };
}

function proxyConfig(fleet: Fleet, zone: Zone, zoneAware: Record<string, unknown>): Record<string, unknown> {
  return {
    zone,
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'peak-ewma', zoneAware: { mode: 'on', ...zoneAware }, endpoints: fleet.endpoints }],
  };
}

interface Run {
  byZone: Record<Zone, number>;
  latencies: number[];
  failures: number;
}

/** `total` requests, `concurrency` at a time, through one proxy: where they went and how long each took. */
async function drive(p: { port(): number }, from: string, total: number, concurrency: number): Promise<Run> {
  const s = await connect(p.port());
  const run: Run = { byZone: { a: 0, b: 0, c: 0 }, latencies: [], failures: 0 };
  await runConcurrently(total, concurrency, async () => {
    const t0 = performance.now();
    try {
      const r = await h2Request(s, { ':path': '/', 'x-from': from });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      run.latencies.push(performance.now() - t0);
      run.byZone[String(r.headers['x-backend'])[0] as Zone]++;
    } catch {
      run.failures++;
    }
  });
  await closeSession(s);
  return run;
}

/** Requests from `from` that waited for a backend slot, over the whole fleet. */
function queued(fleet: Fleet, from: string): number {
  return fleet.backends.reduce((n, x) => n + (x.slots.queued.get(from) ?? 0), 0);
}

function p99(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
}

async function ready(p: RunningProxy | { proxy: RunningProxy['proxy'] }): Promise<void> {
  await waitFor(() => [...p.proxy.services.values()].every((s) => s.endpoints.every((e) => e.state === EndpointState.READY)), 'every endpoint connected');
}

test('zone-aware balancing over 3 zones × 2 endpoints: in-zone at low load, spill when zone a saturates, nothing fails when zone a is gone', async (t) => {
  const fleet = await startFleet();
  const zoneAware = { endpointCapacity: SLOTS, spillThreshold: 0.75 };
  const a = await startTelemetryProxy(proxyConfig(fleet, 'a', zoneAware));
  const b = await startProxy(proxyConfig(fleet, 'b', zoneAware));
  // The same proxy in zone a without spill (a capacity the threshold never reaches): the control.
  const pinned = await startProxy(proxyConfig(fleet, 'a', { endpointCapacity: 1e6 }));
  t.after(async () => {
    await a.stop();
    await b.stop();
    await pinned.stop();
    for (const x of fleet.backends) await x.backend.close();
  });
  await ready(a);
  await ready(b);
  await ready(pinned);

  // 1. Low load (two requests at a time, half of zone a's slots): under the threshold.
  const low = await drive(a, 'low', 60, 2);
  t.diagnostic(`low load: ${JSON.stringify(low.byZone)}`);
  assert.equal(low.failures, 0);
  assert.ok(low.byZone.a >= 0.9 * 60, `in-zone ${low.byZone.a} of 60`);
  const metrics = await a.telemetry.metrics();
  const inZone = samples(metrics, 'switchyard_requests_in_zone_total', { service: 'web', zone: 'a' });
  assert.equal(inZone[0]?.value, low.byZone.a);
  const cross = samples(metrics, 'switchyard_requests_cross_zone_total', { service: 'web', from_zone: 'a' }).reduce((n, s) => n + s.value, 0);
  assert.equal(cross, low.byZone.b + low.byZone.c);

  // 2. 12 requests in flight from zone a, 3 from zone b: zone a's six slots saturate (the fleet has 18).
  //    Zone a's proxy spills and its p99 stays within 2× of zone b's.
  const [fromA, fromB] = await Promise.all([drive(a, 'a', 240, 12), drive(b, 'b', 120, 3)]);
  t.diagnostic(`saturated, from a: ${JSON.stringify(fromA.byZone)} p99 ${p99(fromA.latencies).toFixed(1)} ms, ${queued(fleet, 'a')} queued; from b: ${JSON.stringify(fromB.byZone)} p99 ${p99(fromB.latencies).toFixed(1)} ms`);
  assert.equal(fromA.failures + fromB.failures, 0);
  assert.ok(fromA.byZone.b + fromA.byZone.c > 0.3 * 240, `spilled ${fromA.byZone.b + fromA.byZone.c} of 240`);
  assert.ok(fromB.byZone.b >= 0.9 * 120, `zone b kept ${fromB.byZone.b} of 120 in zone`);
  assert.ok(p99(fromA.latencies) <= 2 * p99(fromB.latencies), 'zone a p99 within 2x of zone b p99');
  // Few of zone a's requests waited for a slot; without spill (the control) most of them do.
  assert.ok(queued(fleet, 'a') < 0.2 * 240, `${queued(fleet, 'a')} of 240 waited`);
  const pinnedA = await drive(pinned, 'pinned', 144, 12);
  t.diagnostic(`no spill, from a: ${JSON.stringify(pinnedA.byZone)} p99 ${p99(pinnedA.latencies).toFixed(1)} ms, ${queued(fleet, 'pinned')} queued`);
  assert.equal(pinnedA.byZone.a, 144);
  assert.ok(queued(fleet, 'pinned') > 0.4 * 144, `${queued(fleet, 'pinned')} of 144 waited`);

  // 3. Zone a loses every endpoint: once the proxy knows, no request fails and all leave zone a.
  for (const x of fleet.backends) if (x.zone === 'a') await x.backend.close();
  const web = a.proxy.services.get('web')!;
  await waitFor(() => web.endpoints.filter((e) => e.zone === 'a').every((e) => !e.pickable), 'zone a endpoints out of the picker');
  const gone = await drive(a, 'gone', 100, 4);
  t.diagnostic(`zone a gone: ${JSON.stringify(gone.byZone)}`);
  assert.equal(gone.failures, 0);
  assert.equal(gone.byZone.b + gone.byZone.c, 100);
  // End state: nothing in flight at any endpoint.
  await waitFor(() => web.endpoints.every((e) => e.load.pending === 0), 'nothing pending');
});
