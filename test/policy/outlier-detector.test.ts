import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/index.js';
import { outlierDetectionSchema } from '../../src/config/resilience-schema.js';
import { OutlierDetector, type EjectionReason } from '../../src/policy/outlier-detector.js';
import type { Endpoint } from '../../src/proxy/endpoint.js';
import { parseConfig } from '../../src/config/index.js';
import type { PolicyProvider } from '../../src/proxy/policy-hooks.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady, type H2Backend } from '../helpers/proxy-harness.js';
import { CountingOwner, ManualScheduler, endpoints } from './helpers.js';

/** random() = 0.5 puts the ± 10 % ejection jitter at exactly the nominal time. */
const MIDDLE = { next: () => 0.5 };

function setup(raw: Record<string, unknown>, n = 4, random = MIDDLE) {
  const sched = new ManualScheduler(new ManualClock(1_000));
  const owner = new CountingOwner();
  const eps = endpoints(n, sched.clock, owner);
  const events: { ep: Endpoint; reason: EjectionReason; ms: number }[] = [];
  const d = new OutlierDetector(outlierDetectionSchema.parse(raw), eps, {
    clock: sched.clock,
    random,
    scheduler: sched.schedule,
    onEject: (ep, reason, ms) => events.push({ ep, reason, ms }),
  });
  d.start();
  return { sched, owner, eps, d, events };
}

function fail(ep: Endpoint, times: number): void {
  for (let i = 0; i < times; i++) ep.recordOutcome(true);
}

test('the detector takes every endpoint outlier slot; enabled: false leaves them empty', () => {
  const { eps, d } = setup({});
  for (const ep of eps) assert.equal(ep.outlier, d);
  d.stop();
  for (const ep of eps) assert.equal(ep.outlier, undefined);
  const off = setup({ enabled: false });
  for (const ep of off.eps) assert.equal(ep.outlier, undefined);
  fail(off.eps[0]!, 100);
  assert.equal(off.eps[0]!.ejected, false);
});

test('N consecutive failures eject; a success in between resets the count', () => {
  const { eps, d, events } = setup({ consecutiveFailures: 5 });
  const ep = eps[0]!;
  fail(ep, 4);
  ep.recordOutcome(false);
  fail(ep, 4);
  assert.equal(ep.ejected, false);
  assert.equal(d.status(ep)!.consecutiveFailures, 4);
  fail(ep, 1);
  assert.equal(ep.ejected, true);
  assert.equal(ep.pickable, false);
  assert.equal(d.ejectedCount, 1);
  assert.deepEqual(events.map((e) => [e.ep.port, e.reason, e.ms]), [[7001, 'consecutive-failures', 1000]]);
});

test('a failing endpoint gets one probe after the backoff, is re-ejected for twice as long, returns when healthy', () => {
  const { sched, eps, d, events } = setup({ consecutiveFailures: 3, baseEjectionTime: '1s', maxEjectionTime: '60s' });
  const ep = eps[0]!;
  fail(ep, 3);
  assert.equal(ep.ejected, true);
  // Outcomes of requests still in flight while ejected are ignored.
  fail(ep, 10);
  ep.recordOutcome(false);
  assert.equal(d.status(ep)!.phase, 'ejected');

  sched.advance(999);
  assert.equal(ep.ejected, true);
  sched.advance(1);
  // Probation: pickable again, and the very next outcome decides.
  assert.equal(ep.ejected, false);
  assert.equal(ep.pickable, true);
  assert.equal(ep.readySince, sched.clock.now(), 'slow start restarts');
  assert.equal(d.status(ep)!.phase, 'probation');
  fail(ep, 1);
  assert.equal(ep.ejected, true, 'one failed probe ejects again at once');
  assert.equal(d.status(ep)!.ejectedUntil, sched.clock.now() + 2000);

  sched.advance(1999);
  assert.equal(ep.ejected, true);
  sched.advance(1);
  assert.equal(d.status(ep)!.phase, 'probation');
  fail(ep, 1);
  assert.equal(d.status(ep)!.ejectedUntil, sched.clock.now() + 4000);
  sched.advance(4000);

  ep.recordOutcome(false);
  assert.equal(d.status(ep)!.phase, 'active');
  assert.equal(ep.pickable, true);
  // Fully back: it takes the whole count again to eject it.
  fail(ep, 2);
  assert.equal(ep.ejected, false);
  assert.deepEqual(events.map((e) => [e.reason, e.ms]), [
    ['consecutive-failures', 1000],
    ['probation-failed', 2000],
    ['probation-failed', 4000],
  ]);
  assert.equal(d.ejectedCount, 0);
  assert.equal(ep.ejectionsTotal, 3, 'every ejection is counted for /metrics');
});

