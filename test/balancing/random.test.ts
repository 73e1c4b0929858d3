import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { RandomBalancer } from '../../src/balancing/random.js';
import { assertBinomial, countPicks, equalEndpoints, makeEndpoints } from './helpers.js';

test('random: weighted 3:1 within binomial bounds and within ±3 points', () => {
  const clock = new ManualClock();
  const lb = new RandomBalancer({ clock, random: new SeededRandom(3) });
  lb.update(makeEndpoints(clock, [3, 1]));
  const n = 40_000;
  const c = countPicks(lb, n);
  const share = c.get('ep-0')! / n;
  assert.ok(Math.abs(share - 0.75) <= 0.03, `share ${share}`);
  assertBinomial(c.get('ep-0')!, n, 0.75, 'heavy endpoint');
});

test('random: uniform over equal weights, weight 0 excluded', () => {
  const clock = new ManualClock();
  const lb = new RandomBalancer({ clock, random: new SeededRandom(4) });
  const eps = equalEndpoints(clock, 5);
  eps[2]!.weight = 0;
  lb.update(eps);
  const n = 40_000;
  const c = countPicks(lb, n);
  assert.equal(c.get('ep-2'), undefined);
  for (const id of ['ep-0', 'ep-1', 'ep-3', 'ep-4']) assertBinomial(c.get(id)!, n, 0.25, id);
});

test('random: many weighted endpoints follow their weights', () => {
  const clock = new ManualClock();
  const lb = new RandomBalancer({ clock, random: new SeededRandom(5) });
  const weights = Array.from({ length: 50 }, (_, i) => 1 + (i % 5));
  const total = weights.reduce((a, b) => a + b, 0);
  lb.update(makeEndpoints(clock, weights));
  const n = 200_000;
  const c = countPicks(lb, n);
  weights.forEach((w, i) => assertBinomial(c.get(`ep-${i}`) ?? 0, n, w / total, `ep-${i}`));
});
