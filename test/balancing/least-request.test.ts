import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { LeastRequestBalancer } from '../../src/balancing/least-request.js';
import { assertBinomial, countPicks, equalEndpoints, makeEndpoints, type TestEndpoint } from './helpers.js';

/** Pick n times keeping `inflight` requests open (oldest ends first). */
function driveLoad(lb: { pick(): TestEndpoint | undefined }, clock: ManualClock, n: number, inflight: number): Map<string, number> {
  const open: { e: TestEndpoint; t: number }[] = [];
  const c = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    clock.advance(1);
    const e = lb.pick()!;
    c.set(e.id, (c.get(e.id) ?? 0) + 1);
    open.push({ e, t: e.load.begin() });
    if (open.length > inflight) {
      const r = open.shift()!;
      r.e.load.observeRtt(r.t);
      r.e.load.end(r.t, false);
    }
  }
  return c;
}

test('least-request: equal load spreads evenly (within binomial bounds)', () => {
  const clock = new ManualClock();
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(6) });
  lb.update(equalEndpoints(clock, 5));
  const n = 20_000;
  const c = driveLoad(lb, clock, n, 10);
  for (let i = 0; i < 5; i++) assertBinomial(c.get(`ep-${i}`)!, n, 0.2, `ep-${i}`);
});

test('least-request: keeps the candidate with fewer requests in flight', () => {
  const clock = new ManualClock();
  const eps = equalEndpoints(clock, 3);
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(7) });
  lb.update(eps);
  for (let i = 0; i < 50; i++) eps[0]!.load.begin();
  const c = countPicks(lb, 3000);
  // two distinct candidates always include an idle endpoint
  assert.equal(c.get('ep-0'), undefined);
});

test('least-request: choiceCount = n always finds the least loaded', () => {
  const clock = new ManualClock();
  const eps = equalEndpoints(clock, 4);
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(8), choiceCount: 4 });
  lb.update(eps);
  eps.forEach((e, i) => {
    for (let k = 0; k < 3 - i + 1; k++) e.load.begin();
  });
  // ep-3 has the fewest in flight (1)
  for (let i = 0; i < 100; i++) assert.equal(lb.pick()!.id, 'ep-3');
});

test('least-request: unequal weights follow weights when idle (EDF path)', () => {
  const clock = new ManualClock();
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(9) });
  lb.update(makeEndpoints(clock, [3, 1, 0]));
  const c = countPicks(lb, 4000);
  assert.equal(c.get('ep-0'), 3000);
  assert.equal(c.get('ep-1'), 1000);
  assert.equal(c.get('ep-2'), undefined);
});

test('least-request: weighted path penalises in-flight requests', () => {
  const clock = new ManualClock();
  const eps = makeEndpoints(clock, [2, 1]);
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(10) });
  lb.update(eps);
  for (let i = 0; i < 9; i++) eps[0]!.load.begin(); // effective weight 2 / 10 vs 1 / 1
  const c = countPicks(lb, 1100);
  assert.ok(c.get('ep-1')! > c.get('ep-0')! * 3, JSON.stringify([...c]));
});
