import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { WeightedRoundRobinBalancer } from '../../src/balancing/weighted-round-robin.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { countPicks, makeEndpoints } from './helpers.js';

/** Longest run of consecutive picks of `id`, counting the sequence as cyclic. */
function maxRun(seq: string[], id: string): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < seq.length * 2; i++) {
    if (seq[i % seq.length] === id) {
      run++;
      if (run > best) best = run;
    } else run = 0;
  }
  return Math.min(best, seq.length);
}

test('weighted-round-robin: exact shares for 5,1,1 over whole periods', () => {
  const clock = new ManualClock();
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(makeEndpoints(clock, [5, 1, 1]));
  const c = countPicks(lb, 7000);
  assert.equal(c.get('ep-0'), 5000);
  assert.equal(c.get('ep-1'), 1000);
  assert.equal(c.get('ep-2'), 1000);
});

test('weighted-round-robin: no bursts — heavy endpoint never exceeds its fair run', () => {
  const clock = new ManualClock();
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(makeEndpoints(clock, [5, 1, 1]));
  const seq = Array.from({ length: 700 }, () => lb.pick()!.id);
  // 5 picks to share with 2 others per period: the fair run is ceil(5 / 2) = 3.
  assert.ok(maxRun(seq, 'ep-0') <= 3, `max run ${maxRun(seq, 'ep-0')}`);
  // and every period of 7 holds exactly 5, 1, 1
  for (let p = 0; p < 100; p++) {
    const period = seq.slice(p * 7, p * 7 + 7);
    assert.equal(period.filter((x) => x === 'ep-0').length, 5);
  }
});

test('weighted-round-robin: exact shares and runs within 2 of the ideal for random weight sets', () => {
  const random = new SeededRandom(9);
  for (let trial = 0; trial < 20; trial++) {
    const n = 2 + Math.floor(random.next() * 6);
    const weights = Array.from({ length: n }, () => 1 + Math.floor(random.next() * 9));
    const total = weights.reduce((a, b) => a + b, 0);
    const clock = new ManualClock();
    const lb = new WeightedRoundRobinBalancer({ clock });
    lb.update(makeEndpoints(clock, weights));
    const seq = Array.from({ length: total * 50 }, () => lb.pick()!.id);
    weights.forEach((w, i) => {
      const id = `ep-${i}`;
      assert.equal(seq.filter((x) => x === id).length, w * 50, `weights ${weights} endpoint ${i}`);
      const others = total - w;
      if (others > 0) {
        const fair = Math.ceil(w / others) + 2;
        assert.ok(maxRun(seq, id) <= fair, `weights ${weights}: endpoint ${i} run ${maxRun(seq, id)} > ${fair}`);
      }
    });
  }
});

test('weighted-round-robin: weight 0 gets nothing, fractional weights work', () => {
  const clock = new ManualClock();
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(makeEndpoints(clock, [0.5, 0, 1.5]));
  const c = countPicks(lb, 4000);
  assert.equal(c.get('ep-1'), undefined);
  assert.equal(c.get('ep-0'), 1000);
  assert.equal(c.get('ep-2'), 3000);
  lb.update([]);
  assert.equal(lb.pick(), undefined);
});
