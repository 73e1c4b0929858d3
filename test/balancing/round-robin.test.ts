import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { RoundRobinBalancer } from '../../src/balancing/round-robin.js';
import { countPicks, equalEndpoints, makeEndpoints } from './helpers.js';

test('round-robin: 3000 picks over 3 endpoints give exactly 1000 each', () => {
  const clock = new ManualClock();
  const lb = new RoundRobinBalancer({ random: new SeededRandom(1) });
  lb.update(equalEndpoints(clock, 3));
  const c = countPicks(lb, 3000);
  assert.deepEqual([...c.values()], [1000, 1000, 1000]);
});

test('round-robin: strict rotation, weights other than 0 ignored', () => {
  const clock = new ManualClock();
  const eps = makeEndpoints(clock, [5, 1, 2]);
  const lb = new RoundRobinBalancer();
  lb.update(eps);
  const seq = Array.from({ length: 7 }, () => lb.pick()!.id);
  assert.deepEqual(seq, ['ep-0', 'ep-1', 'ep-2', 'ep-0', 'ep-1', 'ep-2', 'ep-0']);
});

test('round-robin: weight 0 gets nothing; no endpoints gives undefined', () => {
  const clock = new ManualClock();
  const lb = new RoundRobinBalancer({ random: new SeededRandom(2) });
  lb.update(makeEndpoints(clock, [1, 0, 1]));
  const c = countPicks(lb, 1000);
  assert.equal(c.get('ep-1'), undefined);
  assert.equal(c.get('ep-0'), 500);
  lb.update(makeEndpoints(clock, [0, 0]));
  assert.equal(lb.pick(), undefined);
  lb.update([]);
  assert.equal(lb.pick(), undefined);
});