test('the ejection time is capped, and the multiplier decays while the endpoint serves', () => {
  const { sched, eps, d, events } = setup({ consecutiveFailures: 1, baseEjectionTime: '1s', maxEjectionTime: '5s', interval: '10s' });
  const ep = eps[0]!;
  for (let i = 0; i < 6; i++) {
    fail(ep, 1);
    sched.advance(d.status(ep)!.ejectedUntil - sched.clock.now());
  }
  assert.deepEqual(events.map((e) => e.ms), [1000, 2000, 4000, 5000, 5000, 5000]);
  assert.equal(d.status(ep)!.multiplier, 3, 'stops growing at the cap');
  ep.recordOutcome(false); // returns
  sched.advance(20_000); // two intervals of service: two steps down
  fail(ep, 1);
  assert.equal(events.at(-1)!.ms, 2000);
  sched.advance(2000);
  ep.recordOutcome(false);
  sched.advance(60_000);
  fail(ep, 1);
  assert.equal(events.at(-1)!.ms, 1000, 'back to the base after a long quiet time');
});

test('ejection times are spread by ±10 %', () => {
  const low = setup({ consecutiveFailures: 1, baseEjectionTime: '1s' }, 4, { next: () => 0 });
  fail(low.eps[0]!, 1);
  const high = setup({ consecutiveFailures: 1, baseEjectionTime: '1s', maxEjectionTime: '60s' }, 4, { next: () => 0.999999 });
  fail(high.eps[0]!, 1);
  assert.equal(low.events[0]!.ms, 900);
  assert.ok(Math.abs(high.events[0]!.ms - 1100) < 0.01);
  const capped = setup({ consecutiveFailures: 1, baseEjectionTime: '1s', maxEjectionTime: '1s' }, 4, { next: () => 0.999999 });
  fail(capped.eps[0]!, 1);
  assert.equal(capped.events[0]!.ms, 1000, 'never above maxEjectionTime');
});

test('maxEjectionPercent: with 3 of 4 endpoints failing and 50 %, at most 2 are ejected', () => {
  const { sched, eps, d } = setup({ consecutiveFailures: 2, maxEjectionPercent: 50, baseEjectionTime: '1s' });
  const [a, b, c, healthy] = eps as [Endpoint, Endpoint, Endpoint, Endpoint];
  for (let round = 0; round < 5; round++) {
    fail(a, 2);
    fail(b, 2);
    fail(c, 2);
    healthy.recordOutcome(false);
    assert.ok(d.ejectedCount <= 2);
    assert.ok(eps.filter((e) => e.ejected).length <= 2);
    sched.advance(100);
  }
  assert.equal(d.ejectedCount, 2);
  assert.equal(c.ejected, false);
  assert.ok(d.refusedEjections > 0);
  // When one comes back for probation, the third one's next failure takes the free place.
  sched.advance(1000);
  assert.equal(d.ejectedCount, 0, 'both on probation');
  fail(c, 1);
  assert.equal(c.ejected, true);
  fail(a, 1);
  assert.equal(a.ejected, true);
  fail(b, 1);
  assert.equal(b.ejected, false, 'the cap holds for re-ejection from probation too');
  assert.equal(d.status(b)!.phase, 'probation');
  // A single-endpoint service is never ejected at 50 %.
  const single = setup({ consecutiveFailures: 1 }, 1);
  fail(single.eps[0]!, 10);
  assert.equal(single.eps[0]!.ejected, false);
});

test('success-rate ejection over the interval, for endpoints with enough requests', () => {
  const { sched, eps, events } = setup(
    { consecutiveFailures: 1000, minSuccessRate: 90, minRequests: 20, interval: '10s', maxEjectionPercent: 100 },
  );
  const [bad, good, few, worse] = eps as [Endpoint, Endpoint, Endpoint, Endpoint];
  const outcomes = (ep: Endpoint, ok: number, failed: number): void => {
    for (let i = 0; i < ok + failed; i++) ep.recordOutcome(i % 2 === 1 ? i < 2 * failed : i >= 2 * ok);
  };
  outcomes(bad, 40, 10); // 80 %
  outcomes(good, 95, 5); // 95 %
  outcomes(few, 0, 10); // 0 %, below minRequests
  outcomes(worse, 10, 10); // 50 %
  sched.advance(9_999);
  assert.equal(events.length, 0, 'evaluated once per interval');
  sched.advance(1);
  assert.deepEqual(events.map((e) => [e.ep.port, e.reason]), [[7004, 'success-rate'], [7001, 'success-rate']], 'worst first');
  assert.equal(good.ejected, false);
  assert.equal(few.ejected, false);
  // The window starts over: the next interval without traffic ejects nobody else.
  sched.advance(10_000);
  assert.equal(events.length, 2);
});

test('record() is cheap: a million outcomes on a mix of endpoints', () => {
  const { eps } = setup({ consecutiveFailures: 10, maxEjectionPercent: 100 });
  // The best of three runs: a busy machine can stall one of them, not all.
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    for (let i = 0; i < 1_000_000; i++) eps[i & 3]!.recordOutcome((i & 7) === 0);
    best = Math.min(best, performance.now() - t0);
  }
  // About 1 µs a call at most; it measures ~15 ns.
  assert.ok(best < 1000, `took ${best} ms`);
});

