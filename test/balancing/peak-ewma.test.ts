import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { PeakEwmaBalancer } from '../../src/balancing/peak-ewma.js';
import { parseScenario } from '../../src/balancing/simulation/scenario.js';
import { simulate } from '../../src/balancing/simulation/simulator.js';
import { assertBinomial, equalEndpoints, makeEndpoints, type TestEndpoint } from './helpers.js';

test('peak-ewma: equal endpoints under equal load share evenly (within binomial bounds)', () => {
  const clock = new ManualClock();
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(11) });
  lb.update(equalEndpoints(clock, 4));
  const open: { e: TestEndpoint; t: number }[] = [];
  const c = new Map<string, number>();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    clock.advance(1);
    const e = lb.pick()!;
    c.set(e.id, (c.get(e.id) ?? 0) + 1);
    open.push({ e, t: e.load.begin() });
    if (open.length > 8) {
      const r = open.shift()!;
      r.e.load.observeRtt(r.t);
      r.e.load.end(r.t, false);
    }
  }
  for (let i = 0; i < 4; i++) assertBinomial(c.get(`ep-${i}`)!, n, 0.25, `ep-${i}`);
});

test('peak-ewma: a single endpoint is returned as is; none gives undefined; weight 0 excluded', () => {
  const clock = new ManualClock();
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(12) });
  const eps = makeEndpoints(clock, [0, 1]);
  lb.update(eps);
  for (let i = 0; i < 10; i++) assert.equal(lb.pick(), eps[1]);
  lb.update([]);
  assert.equal(lb.pick(), undefined);
});

test('peak-ewma: prefers the endpoint with the lower cost', () => {
  const clock = new ManualClock();
  const eps = equalEndpoints(clock, 2);
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(13) });
  lb.update(eps);
  // A few samples each: one sample alone is never conclusive.
  for (let k = 0; k < 3; k++) {
    const t1 = eps[1]!.load.begin();
    clock.advance(10);
    eps[1]!.load.observeRtt(t1);
    eps[1]!.load.end(t1, false);
    const t = eps[0]!.load.begin();
    clock.advance(200);
    eps[0]!.load.observeRtt(t);
    eps[0]!.load.end(t, false);
  }
  for (let i = 0; i < 100; i++) assert.equal(lb.pick(), eps[1]);
});

test('peak-ewma: weights shape shares when endpoints look alike', () => {
  const clock = new ManualClock();
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(14) });
  lb.update(makeEndpoints(clock, [3, 1, 1, 1, 1, 1]));
  const n = 20_000;
  const c = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = lb.pick()!;
    c.set(e.id, (c.get(e.id) ?? 0) + 1);
  }
  // Idle, equal estimates: the first (weight-drawn) candidate wins, so shares follow weights.
  assertBinomial(c.get('ep-0')!, n, 3 / 8, 'heavy');
});

const base = {
  seed: 21,
  requests: 30_000,
  rate: 1000,
  policies: ['peak-ewma'],
};

test('peak-ewma (simulated): an endpoint 10× slower gets < 5% of requests', () => {
  const s = parseScenario({
    ...base,
    groups: [
      { name: 'healthy', count: 9, latency: { lognormal: { p50: 10, p99: 40 } }, concurrency: 64 },
      { name: 'slow', count: 1, latency: { lognormal: { p50: 100, p99: 400 } }, concurrency: 64 },
    ],
  });
  const r = simulate(s).results[0]!;
  const slow = r.groups.find((g) => g.name === 'slow')!;
  assert.ok(slow.share < 0.05, `slow share ${slow.share}`);
  assert.equal(r.errors, 0);
});

test('peak-ewma (simulated): an endpoint failing fast (errors in 1 ms) gets < 5% of requests', () => {
  const s = parseScenario({
    ...base,
    groups: [
      { name: 'healthy', count: 9, latency: { lognormal: { p50: 10, p99: 40 } } },
      { name: 'failing', count: 1, latency: 10, errorRate: 1, errorLatency: 1 },
    ],
  });
  const r = simulate(s).results[0]!;
  const failing = r.groups.find((g) => g.name === 'failing')!;
  assert.ok(failing.share < 0.05, `failing share ${failing.share}`);
  assert.ok(r.errorRate < 0.05);
});
