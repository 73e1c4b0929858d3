import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { SlowStart } from '../../src/balancing/slow-start.js';
import { createBalancer, type BalancerSpec } from '../../src/balancing/registry.js';
import { assertBinomial, makeEndpoints, type TestEndpoint } from './helpers.js';

test('SlowStart.factor: min at start, curve per aggression, 1 after the window', () => {
  const s = new SlowStart({ window: 10_000, minWeightPercent: 10, aggression: 1 });
  assert.equal(s.factor(0, 0), 0.1);
  assert.equal(s.factor(0, 500), 0.1); // 5% of the way is below the floor
  assert.equal(s.factor(0, 5000), 0.5);
  assert.equal(s.factor(0, 10_000), 1);
  assert.equal(s.factor(0, 99_999), 1);
  const fast = new SlowStart({ window: 10_000, minWeightPercent: 10, aggression: 2 });
  assert.equal(fast.factor(0, 2500), 0.5); // sqrt(0.25)
  assert.ok(!s.ramping(0, 10_000));
  assert.ok(s.ramping(0, 9_999));
});

const slowStart = { window: 10_000, minWeightPercent: 10, aggression: 1 };

for (const policy of ['weighted-round-robin', 'random', 'least-request', 'peak-ewma'] as const) {
  test(`${policy}: slow start ramps a new endpoint from min weight to full`, () => {
    const clock = new ManualClock(100_000);
    const spec: BalancerSpec = { policy, slowStart };
    const lb = createBalancer<TestEndpoint>(spec, { clock, random: new SeededRandom(31) });
    const eps = makeEndpoints(clock, [1, 1]);
    eps[1]!.readySince = clock.now(); // just became ready; ep-0 ready long ago
    lb.update(eps);
    const share = (n: number): number => {
      let k = 0;
      for (let i = 0; i < n; i++) if (lb.pick() === eps[1]) k++;
      return k;
    };
    const n = 20_000;
    // t = 0: weight 0.1 vs 1
    const p0 = 0.1 / 1.1;
    const k0 = share(n);
    if (policy === 'weighted-round-robin' || policy === 'least-request') assert.ok(Math.abs(k0 / n - p0) < 0.002, `${k0 / n}`);
    else assertBinomial(k0, n, p0, 't=0');
    // half way: weight 0.5 vs 1
    clock.set(100_000 + 5_000);
    const k1 = share(n);
    const p1 = 0.5 / 1.5;
    if (policy === 'weighted-round-robin' || policy === 'least-request') assert.ok(Math.abs(k1 / n - p1) < 0.002, `${k1 / n}`);
    else assertBinomial(k1, n, p1, 't=window/2');
    // after the window: even
    clock.set(100_000 + 10_000);
    const k2 = share(n);
    if (policy === 'weighted-round-robin') assert.equal(k2, n / 2);
    else assertBinomial(k2, n, 0.5, 't=window');
  });
}

test('slow start off: new endpoints get their full share at once', () => {
  const clock = new ManualClock(0);
  const lb = createBalancer<TestEndpoint>({ policy: 'weighted-round-robin' }, { clock, random: new SeededRandom(1) });
  const eps = makeEndpoints(clock, [1, 1]);
  eps[1]!.readySince = 0;
  lb.update(eps);
  let k = 0;
  for (let i = 0; i < 1000; i++) if (lb.pick() === eps[1]) k++;
  assert.equal(k, 500);
});
