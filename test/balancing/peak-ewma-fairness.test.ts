import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { PeakEwmaBalancer } from '../../src/balancing/peak-ewma.js';
import { parseScenario } from '../../src/balancing/simulation/scenario.js';
import { simulate } from '../../src/balancing/simulation/simulator.js';
import { equalEndpoints, type TestEndpoint } from './helpers.js';

/** Latency around 1 ms with jitter (0.5–2 ms), from a seeded stream. */
function jittered(random: SeededRandom): number {
  return 0.5 * Math.pow(4, random.next());
}

/**
 * Sequential traffic: one request at a time, each answered after `latency(endpoint)`,
 * then `gap` ms of think time. Returns the picks per endpoint id.
 */
function sequential(
  clock: ManualClock,
  lb: PeakEwmaBalancer<TestEndpoint>,
  requests: number,
  latency: (e: TestEndpoint) => number,
  gap: number,
  onPick?: (e: TestEndpoint) => void,
): Map<string, number> {
  const seen = new Map<string, number>();
  for (let i = 0; i < requests; i++) {
    const e = lb.pick()!;
    onPick?.(e);
    seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
    const t = e.load.begin();
    clock.advance(latency(e));
    e.load.observeRtt(t);
    e.load.end(t, false);
    assert.equal(e.load.pending, 0);
    clock.advance(gap);
  }
  return seen;
}

test('peak-ewma: sequential requests to identical endpoints are spread evenly, not sent to one endpoint', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const clock = new ManualClock();
    const jitter = new SeededRandom(seed * 7);
    const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(seed) });
    const eps = equalEndpoints(clock, 3);
    lb.update(eps);
    const seen = sequential(clock, lb, 300, () => jittered(jitter), 2);
    for (const e of eps) {
      const n = seen.get(e.id) ?? 0;
      assert.ok(Math.abs(n - 100) <= 10, `seed ${seed}: ${e.id} got ${n} of 300 (${[...seen.values()]})`);
    }
  }
});

for (const [at, what] of [[1, 'its first answer'], [20, 'a later answer']] as const) test(`peak-ewma: one slow sample (31 ms, ${what}) does not starve an identical endpoint for more than 3 s`, (t) => {
  const clock = new ManualClock();
  const jitter = new SeededRandom(31);
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(32) });
  const eps = equalEndpoints(clock, 3);
  const cold = eps[2]!;
  lb.update(eps);
  let coldServed = 0;
  let slowAnsweredAt = -1;
  let longestGap = 0;
  let lastColdPick = -1;
  // 10 requests per second (1 ms answers, 99 ms apart) for 20 s.
  sequential(
    clock,
    lb,
    200,
    (e) => {
      if (e !== cold) return jittered(jitter);
      if (++coldServed !== at) return jittered(jitter);
      return 31;
    },
    99,
    (e) => {
      if (e !== cold) return;
      const now = clock.now();
      if (coldServed + 1 === at) slowAnsweredAt = now + 31;
      else if (slowAnsweredAt >= 0) longestGap = Math.max(longestGap, now - lastColdPick);
      lastColdPick = now;
    },
  );
  assert.ok(slowAnsweredAt >= 0, 'the slow sample happened');
  t.diagnostic(`longest time without a pick after the slow sample: ${longestGap} ms`);
  assert.ok(longestGap <= 3000, `longest time without a pick of the cold endpoint: ${longestGap} ms`);
  // Over the last 10 s it is back to an even share.
  const tail = sequential(clock, lb, 300, () => jittered(jitter), 32);
  for (const e of eps) {
    const n = tail.get(e.id) ?? 0;
    assert.ok(Math.abs(n - 100) <= 15, `${e.id} got ${n} of 300 after recovery`);
  }
});

test('peak-ewma (simulated): with 20 requests in flight an endpoint 20x slower gets < 1% and p99 stays with the fast ones', () => {
  for (const seed of [9, 10, 11]) {
    const s = parseScenario({
      seed,
      requests: 4000,
      clients: 20,
      policies: ['peak-ewma', 'least-request'],
      groups: [
        { name: 'fast', count: 2, latency: { lognormal: { p50: 1, p99: 3 } } },
        { name: 'slow', count: 1, latency: { lognormal: { p50: 20, p99: 30 } } },
      ],
    });
    const [ewma, least] = simulate(s).results as [NonNullable<ReturnType<typeof simulate>['results'][0]>, NonNullable<ReturnType<typeof simulate>['results'][0]>];
    const slow = ewma.groups.find((g) => g.name === 'slow')!;
    assert.ok(slow.share < 0.01, `seed ${seed}: slow share ${slow.share}`);
    assert.ok(ewma.latency.p99 < 10, `seed ${seed}: p99 ${ewma.latency.p99} ms`);
    // The comparison point: least-request keeps in-flight counts equal and sends it several percent.
    assert.ok(least.groups.find((g) => g.name === 'slow')!.share > 0.02);
    assert.equal(ewma.ok, 4000);
  }
});

test('peak-ewma: a truly slow endpoint is re-probed, but rarely, with sequential traffic', () => {
  const clock = new ManualClock();
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(41) });
  const eps = equalEndpoints(clock, 3);
  lb.update(eps);
  // 100 requests per second for 60 s; ep-2 answers in 20 ms, the others in 1 ms.
  const seen = sequential(clock, lb, 6000, (e) => (e === eps[2] ? 20 : 1), 9);
  const slow = seen.get('ep-2') ?? 0;
  assert.ok(slow >= 5, `re-probed ${slow} times in a minute`);
  assert.ok(slow / 6000 < 0.01, `slow share ${slow}/6000`);
});
