import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { newOrcaReport } from '../../src/balancing/orca-report.js';
import { ORCA_DEFAULTS, OrcaState } from '../../src/balancing/orca-weight.js';
import { PeakEwmaBalancer } from '../../src/balancing/peak-ewma.js';
import { assertBinomial, binomialTolerance, equalEndpoints, type TestEndpoint } from './helpers.js';

/**
 * Runs `n` requests through the default policy with up to `concurrency` in
 * flight; every endpoint answers in 10 ± 1 ms (seeded), and reports
 * `utilization[i]` (ORCA) with every answer, as a gRPC server does in its
 * trailers. Returns the picks per endpoint.
 */
function run(utilization: readonly (number | undefined)[], n: number, concurrency: number, seed: number): number[] {
  const clock = new ManualClock(0);
  const jitter = new SeededRandom(seed + 1000);
  const eps = equalEndpoints(clock, utilization.length);
  eps.forEach((e, i) => {
    if (utilization[i] !== undefined) e.load.orca = new OrcaState(ORCA_DEFAULTS, clock);
  });
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(seed) });
  lb.update(eps);
  const counts = new Array<number>(eps.length).fill(0);
  const open: { e: TestEndpoint; t: number; i: number; due: number }[] = [];
  for (let k = 0; k < n; k++) {
    // Requests arrive every 10 / concurrency ms; each takes 10 ± 1 ms.
    clock.advance(10 / concurrency);
    for (let x = open.length - 1; x >= 0; x--) {
      const r = open[x]!;
      if (r.due > clock.now()) continue;
      r.e.load.observeRtt(r.t);
      r.e.load.end(r.t, false);
      const u = utilization[r.i];
      if (u !== undefined) r.e.load.orca!.record({ ...newOrcaReport(), applicationUtilization: u, rpsFractional: 100 });
      open.splice(x, 1);
    }
    const e = lb.pick()!;
    const i = eps.indexOf(e);
    counts[i]!++;
    open.push({ e, t: e.load.begin(), i, due: clock.now() + 9 + 2 * jitter.next() });
  }
  return counts;
}

test('peak-ewma with ORCA: of three endpoints with equal latency, the one reporting 0.9 utilization (others 0.3) gets measurably less', () => {
  for (const concurrency of [1, 4]) {
    const n = 12_000;
    const c = run([0.9, 0.3, 0.3], n, concurrency, 7 + concurrency);
    // Without the reports each gets a third, within 4.5 standard deviations (the next test); the busy one gets
    // clearly less: ~30 % one at a time (near-equal draws by 1 / (1 + u)), ~7 % with requests overlapping (latency cost).
    const bound = n / 3 - binomialTolerance(n, 1 / 3);
    assert.ok(c[0]! < bound, `concurrency ${concurrency}: the 0.9 endpoint got ${c[0]} of ${n}, bound ${bound.toFixed(0)} (${c.join('/')})`);
    // ...but is not starved: it keeps getting requests, and so keeps reporting.
    assert.ok(c[0]! > n * 0.02, `concurrency ${concurrency}: the 0.9 endpoint got ${c[0]} (${c.join('/')})`);
    assert.ok(Math.abs(c[1]! - c[2]!) < n * 0.06, `the two 0.3 endpoints share evenly: ${c.join('/')}`);
  }
});

test('peak-ewma with ORCA: equal reports keep the near-equal fairness', () => {
  const n = 12_000;
  const c = run([0.5, 0.5, 0.5], n, 4, 21);
  for (let i = 0; i < 3; i++) assertBinomial(c[i]!, n, 1 / 3, `ep-${i} (${c.join('/')})`);
});

test('peak-ewma with ORCA: an endpoint without reports is compared on latency alone', () => {
  const n = 12_000;
  // ep-0 reports 0.9 but ep-1 and ep-2 report nothing: no comparison involving ep-0 uses its report.
  const c = run([0.9, undefined, undefined], n, 4, 33);
  for (let i = 0; i < 3; i++) assertBinomial(c[i]!, n, 1 / 3, `ep-${i} (${c.join('/')})`);
});