// ------------------------------------------------------------------ end to end

function failingBackend(name: string): Promise<H2Backend> {
  return startH2Backend(name, {
    handler: (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 503, 'x-backend': name });
      stream.end('down\n');
    },
  });
}

/**
 * A proxy whose outlier detectors run on a manual clock and scheduler: the
 * test decides when an ejection ends, so what it checks does not depend on
 * how fast requests go on a busy machine.
 */
async function startManualProxy(raw: Record<string, unknown>) {
  const sched = new ManualScheduler(new ManualClock(1_000));
  const detectors = new Map<string, OutlierDetector>();
  const policies: PolicyProvider = {
    retryRules: () => undefined,
    serviceGuards(service) {
      const d = new OutlierDetector(service.config.outlierDetection, service.endpoints, { clock: sched.clock, random: MIDDLE, scheduler: sched.schedule });
      detectors.set(service.name, d);
      return [d];
    },
  };
  const proxy = new Proxy(parseConfig({ admin: { enabled: false }, ...raw }, 'test'), { policies });
  await proxy.start();
  return { proxy, sched, detectors, port: () => proxy.listeners[0]!.address.port, stop: () => proxy.stop(200) };
}

test('through the proxy: a backend answering 503 is ejected, probed once per ejection, back when it recovers', async (t) => {
  let broken = true;
  const good1 = await startH2Backend('good1');
  const good2 = await startH2Backend('good2');
  const bad = await startH2Backend('bad', {
    handler: (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': broken ? 503 : 200, 'x-backend': 'bad' });
      stream.end();
    },
  });
  const p = await startManualProxy({
    listeners: [{ name: 'in', listen: '127.0.0.1:0', protocol: 'http2', service: 'svc' }],
    services: [{
      name: 'svc',
      balancer: 'round-robin',
      endpoints: [`127.0.0.1:${good1.port}`, `127.0.0.1:${good2.port}`, `127.0.0.1:${bad.port}`],
      outlierDetection: { consecutiveFailures: 3, baseEjectionTime: '1s', maxEjectionTime: '10s' },
    }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    await Promise.all([good1.close(), good2.close(), bad.close()]);
  });
  await waitReady(p);
  const ep = p.proxy.services.get('svc')!.endpoints.find((e) => e.port === bad.port)!;
  const d = p.detectors.get('svc')!;
  const get = () => h2Request(session, { ':path': '/' });

  for (let i = 0; i < 50 && !ep.ejected; i++) await get();
  assert.equal(ep.ejected, true);
  assert.equal(bad.requests, 3, 'ejected after exactly consecutiveFailures answers');

  // While ejected it gets nothing, however many requests come.
  const before = bad.requests;
  for (let i = 0; i < 300; i++) assert.equal((await get()).status, 200);
  assert.equal(bad.requests, before);
  p.sched.advance(999);
  assert.equal(ep.ejected, true, 'the first ejection lasts baseEjectionTime');
  p.sched.advance(1);
  assert.equal(ep.ejected, false);

  // Probation: the next request reaches it, fails, and it is ejected again at once, for twice as long.
  const atProbe = bad.requests;
  for (let i = 0; i < 30; i++) await get();
  assert.equal(bad.requests - atProbe, 1, 'exactly one probe request');
  assert.equal(ep.ejected, true);
  assert.equal(d.status(ep)!.ejectedUntil, p.sched.clock.now() + 2000);
  p.sched.advance(1999);
  for (let i = 0; i < 30; i++) await get();
  assert.equal(bad.requests - atProbe, 1, 'nothing during the second ejection');

  // Recovered: the next probation succeeds and it takes its share again.
  broken = false;
  p.sched.advance(1);
  assert.equal(ep.ejected, false);
  const atReturn = bad.requests;
  for (let i = 0; i < 60; i++) assert.equal((await get()).status, 200);
  assert.ok(bad.requests - atReturn >= 15, `back in rotation: ${bad.requests - atReturn} of 60`);
  assert.equal(ep.ejected, false);
  assert.equal(d.status(ep)!.phase, 'active');
});

test('through the proxy: outlierDetection.enabled false keeps a failing endpoint in rotation', async (t) => {
  const good = await startH2Backend('good');
  const bad = await failingBackend('bad');
  const p = await startProxy({
    listeners: [{ name: 'in', listen: '127.0.0.1:0', protocol: 'http2', service: 'svc' }],
    services: [{
      name: 'svc',
      balancer: 'round-robin',
      endpoints: [`127.0.0.1:${good.port}`, `127.0.0.1:${bad.port}`],
      outlierDetection: { enabled: false },
    }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    await closeSession(session);
    await p.stop();
    await Promise.all([good.close(), bad.close()]);
  });
  await waitReady(p);
  for (let i = 0; i < 40; i++) await h2Request(session, { ':path': '/' });
  assert.equal(bad.requests, 20);
});
